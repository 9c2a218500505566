/**
 * Connection-level limit on MQTT packet size. aedes (mqtt-packet) has no such option and buffers a
 * whole packet before parsing it, so a client announcing a 256 MB PUBLISH would make the broker
 * hold 256 MB. This wrapper reads only the fixed header of each packet (MQTT 3.1.1 §2.2: one
 * type byte, then the Remaining Length as a 1–4 byte varint, §2.2.3), passes the bytes through
 * untouched, and destroys the connection as soon as a header announces more than the limit.
 * Sitting on every connection, it is also where flow control stops reading one (holdInput).
 */
import { Duplex } from 'node:stream';

type State = 'type' | 'length' | 'body';

export class PacketSizeGuard extends Duplex {
  private state: State = 'type';
  private length = 0;
  private multiplier = 1;
  private bodyLeft = 0;
  private tripped = false;
  /** Set by holdInput(): flow control wants nothing more read from this connection for now. */
  private held = false;

  constructor(
    private readonly inner: Duplex,
    private readonly maxRemainingLength: number,
    private readonly onOversize: (announced: number) => void,
  ) {
    super({ allowHalfOpen: false });
    inner.on('data', (chunk: Buffer) => {
      if (this.tripped) return;
      const announced = this.scan(chunk);
      if (announced !== null) {
        this.tripped = true;
        this.onOversize(announced);
        this.destroy();
        return;
      }
      // A chunk that arrives while held (already on its way when pause() was called) still goes through.
      if (!this.push(chunk) || this.held) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }

  /** Advances the header state machine over `chunk`; returns the announced length if too big. */
  private scan(chunk: Buffer): number | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const skip = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= skip;
        i += skip;
        if (this.bodyLeft === 0) this.state = 'type';
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      if (this.length > this.maxRemainingLength) return this.length;
      if (byte & 0x80) {
        this.multiplier *= 128;
        // A fifth length byte is malformed (§2.2.3); treat it as oversized.
        if (this.multiplier > 128 ** 3) return Number.POSITIVE_INFINITY;
        continue;
      }
      this.bodyLeft = this.length;
      this.state = this.length === 0 ? 'type' : 'body';
    }
    return null;
  }

  /**
   * Stops reading from the peer: what is already buffered here still reaches the reader, nothing
   * more is taken from the socket, so TCP's window closes and the peer's writes wait. Writing to
   * the peer is not affected.
   */
  holdInput(): void {
    this.held = true;
    this.inner.pause();
  }

  releaseInput(): void {
    if (!this.held) return;
    this.held = false;
    // Resuming while our own buffer is full is harmless: the next push() returns false and pauses again.
    if (!this.destroyed) this.inner.resume();
  }

  override _read(): void {
    if (!this.held) this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.inner.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy();
    callback(err);
  }
}
