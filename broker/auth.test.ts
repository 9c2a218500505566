import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AGENT_CHANNELS, agentClientId, agentTopic, agentUsername } from '../protocol/index.ts';
import { ConnackCode, checkConnect, checkOrphanWill, checkPublish, checkSubscribe, type Principal } from './auth.ts';
import { PacketSizeGuard } from './packet-size-guard.ts';
import { TokenBucket } from './token-bucket.ts';

const a = { schoolCode: '3715020001', agentId: 'gw-1' };
const b = { schoolCode: '3715020002', agentId: 'gw-1' };
const agentA: Principal = { kind: 'agent', ...a };
const collector: Principal = { kind: 'service', name: 'collector' };

describe('checkConnect', () => {
  const base = { username: agentUsername(a), clientId: agentClientId(a) };

  it('accepts an agent with its fixed client id and its own status will', () => {
    expect(checkConnect(agentA, base)).toEqual({ ok: true });
    expect(checkConnect(agentA, { ...base, willTopic: agentTopic(a, 'status') })).toEqual({ ok: true });
  });

  it('rejects another client id with 0x02 Identifier rejected', () => {
    expect(checkConnect(agentA, { ...base, clientId: 'gw-1' })).toMatchObject({ ok: false, returnCode: ConnackCode.identifierRejected });
    expect(checkConnect(agentA, { ...base, clientId: agentClientId(b) })).toMatchObject({ ok: false, returnCode: 2 });
  });

  it('rejects a will anywhere but the own status topic', () => {
    expect(checkConnect(agentA, { ...base, willTopic: agentTopic(b, 'status') })).toMatchObject({ ok: false, returnCode: 5 });
    expect(checkConnect(agentA, { ...base, willTopic: agentTopic(a, 'event') })).toMatchObject({ ok: false, returnCode: 5 });
  });

  it('rejects an agent principal that does not match the username', () => {
    expect(checkConnect(agentA, { ...base, username: agentUsername(b) })).toMatchObject({ ok: false, returnCode: 5 });
    expect(checkConnect(agentA, { ...base, username: 'collector' })).toMatchObject({ ok: false, returnCode: 5 });
  });

  it('keeps agent-* client ids and wills away from services', () => {
    expect(checkConnect(collector, { username: 'collector', clientId: 'collector-1' })).toEqual({ ok: true });
    expect(checkConnect(collector, { username: 'collector', clientId: agentClientId(a) })).toMatchObject({ ok: false, returnCode: 2 });
    expect(checkConnect(collector, { username: 'collector', clientId: 'c', willTopic: agentTopic(a, 'status') })).toMatchObject({ ok: false, returnCode: 5 });
  });
});

describe('checkPublish', () => {
  it('lets an agent publish on each of its own agent channels only', () => {
    for (const ch of AGENT_CHANNELS) expect(checkPublish(agentA, { topic: agentTopic(a, ch), retain: ch === 'status' }).ok).toBe(true);
    expect(checkPublish(agentA, { topic: agentTopic(a, 'cmd'), retain: false }).ok).toBe(false);
    expect(checkPublish(agentA, { topic: agentTopic(b, 'telemetry'), retain: false }).ok).toBe(false);
    expect(checkPublish(agentA, { topic: `${agentTopic(a, 'telemetry')}/x`, retain: false }).ok).toBe(false);
    expect(checkPublish(agentA, { topic: '$SYS/x', retain: false }).ok).toBe(false);
  });

  it('lets a service publish non-retained commands to any agent and nothing else', () => {
    expect(checkPublish(collector, { topic: agentTopic(b, 'cmd'), retain: false }).ok).toBe(true);
    expect(checkPublish(collector, { topic: agentTopic(b, 'cmd'), retain: true }).ok).toBe(false);
    expect(checkPublish(collector, { topic: agentTopic(b, 'telemetry'), retain: false }).ok).toBe(false);
    expect(checkPublish(collector, { topic: 'campus/v1/x/y/cmd', retain: false }).ok).toBe(false);
    expect(checkPublish(collector, { topic: 'other', retain: false }).ok).toBe(false);
  });

  it('lets a service publish retained config to any agent; agents cannot publish config', () => {
    expect(checkPublish(collector, { topic: agentTopic(b, 'config'), retain: true }).ok).toBe(true);
    expect(checkPublish(agentA, { topic: agentTopic(a, 'config'), retain: true }).ok).toBe(false);
  });

  it('accepts orphan wills only on status topics', () => {
    expect(checkOrphanWill(agentTopic(a, 'status')).ok).toBe(true);
    expect(checkOrphanWill(agentTopic(a, 'telemetry')).ok).toBe(false);
  });
});

describe('checkSubscribe', () => {
  it('lets an agent subscribe to exactly its own cmd and config topics', () => {
    expect(checkSubscribe(agentA, agentTopic(a, 'cmd')).ok).toBe(true);
    expect(checkSubscribe(agentA, agentTopic(a, 'config')).ok).toBe(true);
    for (const f of ['campus/v1/#', `campus/v1/${a.schoolCode}/+/cmd`, agentTopic(b, 'cmd'), agentTopic(b, 'config'), agentTopic(a, 'telemetry'), '#']) {
      expect(checkSubscribe(agentA, f).ok, f).toBe(false);
    }
  });

  it('lets a service subscribe inside campus/v1/ only', () => {
    for (const f of ['campus/v1/#', 'campus/v1/+/+/status', agentTopic(a, 'telemetry')]) expect(checkSubscribe(collector, f).ok, f).toBe(true);
    for (const f of ['#', 'campus/#', '+/v1/#', '$SYS/#', '$share/c/campus/v1/#', 'campus/v2/#']) expect(checkSubscribe(collector, f).ok, f).toBe(false);
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    let t = 0;
    const bucket = new TokenBucket(10, 3, () => t);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    t += 100; // one token at 10/s
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    expect(bucket.isFull()).toBe(false);
    t += 10_000;
    expect(bucket.isFull()).toBe(true);
    t -= 5_000; // a clock stepping back removes nothing
    expect(bucket.isFull()).toBe(true);
  });

  it('rejects nonsense parameters', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(/invalid/);
    expect(() => new TokenBucket(1, 0)).toThrow(/invalid/);
  });
});

describe('PacketSizeGuard', () => {
  function guard(limit: number) {
    const inner = new PassThrough();
    const oversize: number[] = [];
    const g = new PacketSizeGuard(inner, limit, (n) => oversize.push(n));
    const out: Buffer[] = [];
    g.on('data', (c: Buffer) => out.push(c));
    g.on('error', () => {});
    return { inner, g, oversize, out };
  }
  const flush = () => new Promise((r) => setImmediate(r));

  it('passes packets within the limit through unchanged, split anywhere', async () => {
    const { inner, oversize, out } = guard(200);
    // PINGREQ (c0 00), then a PUBLISH with remaining length 130 (varint 0x82 0x01), split mid-varint.
    const publish = Buffer.concat([Buffer.from([0x30, 0x82, 0x01]), Buffer.alloc(130, 7)]);
    const all = Buffer.concat([Buffer.from([0xc0, 0x00]), publish, Buffer.from([0xc0, 0x00])]);
    inner.write(all.subarray(0, 3));
    inner.write(all.subarray(3, 4));
    inner.write(all.subarray(4));
    await flush();
    expect(oversize).toEqual([]);
    expect(Buffer.concat(out).equals(all)).toBe(true);
  });

  it('closes on a header announcing more than the limit, before the body arrives', async () => {
    const { inner, g, oversize } = guard(200);
    inner.write(Buffer.from([0xc0, 0x00, 0x30, 0xc9, 0x01])); // remaining length 201
    await flush();
    expect(oversize).toEqual([201]);
    expect(g.destroyed).toBe(true);
    expect(inner.destroyed).toBe(true);
  });

  it('treats a five-byte length as oversized', async () => {
    const { inner, oversize } = guard(Number.MAX_SAFE_INTEGER);
    inner.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]));
    await flush();
    expect(oversize).toEqual([Number.POSITIVE_INFINITY]);
  });
});
