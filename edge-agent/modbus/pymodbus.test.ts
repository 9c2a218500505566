/**
 * Interop with a Modbus TCP server nobody here wrote: Debian's python3-pymodbus 3.0
 * (tests/fixtures/modbus/pymodbus_server.py, installed by tests/setup/install-deps.sh).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { Reading } from '../../protocol/index.ts';
import { startPymodbus, type RunningPymodbus } from '../../tests/fixtures/modbus/pymodbus.ts';
import { isLoopbackHost } from '../http/targets.ts';
import { pollModbusDevice, type ModbusPoint } from './poller.ts';
import { probeModbus } from './probe.ts';

const UPS_POINTS: ModbusPoint[] = [
  { table: 'input', address: 0, type: 'uint16', scale: 0.1, max: 500, measurement: 'ups', metric: 'inputVoltage' },
  { table: 'input', address: 1, type: 'uint16', scale: 0.1, max: 500, measurement: 'ups', metric: 'outputVoltage' },
  { table: 'input', address: 2, type: 'uint16', max: 100, measurement: 'ups', metric: 'batteryPercent' },
  { table: 'input', address: 3, type: 'uint16', max: 200, measurement: 'ups', metric: 'loadPercent' },
  { table: 'input', address: 4, type: 'int16', scale: 0.1, min: -40, max: 120, measurement: 'ups', metric: 'batteryTemperature' },
  { table: 'input', address: 5, type: 'bool', bit: 0, measurement: 'ups', metric: 'onBattery' },
  { table: 'input', address: 5, type: 'bool', bit: 3, measurement: 'ups', metric: 'fault' },
  { table: 'input', address: 6, type: 'uint32', measurement: 'ups', metric: 'energyWh' },
  { table: 'input', address: 8, type: 'float32', byteOrder: 'CDAB', measurement: 'ups', metric: 'outputFrequency' },
  { table: 'discrete', address: 0, type: 'bool', measurement: 'upsAlarm', metric: 'onBattery' },
  // past the end of pymodbus's input block: answered with exception 2
  { table: 'input', address: 20, type: 'uint16', measurement: 'ups', metric: 'missing' },
];

describe('Modbus probe and poller against pymodbus (Debian python3-pymodbus)', () => {
  let peer: RunningPymodbus;
  beforeAll(async () => {
    peer = await startPymodbus();
  });
  afterAll(() => peer?.stop());

  it('fingerprints both units by registers and FC43; a unit that is not there times out and the next is still found', async () => {
    const report = await probeModbus({
      // pymodbus 3.0 drops requests for unit ids it does not serve (no exception 11): unit 3 stays silent
      targets: [{ hosts: [peer.host], ports: [peer.port], unitIds: [1, 3, 2] }],
      isAllowed: isLoopbackHost,
      identify: [
        { table: 'holding', address: 0, type: 'string', count: 4 },
        { table: 'holding', address: 0, type: 'uint16' },
        { table: 'holding', address: 1, type: 'int16' },
        { table: 'holding', address: 16, type: 'string', count: 8, as: 'vendor' },
      ],
      timeoutMs: 500,
    });
    expect(report.absent).toBe(0);
    const [ups, missing, sensor] = report.results;

    expect(ups).toMatchObject({ unitId: 1, status: 'found' });
    if (ups?.status !== 'found') throw new Error('unreachable');
    expect(ups.fingerprint.vendor).toBe('PyModbusPeer');
    expect(ups.fingerprint.model).toBe('PMP-UPS-1');
    expect(ups.fingerprint.deviceId).toMatchObject({ vendorName: 'PyModbusPeer', productCode: 'PMP-UPS', revision: '3.0', modelName: 'PMP-UPS-1' });
    expect(ups.fingerprint.registers.holding).toMatchObject({ 0: 0x5550, 1: 0x532d, 2: 0x5059, 3: 0x4d42 }); // "UPS-PYMB"
    expect(ups.fingerprint.errors).toEqual([]);

    // the sensor holds two holding registers: the longer reads are refused with exception 2
    expect(sensor).toMatchObject({ unitId: 2, status: 'found' });
    if (sensor?.status !== 'found') throw new Error('unreachable');
    expect(sensor.fingerprint.registers.holding).toEqual({ 0: 612, 1: 0xff9c });
    expect(sensor.fingerprint.errors.length).toBeGreaterThan(0);
    for (const e of sensor.fingerprint.errors) expect(e).toMatch(/Modbus exception 2 \(Illegal Data Address\)/);

    expect(missing).toMatchObject({ unitId: 3, status: 'error', reason: 'timeout', error: expect.stringMatching(/unit 3 .*no answer within 500 ms/) });
  });

  it('names the exception code when every identification read is refused', async () => {
    const report = await probeModbus({
      targets: [{ hosts: [peer.host], ports: [peer.port], unitIds: [2] }],
      isAllowed: isLoopbackHost,
      identify: [{ table: 'holding', address: 16, type: 'string', count: 8, as: 'vendor' }],
      readDeviceId: false,
    });
    expect(report.results).toEqual([
      expect.objectContaining({ unitId: 2, status: 'error', reason: 'exception', exceptionCode: 2, error: expect.stringMatching(/unit 2 holding 16\.\.23: Modbus exception 2 \(Illegal Data Address\)$/) }),
    ]);
  });

  it('polls the UPS unit: scaled and signed values, 32-bit words in both orders, the on-battery bit, and a refused register skipped', async () => {
    const r = await pollModbusDevice({ id: 'pm-ups', host: peer.host, port: peer.port, unitId: 1, points: UPS_POINTS }, { isAllowed: isLoopbackHost });
    expect(r.reachable).toBe(true);
    for (const reading of r.readings) expect(Value.Check(Reading, reading)).toBe(true);
    expect(r.readings.find((x) => x.measurement === 'ups')?.metrics).toEqual({
      inputVoltage: 230.5,
      outputVoltage: 229.8,
      batteryPercent: 76,
      loadPercent: 41,
      batteryTemperature: -2,
      onBattery: true,
      fault: false,
      energyWh: 100000,
      outputFrequency: 49.75,
    });
    expect(r.readings.find((x) => x.measurement === 'upsAlarm')?.metrics).toEqual({ onBattery: true });
    expect(r.skipped).toBe(1);
    expect(r.errors).toEqual([expect.stringMatching(/^missing: unit 1 input 20: Modbus exception 2 \(Illegal Data Address\)$/)]);
  });

  it('polls the sensor unit from either table', async () => {
    for (const table of ['holding', 'input'] as const) {
      const r = await pollModbusDevice({
        id: 'pm-th',
        host: peer.host,
        port: peer.port,
        unitId: 2,
        points: [
          { table, address: 0, type: 'uint16', scale: 0.1, max: 100, measurement: 'env', metric: 'humidity' },
          { table, address: 1, type: 'int16', scale: 0.1, min: -40, max: 120, measurement: 'env', metric: 'temperature' },
        ],
      });
      expect(r.errors).toEqual([]);
      expect(r.readings.find((x) => x.measurement === 'env')?.metrics).toEqual({ humidity: 61.2, temperature: -10 });
    }
  });
});
