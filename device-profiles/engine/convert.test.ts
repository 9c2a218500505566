/**
 * convert(): the one raw → value step of every protocol (SNMP engine, Modbus and HTTP pollers).
 * A profile author writes enum keys as the device's raw values (MIB enumerations, register codes,
 * JSON texts), and bounds in the units of what is sent.
 */
import { describe, expect, it } from 'vitest';
import { convert } from './decode.ts';

describe('convert', () => {
  it('looks the raw value up in the enum and sends the listed value as written', () => {
    expect(convert({ metric: 'state', scale: 0.1, enum: { '35': 'normal', '3.5': 'scaled-key' } }, 35)).toEqual({ ok: true, value: 'normal' });
    expect(convert({ metric: 'state', scale: 10, offset: 1, enum: { '35': 7 } }, 35)).toEqual({ ok: true, value: 7 });
    expect(convert({ metric: 'on', enum: { true: 1, false: 0 } }, false)).toEqual({ ok: true, value: 0 });
    expect(convert({ metric: 'power', enum: { on: true, standby: false } }, 'standby')).toEqual({ ok: true, value: false });
  });

  it('refuses a raw value the enum does not list, Object.prototype names included', () => {
    expect(convert({ metric: 'adminUp', enum: { '1': true, '2': false } }, 9)).toEqual({ ok: false, error: "adminUp: value 9 is not in the profile's enum (1, 2)" });
    expect(convert({ metric: 'power', enum: { on: true } }, 'constructor')).toEqual({ ok: false, error: `power: value "constructor" is not in the profile's enum (on)` });
    expect(convert({ metric: 'power', enum: { on: true } }, '__proto__', 'GET /s#/power')).toEqual({ ok: false, error: `GET /s#/power: value "__proto__" is not in the profile's enum (on)` });
  });

  it('scales numbers without an enum, then bounds what would be sent', () => {
    expect(convert({ metric: 'v', scale: 0.1 }, 2214)).toEqual({ ok: true, value: 221.4 });
    expect(convert({ metric: 'v', scale: 0.1, offset: -0.4, max: 250 }, 2214)).toEqual({ ok: true, value: 221 });
    expect(convert({ metric: 'v', scale: 0.1, min: 225 }, 2214)).toEqual({ ok: false, error: 'v: 221.4 below plausible minimum 225' });
    expect(convert({ metric: 't', scale: 0.1, min: -40, max: 120 }, -55)).toEqual({ ok: true, value: -5.5 });
    // the bound of an enum's value is the bound of what is sent
    expect(convert({ metric: 'x', enum: { '35': 300 }, max: 200 }, 35)).toEqual({ ok: false, error: 'x: 300 above plausible maximum 200' });
  });

  it('refuses what is not a finite number, and cuts long text', () => {
    expect(convert({ metric: 'f' }, Number.NaN)).toEqual({ ok: false, error: 'f: not a finite number' });
    expect(convert({ metric: 'f', enum: { Infinity: 1 } }, Number.POSITIVE_INFINITY)).toEqual({ ok: false, error: 'f: not a finite number' });
    expect(convert({ metric: 'f', scale: 1e308 }, 1e308)).toEqual({ ok: false, error: 'f: not a finite number' });
    const r = convert({ metric: 's' }, 'x'.repeat(2000));
    expect(r.ok && typeof r.value === 'string' ? r.value.length : undefined).toBe(1024);
  });
});
