import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskQueue } from './disk-queue.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-queue-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const payload = (seq: number): Buffer => Buffer.from(JSON.stringify({ seq, body: 'x'.repeat(seq % 50) }));
const segments = (): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();

describe('DiskQueue', () => {
  it('keeps FIFO order and puts the assigned seq into the payload', () => {
    const q = DiskQueue.open(dir, { maxMessages: 100 });
    const seqs = [1, 2, 3, 4, 5].map((i) => q.append(`t/${i}`, payload));
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    const got = q.peek(10);
    expect(got.map((m) => m.seq)).toEqual(seqs);
    expect(got.map((m) => m.topic)).toEqual(['t/1', 't/2', 't/3', 't/4', 't/5']);
    expect(got.map((m) => JSON.parse(m.payload.toString()).seq)).toEqual(seqs);
    expect(q.ack(2)).toBe(2);
    expect(q.peek(1)[0]!.seq).toBe(3);
    expect(q.size).toBe(3);
    q.close();
  });

  it('survives close and reopen: unacked messages stay, acked ones do not come back', () => {
    const q = DiskQueue.open(dir, { maxMessages: 100 });
    for (let i = 0; i < 10; i++) q.append('t', payload);
    q.ack(4);
    q.close();
    const q2 = DiskQueue.open(dir, { maxMessages: 100 });
    expect(q2.peek(100).map((m) => m.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(q2.append('t', payload)).toBe(11);
    q2.close();
  });

  it('never repeats a seq after a restart, even when everything was acked and segments deleted', () => {
    const q = DiskQueue.open(dir, { maxMessages: 1000, segmentBytes: 200 });
    for (let i = 0; i < 30; i++) q.append('t', payload);
    expect(segments().length).toBeGreaterThan(3);
    q.ack(30);
    expect(q.size).toBe(0);
    // consumed segments are gone; only the active one remains
    expect(segments().length).toBe(1);
    q.close();
    const q2 = DiskQueue.open(dir, { maxMessages: 1000, segmentBytes: 200 });
    expect(q2.size).toBe(0);
    expect(q2.highWater).toBe(30);
    expect(q2.append('t', payload)).toBe(31);
    q2.close();
  });

  it('recovers after a crash (no close) and cuts a torn last record', () => {
    const q = DiskQueue.open(dir, { maxMessages: 100 });
    for (let i = 0; i < 5; i++) q.append('t', payload);
    q.ack(1);
    // simulate the process dying mid-append: half a record at the end of the active segment
    const seg = path.join(dir, segments().at(-1)!);
    const before = fs.statSync(seg).size;
    fs.appendFileSync(seg, Buffer.from([0, 0, 0, 60, 1, 2, 3, 4, 9, 9, 9]));
    // no close(): the crashed process never got to it
    const q2 = DiskQueue.open(dir, { maxMessages: 100 });
    expect(q2.stats().truncatedBytes).toBe(11);
    expect(fs.statSync(seg).size).toBe(before);
    expect(q2.peek(100).map((m) => m.seq)).toEqual([2, 3, 4, 5]);
    expect(q2.append('t', payload)).toBe(6);
    q2.close();
    const q3 = DiskQueue.open(dir, { maxMessages: 100 });
    expect(q3.peek(100).map((m) => m.seq)).toEqual([2, 3, 4, 5, 6]);
    expect(q3.peek(100).map((m) => JSON.parse(m.payload.toString()).seq)).toEqual([2, 3, 4, 5, 6]);
    q3.close();
  });

  it('detects a record whose bytes were corrupted (CRC) and keeps the ones before it', () => {
    const q = DiskQueue.open(dir, { maxMessages: 100 });
    for (let i = 0; i < 3; i++) q.append('t', payload);
    q.close();
    const seg = path.join(dir, segments().at(-1)!);
    const data = fs.readFileSync(seg);
    data[data.length - 2] = data[data.length - 2]! ^ 0xff; // flip a byte in the last record's payload
    fs.writeFileSync(seg, data);
    const q2 = DiskQueue.open(dir, { maxMessages: 100 });
    expect(q2.peek(100).map((m) => m.seq)).toEqual([1, 2]);
    // seq.json remembers 3 was handed out, so it is not reused
    expect(q2.append('t', payload)).toBe(4);
    q2.close();
  });

  it('is bounded: drops the oldest, counts them, warns once per episode', () => {
    const warnings: string[] = [];
    const q = DiskQueue.open(dir, { maxMessages: 5, logger: { warn: (m) => warnings.push(m) } });
    for (let i = 0; i < 8; i++) q.append('t', payload);
    expect(q.size).toBe(5);
    expect(q.dropped).toBe(3);
    expect(q.peek(10).map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/queue full/);
    // draining ends the episode; filling up again warns again
    q.ack(8);
    for (let i = 0; i < 6; i++) q.append('t', payload);
    expect(q.dropped).toBe(4);
    expect(warnings).toHaveLength(2);
    q.close();
    const q2 = DiskQueue.open(dir, { maxMessages: 5 });
    expect(q2.peek(10).map((m) => m.seq)).toEqual([10, 11, 12, 13, 14]);
    q2.close();
  });

  it('acks by seq, so dropping the oldest while they are in flight removes nothing twice', () => {
    const q = DiskQueue.open(dir, { maxMessages: 3 });
    for (let i = 0; i < 3; i++) q.append('t', payload);
    const inFlight = q.peek(2); // seqs 1, 2 sent to the broker
    q.append('t', payload); // full: seq 1 dropped meanwhile
    expect(q.ack(inFlight.at(-1)!.seq)).toBe(1); // only seq 2 was still there
    expect(q.peek(10).map((m) => m.seq)).toEqual([3, 4]);
    q.close();
  });

  it('does not consume a seq when the message builder throws', () => {
    const q = DiskQueue.open(dir, { maxMessages: 10 });
    expect(() =>
      q.append('t', () => {
        throw new Error('invalid');
      }),
    ).toThrow('invalid');
    expect(q.append('t', payload)).toBe(1);
    q.close();
  });
});
