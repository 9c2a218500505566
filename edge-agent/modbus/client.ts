/**
 * A Modbus TCP connection through `modbus-serial`, TCP only (the serial side, and
 * `SerialPort.list()`, are never touched). Failures come out as ModbusError with a kind a person
 * can act on: the device's exception code by number and name, a timeout, a refused connection.
 */
import ModbusSerial from 'modbus-serial';

// modbus-serial is CommonJS: at run time the default import is the client class itself, and its
// `default` property points back at it; the typings see the module object, so go through `.default`.
const ModbusRTU = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusRTU>;
import type { ModbusTable } from './registers.ts';

/** Exception codes, Modbus Application Protocol V1.1b3 §7. */
export const EXCEPTION_NAMES: Record<number, string> = {
  1: 'Illegal Function',
  2: 'Illegal Data Address',
  3: 'Illegal Data Value',
  4: 'Server Device Failure',
  5: 'Acknowledge',
  6: 'Server Device Busy',
  8: 'Memory Parity Error',
  10: 'Gateway Path Unavailable',
  11: 'Gateway Target Device Failed to Respond',
};

export type ModbusErrorKind = 'exception' | 'timeout' | 'refused' | 'io' | 'invalid';

export class ModbusError extends Error {
  override name = 'ModbusError';
  constructor(
    readonly kind: ModbusErrorKind,
    message: string,
    readonly exceptionCode?: number,
  ) {
    super(message);
  }
}

export function exceptionText(code: number): string {
  return `Modbus exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown exception code'})`;
}

function classify(err: unknown, what: string, timeoutMs: number): ModbusError {
  if (err instanceof ModbusError) return err;
  const e = err as { modbusCode?: unknown; errno?: unknown; code?: unknown; message?: unknown };
  if (typeof e?.modbusCode === 'number') return new ModbusError('exception', `${what}: ${exceptionText(e.modbusCode)}`, e.modbusCode);
  if (e?.errno === 'ETIMEDOUT' || e?.code === 'ETIMEDOUT' || e?.message === 'Timed out') return new ModbusError('timeout', `${what}: no answer within ${timeoutMs} ms`);
  // modbus-serial's own "Port Not Open" also carries errno ECONNREFUSED: it means the device hung up
  if (e?.message === 'Port Not Open') return new ModbusError('io', `${what}: the device closed the connection`);
  if (e?.code === 'ECONNREFUSED') return new ModbusError('refused', `${what}: connection refused`);
  return new ModbusError('io', `${what}: ${typeof e?.message === 'string' ? e.message : String(err)}`);
}

/** FC43/14 object ids → names (Read Device Identification, regular objects). */
export const DEVICE_ID_OBJECTS: Record<number, string> = {
  0: 'vendorName',
  1: 'productCode',
  2: 'revision',
  3: 'vendorUrl',
  4: 'productName',
  5: 'modelName',
  6: 'userApplicationName',
};

export class ModbusConnection {
  private constructor(
    private readonly client: ModbusRTU,
    readonly host: string,
    readonly port: number,
    readonly timeoutMs: number,
  ) {}

  /** Connects within timeoutMs; throws ModbusError (refused, timeout, io). */
  static async open(host: string, port: number, timeoutMs: number): Promise<ModbusConnection> {
    const client = new ModbusRTU();
    // the client re-emits socket errors; the pending request reports them, keep them off the process
    client.on('error', () => {});
    client.setTimeout(timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connectTCP(host, { port }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ModbusError('timeout', `connect: no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      destroy(client);
      throw classify(err, 'connect', timeoutMs);
    } finally {
      clearTimeout(timer);
    }
    return new ModbusConnection(client, host, port, timeoutMs);
  }

  /**
   * Reads `count` registers (or coils/discrete inputs, as 0/1) from one unit. The answer is
   * checked: exactly `count` values, each a 16-bit word (or a bit).
   */
  async read(unitId: number, table: ModbusTable, address: number, count: number): Promise<number[]> {
    const what = `unit ${unitId} ${table} ${address}${count > 1 ? `..${address + count - 1}` : ''}`;
    this.client.setID(unitId);
    let data: unknown;
    try {
      switch (table) {
        case 'holding':
          data = (await this.client.readHoldingRegisters(address, count)).data;
          break;
        case 'input':
          data = (await this.client.readInputRegisters(address, count)).data;
          break;
        case 'coil':
          data = (await this.client.readCoils(address, count)).data;
          break;
        case 'discrete':
          data = (await this.client.readDiscreteInputs(address, count)).data;
          break;
      }
    } catch (err) {
      throw classify(err, what, this.timeoutMs);
    }
    if (!Array.isArray(data) || data.length < count) throw new ModbusError('invalid', `${what}: answer holds ${Array.isArray(data) ? data.length : 'no'} values, asked for ${count}`);
    const values = data.slice(0, count).map((v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    if (!values.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff)) throw new ModbusError('invalid', `${what}: answer holds values that are not 16-bit words`);
    return values as number[];
  }

  /** FC43/14 Read Device Identification (regular objects 0..6); names → printable text. */
  async deviceIdentification(unitId: number): Promise<Record<string, string>> {
    this.client.setID(unitId);
    let res;
    try {
      res = await this.client.readDeviceIdentification(2, 0);
    } catch (err) {
      throw classify(err, `unit ${unitId} read device identification (FC43/14)`, this.timeoutMs);
    }
    const out: Record<string, string> = {};
    const data = (res?.data ?? {}) as unknown as Record<string, unknown>;
    for (const [id, name] of Object.entries(DEVICE_ID_OBJECTS)) {
      const v = data[id];
      if (typeof v !== 'string') continue;
      // eslint-disable-next-line no-control-regex
      const text = v.replace(/[\u0000-\u001f\u007f-\uffff]/g, '').trim().slice(0, 128);
      if (text) out[name] = text;
    }
    return out;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.client.close(() => resolve());
      } catch {
        destroy(this.client);
        resolve();
      }
      // a half-open socket may never report close: do not wait on it
      setTimeout(() => {
        destroy(this.client);
        resolve();
      }, 200).unref();
    });
  }
}

function destroy(client: ModbusRTU): void {
  try {
    client.destroy(() => {});
  } catch {
    // nothing left to destroy
  }
}
