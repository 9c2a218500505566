import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { Value } from '@sinclair/typebox/value';
import { DiscoveredDevice, Reading } from '../../protocol/index.ts';
import { startSimulatedModbusDevice, UPS_IDENTITY, type SimulatedModbusDevice, type UpsState } from '../../simulator/modbus/simulated-device.ts';
import { isLoopbackHost } from '../http/targets.ts';
import { pollModbusDevice, type ModbusPoint } from './poller.ts';
import { modbusResultToDiscovered, probeModbus, type IdentRead } from './probe.ts';

/** The campus reference UPS map (device-profiles/profiles/modbus/generic-modbus-ups.yaml) plus the simulator's extras. */
const UPS_POINTS: ModbusPoint[] = [
  { table: 'input', address: 0, type: 'uint16', scale: 0.1, max: 500, measurement: 'ups', metric: 'inputVoltage' },
  { table: 'input', address: 1, type: 'uint16', scale: 0.1, max: 500, measurement: 'ups', metric: 'outputVoltage' },
  { table: 'input', address: 2, type: 'uint16', max: 100, measurement: 'ups', metric: 'batteryPercent' },
  { table: 'input', address: 3, type: 'uint16', max: 200, measurement: 'ups', metric: 'loadPercent' },
  { table: 'input', address: 4, type: 'int16', scale: 0.1, min: -40, max: 120, measurement: 'ups', metric: 'batteryTemperature' },
  { table: 'input', address: 5, type: 'bool', bit: 0, measurement: 'ups', metric: 'onBattery' },
  { table: 'input', address: 5, type: 'bool', bit: 1, measurement: 'ups', metric: 'batteryLow' },
  { table: 'input', address: 6, type: 'uint32', measurement: 'ups', metric: 'runtimeSec' },
  { table: 'input', address: 8, type: 'float32', measurement: 'ups', metric: 'outputFrequency' },
  { table: 'discrete', address: 0, type: 'bool', measurement: 'upsAlarm', metric: 'onBattery' },
  { table: 'holding', address: 40, type: 'uint16', measurement: 'upsInfo', metric: 'firmwareCode' },
];

const SENSOR_POINTS: ModbusPoint[] = [
  { table: 'input', address: 0, type: 'uint16', scale: 0.1, max: 100, measurement: 'env', metric: 'humidity' },
  { table: 'input', address: 1, type: 'int16', scale: 0.1, min: -40, max: 120, measurement: 'env', metric: 'temperature' },
];

/** What the UPS and sensor profiles name for identification, plus the UPS vendor/model text. */
const IDENTIFY: IdentRead[] = [
  { table: 'holding', address: 0, type: 'string', count: 4 },
  { table: 'holding', address: 16, type: 'string', count: 8, as: 'vendor' },
  { table: 'holding', address: 24, type: 'string', count: 8, as: 'model' },
  { table: 'holding', address: 32, type: 'string', count: 8, as: 'serial' },
];

const metricsOf = (readings: Reading[], measurement: string): Reading['metrics'] | undefined => readings.find((r) => r.measurement === measurement)?.metrics;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('Modbus poller against the simulated devices', () => {
  const devices: SimulatedModbusDevice[] = [];
  const start = async (o: Omit<Parameters<typeof startSimulatedModbusDevice>[0], 'host' | 'port'>): Promise<SimulatedModbusDevice> => {
    const d = await startSimulatedModbusDevice({ host: '127.0.0.1', port: 0, ...o });
    devices.push(d);
    return d;
  };
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.stop()));
  });

  it('reads a healthy UPS: scaled voltages, signed temperature, status bits, 32-bit values, discrete inputs', async () => {
    const ups = await start({ unitId: 1, kind: 'ups' });
    const r = await pollModbusDevice({ id: 'ups-1', host: '127.0.0.1', port: ups.port, unitId: 1, points: UPS_POINTS }, { isAllowed: isLoopbackHost });
    expect(r.errors).toEqual([]);
    expect(r.skipped).toBe(0);
    expect(r.reachable).toBe(true);
    for (const reading of r.readings) expect(Value.Check(Reading, reading)).toBe(true);
    expect(metricsOf(r.readings, 'device')).toEqual({ reachable: true });
    expect(metricsOf(r.readings, 'ups')).toEqual({
      inputVoltage: 221.4,
      outputVoltage: 220,
      batteryPercent: 100,
      loadPercent: 35,
      batteryTemperature: 25.3,
      onBattery: false,
      batteryLow: false,
      runtimeSec: 2400,
      outputFrequency: 50,
    });
    expect(metricsOf(r.readings, 'upsAlarm')).toEqual({ onBattery: false });
    expect(metricsOf(r.readings, 'upsInfo')).toEqual({ firmwareCode: UPS_IDENTITY.firmware });
    // the input registers 0..9 came in one request, not nine
    expect(ups.requests.get(4)).toBe(1);

    // mains lost while we watch: the next poll shows it
    Object.assign(ups.state as UpsState, { onBattery: true, inputVoltage: 0, batteryPercent: 64 });
    const again = await pollModbusDevice({ id: 'ups-1', host: '127.0.0.1', port: ups.port, unitId: 1, points: UPS_POINTS });
    expect(metricsOf(again.readings, 'ups')).toMatchObject({ onBattery: true, inputVoltage: 0, batteryPercent: 64 });
    expect(metricsOf(again.readings, 'upsAlarm')).toEqual({ onBattery: true });
  });

  it('shows the on-battery UPS in its readings', async () => {
    const ups = await start({ unitId: 3, kind: 'ups', fault: 'on-battery' });
    const r = await pollModbusDevice({ id: 'ups-2', host: '127.0.0.1', port: ups.port, unitId: 3, points: UPS_POINTS });
    expect(r.errors).toEqual([]);
    expect(metricsOf(r.readings, 'ups')).toMatchObject({ onBattery: true, inputVoltage: 0, outputVoltage: 220, batteryPercent: 87, runtimeSec: 1260 });
  });

  it('scales the sensor values, negative temperatures included', async () => {
    const warm = await start({ unitId: 1, kind: 'th-sensor' });
    const cold = await start({ unitId: 7, kind: 'th-sensor', temperatureC: -5.5, humidityPercent: 81.2 });
    const a = await pollModbusDevice({ id: 'th-1', host: '127.0.0.1', port: warm.port, unitId: 1, points: SENSOR_POINTS });
    const b = await pollModbusDevice({ id: 'th-2', host: '127.0.0.1', port: cold.port, unitId: 7, points: SENSOR_POINTS });
    expect(metricsOf(a.readings, 'env')).toEqual({ humidity: 55.3, temperature: 23.6 });
    expect(metricsOf(b.readings, 'env')).toEqual({ humidity: 81.2, temperature: -5.5 });
    // the profile reads the same values from the holding table
    const holding = SENSOR_POINTS.map((p) => ({ ...p, table: 'holding' as const }));
    const c = await pollModbusDevice({ id: 'th-2', host: '127.0.0.1', port: cold.port, unitId: 7, points: holding });
    expect(metricsOf(c.readings, 'env')).toEqual({ humidity: 81.2, temperature: -5.5 });
  });

  it('skips and counts a register answered with an exception, keeping the rest of its block', async () => {
    const ups = await start({ unitId: 1, kind: 'ups', fault: 'exception' });
    const r = await pollModbusDevice({ id: 'ups-x', host: '127.0.0.1', port: ups.port, unitId: 1, points: UPS_POINTS });
    expect(r.reachable).toBe(true);
    // battery temperature (input 4) and the firmware code (holding 40) are refused
    expect(r.skipped).toBe(2);
    expect(r.errors.join('\n')).toMatch(/batteryTemperature: unit 1 input 4: Modbus exception 2 \(Illegal Data Address\)/);
    expect(r.errors.join('\n')).toMatch(/firmwareCode: .*Modbus exception 2 \(Illegal Data Address\)/);
    const m = metricsOf(r.readings, 'ups')!;
    expect(m).not.toHaveProperty('batteryTemperature');
    expect(m).toMatchObject({ inputVoltage: 221.4, batteryPercent: 100, onBattery: false, outputFrequency: 50 });
  });

  it('skips values outside their plausibility bounds', async () => {
    const ups = await start({ unitId: 1, kind: 'ups' });
    (ups.state as UpsState).loadPercent = 250;
    const r = await pollModbusDevice({ id: 'ups-b', host: '127.0.0.1', port: ups.port, unitId: 1, points: UPS_POINTS });
    expect(r.skipped).toBe(1);
    expect(r.errors).toEqual(['input 3 (loadPercent): 250 above plausible maximum 200']);
    expect(metricsOf(r.readings, 'ups')).not.toHaveProperty('loadPercent');
  });

  it('converts as every profile value is: enum on the raw value (sent as written), else scale/offset, then bounds on what is sent', async () => {
    const ups = await start({ unitId: 1, kind: 'ups' }); // raw: input 0 = 2214, input 3 = 35, input 5 bit 0 = false
    const conv = (p: Omit<ModbusPoint, 'measurement'>): ModbusPoint => ({ ...p, measurement: 'conv' });
    const points: ModbusPoint[] = [
      // the enum is keyed by the register's raw value, whatever the scale says
      conv({ table: 'input', address: 3, type: 'uint16', scale: 0.1, enum: { '35': 'normal', '3.5': 'scaled-key' }, metric: 'enumOnRaw' }),
      // a listed value is sent as the profile wrote it, not scaled
      conv({ table: 'input', address: 3, type: 'uint16', scale: 10, enum: { '35': 7 }, metric: 'enumAsWritten' }),
      conv({ table: 'input', address: 5, type: 'bool', bit: 0, enum: { false: 'mains', true: 'battery' }, metric: 'boolEnum' }),
      // bounds hold for the scaled value (221.4 V), not the raw word (2214)
      conv({ table: 'input', address: 0, type: 'uint16', scale: 0.1, offset: -0.4, max: 250, metric: 'scaledInBounds' }),
      conv({ table: 'input', address: 0, type: 'uint16', scale: 0.1, min: 225, metric: 'scaledBelowMin' }),
      // and for a value an enum gave
      conv({ table: 'input', address: 3, type: 'uint16', enum: { '35': 300 }, max: 200, metric: 'enumAboveMax' }),
      conv({ table: 'input', address: 3, type: 'uint16', enum: { '1': 'one' }, metric: 'notListed' }),
    ];
    const r = await pollModbusDevice({ id: 'ups-c', host: '127.0.0.1', port: ups.port, unitId: 1, points });
    expect(metricsOf(r.readings, 'conv')).toEqual({ enumOnRaw: 'normal', enumAsWritten: 7, boolEnum: 'mains', scaledInBounds: 221 });
    expect(r.skipped).toBe(3);
    expect(r.errors).toEqual([
      'input 0 (scaledBelowMin): 221.4 below plausible minimum 225',
      'input 3 (enumAboveMax): 300 above plausible maximum 200',
      "input 3 (notListed): value 35 is not in the profile's enum (1)",
    ]);
  });

  it('reports a silent device and a closed port as unreachable instead of failing', async () => {
    const hung = await start({ unitId: 1, kind: 'ups', fault: 'timeout' });
    const r = await pollModbusDevice({ id: 'hung', host: '127.0.0.1', port: hung.port, unitId: 1, points: UPS_POINTS, timeoutMs: 300 });
    expect(r.reachable).toBe(false);
    expect(r.readings).toEqual([{ device: 'hung', ts: expect.any(Number), measurement: 'device', metrics: { reachable: false } }]);
    expect(r.errors).toEqual([expect.stringMatching(/no answer within 300 ms/)]);
    expect(r.skipped).toBe(UPS_POINTS.length);

    const port = await freePort();
    const gone = await pollModbusDevice({ id: 'gone', host: '127.0.0.1', port, unitId: 1, points: UPS_POINTS, timeoutMs: 300 });
    expect(gone.reachable).toBe(false);
    expect(gone.errors).toEqual(['connect: connection refused']);
  });

  it('sends nothing to a host the allow-list refuses', async () => {
    let connections = 0;
    const s = net.createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as net.AddressInfo).port;
    const r = await pollModbusDevice({ id: 'x', host: '127.0.0.1', port, unitId: 1, points: UPS_POINTS }, { isAllowed: () => false });
    expect(r.reachable).toBe(false);
    expect(r.errors[0]).toMatch(/not allowed/);
    await new Promise<void>((resolve) => s.close(() => resolve()));
    expect(connections).toBe(0);
  });
});

describe('Modbus probe against a simulated network closet', () => {
  let ok: SimulatedModbusDevice;
  let onBattery: SimulatedModbusDevice;
  let sensor: SimulatedModbusDevice;
  let broken: SimulatedModbusDevice;
  let hung: SimulatedModbusDevice;
  let closedPort: number;
  beforeAll(async () => {
    ok = await startSimulatedModbusDevice({ host: '127.0.0.1', port: 0, unitId: 1, kind: 'ups' });
    onBattery = await startSimulatedModbusDevice({ host: '127.0.0.1', port: 0, unitId: 1, kind: 'ups', fault: 'on-battery', serial: 'CS3K2403099' });
    sensor = await startSimulatedModbusDevice({ host: '127.0.0.1', port: 0, unitId: 5, kind: 'th-sensor' });
    broken = await startSimulatedModbusDevice({ host: '127.0.0.1', port: 0, unitId: 1, kind: 'ups', fault: 'exception' });
    hung = await startSimulatedModbusDevice({ host: '127.0.0.1', port: 0, unitId: 1, kind: 'ups', fault: 'timeout' });
    closedPort = await freePort();
  });
  afterAll(async () => {
    await Promise.all([ok, onBattery, sensor, broken, hung].filter(Boolean).map((d) => d.stop()));
  });

  it('fingerprints every device that answers and gives the others a clear error each', async () => {
    const report = await probeModbus({
      targets: [
        { hosts: ['127.0.0.1'], ports: [ok.port, onBattery.port, broken.port, hung.port, closedPort], unitIds: [1] },
        // the sensor answers unit 5 only: unit 6 at the same address stays silent
        { hosts: ['127.0.0.1'], ports: [sensor.port], unitIds: [5, 6] },
      ],
      isAllowed: isLoopbackHost,
      identify: [...IDENTIFY, { table: 'holding', address: 0, type: 'uint16' }, { table: 'holding', address: 1, type: 'int16' }],
      timeoutMs: 300,
    });
    expect(report.scanned).toBe(6);
    expect(report.absent).toBe(1); // the closed port
    const at = (port: number, unitId = 1) => report.results.find((r) => r.port === port && r.unitId === unitId);

    const a = at(ok.port)!;
    expect(a.status).toBe('found');
    if (a.status !== 'found') throw new Error('unreachable');
    expect(a.fingerprint).toMatchObject({ unitId: 1, vendor: 'CampusSim', model: 'C3KS-RT', serial: 'CS3K2403001' });
    expect(a.fingerprint.deviceId).toEqual({ vendorName: 'CampusSim', productCode: 'C3KS', revision: '2.1', productName: 'CampusSim Online UPS 3kVA', modelName: 'C3KS-RT' });
    expect(a.fingerprint.registers.holding?.[0]).toBe(0x5550); // "UP"
    expect(a.fingerprint.errors).toEqual([]);
    const d = modbusResultToDiscovered(a, 'ups', 'generic-modbus-ups')!;
    expect(Value.Check(DiscoveredDevice, d)).toBe(true);
    expect(d).toMatchObject({ kind: 'ups', protocol: 'modbus', address: `127.0.0.1:${ok.port}`, attributes: { unitId: 1, vendor: 'CampusSim' } });

    const b = at(onBattery.port)!;
    expect(b.status === 'found' && b.fingerprint.serial).toBe('CS3K2403099');

    const s = at(sensor.port, 5)!;
    expect(s.status).toBe('found');
    if (s.status !== 'found') throw new Error('unreachable');
    // the sensor's map is two holding registers: the string reads are refused, the values come through
    expect(s.fingerprint.registers.holding).toEqual({ 0: 553, 1: 236 });
    expect(s.fingerprint.deviceId).toBeUndefined();
    expect(s.fingerprint.errors.every((e) => /Modbus exception 2 \(Illegal Data Address\)/.test(e))).toBe(true);

    expect(at(sensor.port, 6)).toMatchObject({ status: 'error', reason: 'timeout', error: expect.stringMatching(/unit 6 .*no answer within 300 ms/) });
    expect(at(broken.port)).toMatchObject({ status: 'error', reason: 'exception', exceptionCode: 2, error: expect.stringMatching(/Modbus exception 2 \(Illegal Data Address\)/) });
    expect(at(hung.port)).toMatchObject({ status: 'error', reason: 'timeout', error: expect.stringMatching(/no answer within 300 ms/) });
    expect(at(closedPort)).toBeUndefined();
  });

  it('gives a port that hangs up, or answers garbage, an error per unit without stopping the scan', async () => {
    const hangUp = net.createServer((sock) => sock.on('data', () => sock.destroy()));
    const garbage = net.createServer((sock) => sock.on('data', () => sock.write('HTTP/1.0 400 Bad Request\r\n\r\n')));
    for (const s of [hangUp, garbage]) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;
    try {
      const report = await probeModbus({
        targets: [{ hosts: ['127.0.0.1'], ports: [portOf(hangUp), portOf(garbage), ok.port], unitIds: [1, 2] }],
        isAllowed: isLoopbackHost,
        identify: IDENTIFY,
        timeoutMs: 300,
      });
      const of = (port: number) => report.results.filter((r) => r.port === port).map((r) => (r.status === 'error' ? r.reason : r.status));
      expect(of(portOf(hangUp))).toEqual(['timeout', 'io']);
      expect(of(portOf(garbage))).toEqual(['timeout', 'timeout']);
      expect(of(ok.port)).toEqual(['found', 'timeout']);
      expect(report.results.find((r) => r.port === portOf(hangUp) && r.unitId === 2)).toMatchObject({ error: expect.stringMatching(/the device closed the connection/) });
    } finally {
      for (const s of [hangUp, garbage]) await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  it('walks an address range on the loopback, finding the device among empty addresses', async () => {
    const report = await probeModbus({ targets: [{ hosts: ['127.0.0.1-3'], ports: [ok.port], unitIds: [1] }], isAllowed: isLoopbackHost, identify: IDENTIFY, timeoutMs: 300 });
    expect(report.scanned).toBe(3);
    expect(report.results.map((r) => [r.host, r.status])).toEqual([['127.0.0.1', 'found']]);
    expect(report.absent).toBe(2);
  });

  it('refuses non-loopback ranges in tests: every target is refused and nothing is sent', async () => {
    const report = await probeModbus({ targets: [{ hosts: ['192.0.2.0/30', '10.1.2.3'], ports: [502], unitIds: [1, 2] }], isAllowed: isLoopbackHost, identify: IDENTIFY });
    expect(report.results).toHaveLength(6);
    expect(report.results.every((r) => r.status === 'not-allowed' && /nothing was sent/.test(r.error))).toBe(true);
  });

  it('refuses bad configuration before sending anything', async () => {
    await expect(probeModbus({ targets: [{ hosts: ['127.0.0.1'], ports: [502], unitIds: [300] }], isAllowed: isLoopbackHost, identify: IDENTIFY })).rejects.toThrow(/unit id 300/);
    await expect(probeModbus({ targets: [{ hosts: ['10.0.0.0/8'], ports: [502], unitIds: [1] }], isAllowed: isLoopbackHost, identify: IDENTIFY })).rejects.toThrow(/limit/);
    await expect(probeModbus({ targets: [], isAllowed: isLoopbackHost, identify: [{ address: 0, type: 'string' }] })).rejects.toThrow(/count/);
  });
});
