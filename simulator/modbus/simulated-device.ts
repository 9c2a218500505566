/**
 * Simulated Modbus TCP devices on one loopback port each, served by `modbus-serial`'s ServerTCP:
 *
 * UPS ('ups') — the campus reference register map of device-profiles/profiles/modbus/generic-modbus-ups.yaml:
 *   holding 0..3    "UPS-3KVA" (ASCII, 2 chars per register)      — what the profile matches on
 *   holding 16..23  vendor text "CampusSim"                       holding 24..31 model "C3KS-RT"
 *   holding 32..39  serial text                                   holding 40     firmware 0x0201 (2.1)
 *   input 0 input voltage ×0.1 V   input 1 output voltage ×0.1 V   input 2 battery %   input 3 load %
 *   input 4 battery temperature ×0.1 °C (int16)
 *   input 5 status bits: bit 0 on battery, 1 battery low, 2 bypass, 3 fault
 *   input 6..7  remaining runtime s (uint32, ABCD)   input 8..9 output frequency Hz (float32, ABCD)
 *   discrete 0..3 the same four status bits
 *   FC43/14 Read Device Identification: vendor, product code, revision, product name, model name
 *
 * Temperature/humidity sensor ('th-sensor') — the Renke RS-WS map of renke-th-sensor.yaml:
 *   holding 0 humidity ×10 %RH, holding 1 temperature ×10 °C (int16); the same two values in
 *   input 0 and 1 (many such transmitters answer both FC3 and FC4). No FC43 (Illegal Function).
 *
 * Anything outside the map answers exception 2 (Illegal Data Address), as real devices do; a
 * request for another unit id gets no answer. Faults on purpose:
 *   exception  — identification registers (UPS holding, sensor holding) and one measurement
 *                (UPS input 4, sensor input 1) answer exception 2, and FC43 is not offered
 *   timeout    — accepts the connection and never answers anything
 *   on-battery — UPS only: mains lost, status bit 0 set, input voltage 0, battery draining
 */
import * as net from 'node:net';
import ModbusRTU from 'modbus-serial';
import type { IServiceVector } from 'modbus-serial';

export type ModbusDeviceKind = 'ups' | 'th-sensor';
export type ModbusDeviceFault = 'exception' | 'timeout' | 'on-battery';

export interface SimulatedModbusOptions {
  /** loopback only: 127.x.x.x or ::1 */
  host: string;
  /** 0: a free port */
  port: number;
  /** 1..247 */
  unitId: number;
  kind: ModbusDeviceKind;
  fault?: ModbusDeviceFault;
  serial?: string;
  /** sensor: starting values (default 23.6 °C, 55.3 %RH) */
  temperatureC?: number;
  humidityPercent?: number;
}

/** Live values; tests change them between polls. Engineering units (V, %, °C). */
export interface UpsState {
  inputVoltage: number;
  outputVoltage: number;
  batteryPercent: number;
  loadPercent: number;
  batteryTemperatureC: number;
  onBattery: boolean;
  batteryLow: boolean;
  onBypass: boolean;
  fault: boolean;
  runtimeSec: number;
  outputFrequencyHz: number;
}
export interface ThSensorState {
  temperatureC: number;
  humidityPercent: number;
}

export interface SimulatedModbusDevice {
  kind: ModbusDeviceKind;
  host: string;
  port: number;
  unitId: number;
  state: UpsState | ThSensorState;
  /** requests received, by function code (for tests) */
  requests: Map<number, number>;
  stop(): Promise<void>;
}

export const UPS_IDENTITY = { tag: 'UPS-3KVA', vendor: 'CampusSim', model: 'C3KS-RT', firmware: 0x0201, productCode: 'C3KS', productName: 'CampusSim Online UPS 3kVA' } as const;

const illegalAddress = (): { modbusErrorCode: number; msg: string } => ({ modbusErrorCode: 2, msg: 'Illegal data address' });
const illegalFunction = (): { modbusErrorCode: number; msg: string } => ({ modbusErrorCode: 1, msg: 'Illegal function' });

function assertLoopback(host: string): void {
  const ok = (net.isIPv4(host) && host.startsWith('127.')) || host === '::1';
  if (!ok) throw new Error(`simulated Modbus devices listen on loopback only (127.0.0.0/8 or ::1), not ${host}`);
}

function text(s: string, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(((s.charCodeAt(2 * i) || 0) << 8) | (s.charCodeAt(2 * i + 1) || 0));
  return out;
}
const u16 = (n: number): number => Math.round(n) & 0xffff;
function words32(n: number, float: boolean): [number, number] {
  const b = Buffer.alloc(4);
  if (float) b.writeFloatBE(n);
  else b.writeUInt32BE(Math.max(0, Math.min(0xffff_ffff, Math.round(n))));
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

export async function startSimulatedModbusDevice(opts: SimulatedModbusOptions): Promise<SimulatedModbusDevice> {
  assertLoopback(opts.host);
  if (!Number.isInteger(opts.unitId) || opts.unitId < 1 || opts.unitId > 247) throw new Error(`unitId must be 1..247, got ${opts.unitId}`);
  if (opts.fault === 'on-battery' && opts.kind !== 'ups') throw new Error('the on-battery fault is for UPS only');
  const fault = opts.fault;
  const ups = opts.kind === 'ups';
  const serial = opts.serial ?? (ups ? 'CS3K2403001' : 'RS-WS-0017');

  const upsState: UpsState = {
    inputVoltage: 221.4,
    outputVoltage: 220,
    batteryPercent: 100,
    loadPercent: 35,
    batteryTemperatureC: 25.3,
    onBattery: false,
    batteryLow: false,
    onBypass: false,
    fault: false,
    runtimeSec: 2400,
    outputFrequencyHz: 50,
  };
  if (fault === 'on-battery') Object.assign(upsState, { inputVoltage: 0, onBattery: true, batteryPercent: 87, runtimeSec: 1260 });
  const thState: ThSensorState = { temperatureC: opts.temperatureC ?? 23.6, humidityPercent: opts.humidityPercent ?? 55.3 };
  const state = ups ? upsState : thState;
  const requests = new Map<number, number>();
  const count = (fc: number): void => void requests.set(fc, (requests.get(fc) ?? 0) + 1);

  const statusBits = (): number => (upsState.onBattery ? 1 : 0) | (upsState.batteryLow ? 2 : 0) | (upsState.onBypass ? 4 : 0) | (upsState.fault ? 8 : 0);

  /** One register, or an error to answer with. */
  const holding = (addr: number): number | Error => {
    if (ups) {
      if (fault === 'exception' && addr < 64) return illegalAddress() as unknown as Error;
      if (addr <= 3) return text(UPS_IDENTITY.tag, 4)[addr]!;
      if (addr >= 16 && addr <= 23) return text(UPS_IDENTITY.vendor, 8)[addr - 16]!;
      if (addr >= 24 && addr <= 31) return text(UPS_IDENTITY.model, 8)[addr - 24]!;
      if (addr >= 32 && addr <= 39) return text(serial, 8)[addr - 32]!;
      if (addr === 40) return UPS_IDENTITY.firmware;
      if (addr < 64) return 0; // reserved, reads as zero
      return illegalAddress() as unknown as Error;
    }
    if (fault === 'exception') return illegalAddress() as unknown as Error;
    return sensorRegister(addr);
  };
  const sensorRegister = (addr: number): number | Error => {
    if (addr === 0) return u16(thState.humidityPercent * 10);
    if (addr === 1) return u16(thState.temperatureC * 10);
    return illegalAddress() as unknown as Error;
  };
  const input = (addr: number): number | Error => {
    if (!ups) {
      if (fault === 'exception' && addr === 1) return illegalAddress() as unknown as Error;
      return sensorRegister(addr);
    }
    if (fault === 'exception' && addr === 4) return illegalAddress() as unknown as Error;
    const runtime = words32(upsState.runtimeSec, false);
    const freq = words32(upsState.outputFrequencyHz, true);
    const map = [
      u16(upsState.inputVoltage * 10),
      u16(upsState.outputVoltage * 10),
      u16(upsState.batteryPercent),
      u16(upsState.loadPercent),
      u16(upsState.batteryTemperatureC * 10),
      statusBits(),
      runtime[0],
      runtime[1],
      freq[0],
      freq[1],
    ];
    return addr < map.length ? map[addr]! : (illegalAddress() as unknown as Error);
  };
  const discrete = (addr: number): boolean | Error => (ups && addr <= 3 ? ((statusBits() >> addr) & 1) === 1 : (illegalAddress() as unknown as Error));

  // modbus-serial answers an error object carrying modbusErrorCode with that exception code;
  // a callback never called means no answer at all (the timeout fault)
  type Cb<T> = (err: Error | null, value: T) => void;
  const one =
    <T>(fc: number, read: (addr: number) => T | Error) =>
    (addr: number, _unit: number, cb: Cb<T>): void => {
      count(fc);
      if (fault === 'timeout') return;
      const v = read(addr);
      if (typeof v === 'object' && v !== null) cb(v as Error, undefined as T);
      else cb(null, v as T);
    };
  const many =
    (fc: number, read: (addr: number) => number | Error) =>
    (addr: number, length: number, _unit: number, cb: Cb<number[]>): void => {
      count(fc);
      if (fault === 'timeout') return;
      const values: number[] = [];
      for (let i = 0; i < length; i++) {
        const v = read(addr + i);
        if (typeof v !== 'number') return cb(v, []);
        values.push(v);
      }
      cb(null, values);
    };
  const vector = {
    getHoldingRegister: one(3, holding),
    getMultipleHoldingRegisters: many(3, holding),
    getInputRegister: one(4, input),
    getMultipleInputRegisters: many(4, input),
    getDiscreteInput: one(2, discrete),
    getCoil: one(1, () => illegalAddress() as unknown as Error),
    readDeviceIdentification: (): Promise<Record<number, string>> => {
      count(43);
      if (fault === 'timeout') return new Promise(() => {});
      if (!ups || fault === 'exception') return Promise.reject(illegalFunction());
      return Promise.resolve({ 0: UPS_IDENTITY.vendor, 1: UPS_IDENTITY.productCode, 2: '2.1', 4: UPS_IDENTITY.productName, 5: UPS_IDENTITY.model });
    },
    setRegister: (_addr: number, _value: number, _unit: number, cb: (err: Error | null) => void): void => {
      count(6);
      if (fault === 'timeout') return;
      cb(illegalFunction() as unknown as Error); // read-only device
    },
  };

  // ServerTCP turns port 0 into 502 (`options.port || 502`); the string '0' reaches net.listen as
  // "any free port", and the bound port is read back from its net.Server.
  const server = new ModbusRTU.ServerTCP(vector as unknown as IServiceVector, { host: opts.host, port: (opts.port === 0 ? '0' : opts.port) as number, unitID: opts.unitId });
  const inner = (server as unknown as { _server?: net.Server })._server;
  if (!inner) throw new Error('modbus-serial ServerTCP has no _server: the simulator needs updating for this version');
  await new Promise<void>((resolve, reject) => {
    server.once('initialized', () => resolve());
    server.once('serverError', (err: Error | null) => reject(err ?? new Error('Modbus server failed to start')));
  });
  // a client that resets its connection must not take the simulator down
  server.on('socketError', () => {});
  server.on('error', () => {});
  const port = (inner.address() as net.AddressInfo).port;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { kind: opts.kind, host: opts.host, port, unitId: opts.unitId, state, requests, stop };
}
