/**
 * Durable FIFO of outgoing MQTT messages plus the agent's persisted sequence counter.
 *
 * Layout of `dir`:
 *   seg-<n>.log   append-only segments of records  [u32 bodyLen][u32 crc32(body)][body]
 *                 body = [u64 seq][u16 topicLen][topic utf8][payload]
 *   cursor.json   {segment, offset} of the oldest record not yet acknowledged (atomic rename)
 *   seq.json      {next} written before any segment is deleted, so a seq is never reused even
 *                 when every record carrying it is gone
 *
 * Durability: every append is fdatasync'd before it becomes visible to the sender, so nothing the
 * broker has acknowledged can vanish in a power cut and take its seq with it. The cursor is not
 * fsync'd per ack: a stale cursor after a crash only re-sends messages, which the collector drops
 * by seq. A torn last record (crash mid-write) is detected by length/CRC and truncated on open.
 *
 * Bound: when `maxMessages` are waiting, the *oldest* is dropped. For monitoring data the latest
 * state is worth more than the oldest history, and the collector sees the gap in seqs plus the
 * `dropped` counter in our status message.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

const HEADER_BYTES = 8;
const BODY_FIXED_BYTES = 10;
/** A record larger than this is corruption, not data (payloads are capped at 256 KiB). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface DiskQueueOptions {
  maxMessages: number;
  /** Roll over to a new segment file above this size. */
  segmentBytes?: number;
  /** First seq for a brand-new queue. */
  firstSeq?: number;
  logger?: { warn(msg: string): void };
}

export interface QueuedMessage {
  seq: number;
  topic: string;
  payload: Buffer;
}

interface IndexEntry {
  seq: number;
  segment: number;
  offset: number;
  /** offset just past this record */
  end: number;
}

export interface DiskQueueStats {
  size: number;
  dropped: number;
  /** records found corrupt (CRC/length) in the middle of a segment and skipped */
  corrupt: number;
  /** bytes cut off a torn tail on open */
  truncatedBytes: number;
  /** highest seq ever assigned (0 when none) */
  highWater: number;
}

function segName(n: number): string {
  return `seg-${String(n).padStart(12, '0')}.log`;
}

function writeFileAtomic(file: string, data: string, durable: boolean): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, data);
    if (durable) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  // the rename itself is only durable once the directory entry is synced
  if (durable) syncDir(path.dirname(file));
}

function syncDir(dir: string): void {
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export class DiskQueue {
  private readonly entries: IndexEntry[] = [];
  private readonly readFds = new Map<number, number>();
  private activeSegment = 0;
  private activeFd = -1;
  private activeSize = 0;
  private nextSeq: number;
  private droppedCount = 0;
  private corruptCount = 0;
  private truncated = 0;
  private fullEpisode = false;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly opts: Required<Omit<DiskQueueOptions, 'logger'>> & Pick<DiskQueueOptions, 'logger'>,
  ) {
    this.nextSeq = opts.firstSeq;
  }

  static open(dir: string, options: DiskQueueOptions): DiskQueue {
    if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1) throw new Error(`queue maxMessages must be a positive integer, got ${options.maxMessages}`);
    fs.mkdirSync(dir, { recursive: true });
    const q = new DiskQueue(dir, { segmentBytes: 8 * 1024 * 1024, firstSeq: 1, ...options });
    q.recover();
    return q;
  }

  /** Messages waiting to be sent. */
  get size(): number {
    return this.entries.length;
  }
  /** Messages dropped because the queue was full (since open). */
  get dropped(): number {
    return this.droppedCount;
  }
  /** Highest seq ever assigned, 0 if none: what the status message carries. */
  get highWater(): number {
    return this.nextSeq - 1;
  }

  stats(): DiskQueueStats {
    return { size: this.size, dropped: this.droppedCount, corrupt: this.corruptCount, truncatedBytes: this.truncated, highWater: this.highWater };
  }

  /**
   * Assigns the next seq, lets `build` put it into the payload, and stores the record durably.
   * If `build` throws (e.g. the message fails validation) no seq is consumed and nothing is stored.
   */
  append(topic: string, build: (seq: number) => Buffer): number {
    this.assertOpen();
    const seq = this.nextSeq;
    const payload = build(seq);
    const topicBytes = Buffer.from(topic, 'utf8');
    if (topicBytes.length > 0xffff) throw new Error(`topic too long (${topicBytes.length} bytes)`);
    const body = Buffer.allocUnsafe(BODY_FIXED_BYTES + topicBytes.length + payload.length);
    body.writeBigUInt64BE(BigInt(seq), 0);
    body.writeUInt16BE(topicBytes.length, 8);
    topicBytes.copy(body, BODY_FIXED_BYTES);
    payload.copy(body, BODY_FIXED_BYTES + topicBytes.length);
    if (body.length > MAX_BODY_BYTES) throw new Error(`record of ${body.length} bytes exceeds ${MAX_BODY_BYTES}`);
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32BE(body.length, 0);
    header.writeUInt32BE(crc32(body), 4);

    if (this.entries.length >= this.opts.maxMessages) this.dropOldest();
    if (this.activeSize >= this.opts.segmentBytes) this.rollOver();
    const record = Buffer.concat([header, body]);
    fs.writeSync(this.activeFd, record, 0, record.length, this.activeSize);
    fs.fdatasyncSync(this.activeFd);
    const offset = this.activeSize;
    this.activeSize += record.length;
    this.nextSeq = seq + 1;
    this.entries.push({ seq, segment: this.activeSegment, offset, end: this.activeSize });
    if (this.entries.length < this.opts.maxMessages) this.fullEpisode = false;
    return seq;
  }

  /** The oldest `n` messages, in order, without removing them. */
  peek(n: number): QueuedMessage[] {
    this.assertOpen();
    return this.entries.slice(0, Math.max(0, n)).map((e) => this.readEntry(e));
  }

  /**
   * Removes every message at the head with seq <= `throughSeq` (after the broker's PUBACK).
   * Acknowledging by seq rather than by count stays correct when the oldest were dropped while
   * they were in flight. Returns how many were removed.
   */
  ack(throughSeq: number): number {
    this.assertOpen();
    let n = 0;
    while (n < this.entries.length && this.entries[n]!.seq <= throughSeq) n++;
    if (n > 0) this.removeHead(n);
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writeSeq();
    this.writeCursor(true);
    for (const fd of this.readFds.values()) fs.closeSync(fd);
    this.readFds.clear();
    if (this.activeFd >= 0) fs.closeSync(this.activeFd);
    this.activeFd = -1;
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new Error('disk queue is closed');
  }

  private dropOldest(): void {
    if (!this.fullEpisode) {
      this.opts.logger?.warn(`queue full (${this.opts.maxMessages} messages), dropping the oldest`);
      this.fullEpisode = true;
    }
    this.droppedCount++;
    this.removeHead(1);
  }

  private removeHead(n: number): void {
    const removed = this.entries.splice(0, n);
    this.writeCursor(false);
    const firstLive = this.entries[0]?.segment ?? this.activeSegment;
    this.deleteUnreferenced([...new Set(removed.map((e) => e.segment))].filter((s) => s < firstLive));
  }

  private deleteSegment(s: number): void {
    const fd = this.readFds.get(s);
    if (fd !== undefined) fs.closeSync(fd);
    this.readFds.delete(s);
    fs.rmSync(path.join(this.dir, segName(s)), { force: true });
  }

  private writeCursor(durable: boolean): void {
    // with nothing waiting, everything up to the end of the active segment is consumed
    const head = this.entries[0];
    const cursor = head ? { segment: head.segment, offset: head.offset } : { segment: this.activeSegment, offset: this.activeSize };
    writeFileAtomic(path.join(this.dir, 'cursor.json'), JSON.stringify(cursor), durable);
  }

  private writeSeq(): void {
    writeFileAtomic(path.join(this.dir, 'seq.json'), JSON.stringify({ next: this.nextSeq }), true);
  }

  private rollOver(): void {
    const old = this.activeSegment;
    if (this.activeFd >= 0) fs.closeSync(this.activeFd);
    this.activeSegment++;
    this.activeFd = fs.openSync(path.join(this.dir, segName(this.activeSegment)), 'w+');
    this.activeSize = 0;
    syncDir(this.dir);
    this.deleteUnreferenced([old]);
  }

  /** Deletes the given (non-active) segments that hold no waiting record. */
  private deleteUnreferenced(segments: number[]): void {
    const live = new Set(this.entries.map((e) => e.segment));
    const doomed = segments.filter((s) => s !== this.activeSegment && !live.has(s));
    if (doomed.length === 0) return;
    this.writeSeq();
    this.writeCursor(true);
    for (const s of doomed) this.deleteSegment(s);
  }

  private readEntry(e: IndexEntry): QueuedMessage {
    let fd = e.segment === this.activeSegment ? this.activeFd : this.readFds.get(e.segment);
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dir, segName(e.segment)), 'r');
      this.readFds.set(e.segment, fd);
    }
    const buf = Buffer.allocUnsafe(e.end - e.offset);
    fs.readSync(fd, buf, 0, buf.length, e.offset);
    const body = buf.subarray(HEADER_BYTES);
    const topicLen = body.readUInt16BE(8);
    return {
      seq: e.seq,
      topic: body.toString('utf8', BODY_FIXED_BYTES, BODY_FIXED_BYTES + topicLen),
      payload: Buffer.from(body.subarray(BODY_FIXED_BYTES + topicLen)),
    };
  }

  private recover(): void {
    const segments = fs
      .readdirSync(this.dir)
      .map((f) => /^seg-(\d{12})\.log$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const seqFile = readJson(path.join(this.dir, 'seq.json')) as { next?: unknown } | undefined;
    if (seqFile && Number.isSafeInteger(seqFile.next)) this.nextSeq = Math.max(this.nextSeq, seqFile.next as number);
    const cur = readJson(path.join(this.dir, 'cursor.json')) as { segment?: unknown; offset?: unknown } | undefined;
    const curSeg = cur && Number.isSafeInteger(cur.segment) ? (cur.segment as number) : -1;
    const curOff = cur && Number.isSafeInteger(cur.offset) ? (cur.offset as number) : 0;

    for (const [i, s] of segments.entries()) {
      const isLast = i === segments.length - 1;
      const file = path.join(this.dir, segName(s));
      const data = fs.readFileSync(file);
      let off = 0;
      while (off < data.length) {
        const rec = this.parseRecord(data, off);
        if (!rec) break;
        this.nextSeq = Math.max(this.nextSeq, rec.seq + 1);
        // records before the committed cursor were acknowledged already
        if (s > curSeg || (s === curSeg && off >= curOff)) this.entries.push({ seq: rec.seq, segment: s, offset: off, end: rec.end });
        off = rec.end;
      }
      if (off < data.length) {
        if (isLast) {
          // torn tail from a crash mid-append: cut it so new records follow valid ones
          this.truncated += data.length - off;
          fs.truncateSync(file, off);
        } else {
          this.corruptCount++;
        }
      }
      if (isLast) {
        this.activeSegment = s;
        this.activeFd = fs.openSync(file, 'r+');
        this.activeSize = off;
      }
    }
    if (this.activeFd < 0) {
      this.activeSegment = Math.max(1, curSeg);
      this.activeFd = fs.openSync(path.join(this.dir, segName(this.activeSegment)), 'w+');
      this.activeSize = 0;
    }
    // leftovers of a crash between committing the cursor and deleting consumed segments
    this.deleteUnreferenced(segments.filter((s) => s !== this.activeSegment));
    // overflow can only happen if maxMessages was lowered between runs
    while (this.entries.length > this.opts.maxMessages) this.dropOldest();
  }

  private parseRecord(data: Buffer, off: number): { seq: number; end: number } | null {
    if (off + HEADER_BYTES > data.length) return null;
    const len = data.readUInt32BE(off);
    if (len < BODY_FIXED_BYTES || len > MAX_BODY_BYTES || off + HEADER_BYTES + len > data.length) return null;
    const body = data.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len);
    if (crc32(body) !== data.readUInt32BE(off + 4)) return null;
    const seq = Number(body.readBigUInt64BE(0));
    if (BODY_FIXED_BYTES + body.readUInt16BE(8) > len) return null;
    return { seq, end: off + HEADER_BYTES + len };
  }
}
