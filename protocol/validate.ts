/**
 * Runtime validation of wire messages, compiled from the same schemas as the types.
 * Every refusal carries a reason code (for counters) and a human-readable detail.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { CHANNEL_SCHEMAS, MAX_PAYLOAD_BYTES, SCHEMA_VERSION, type ChannelMessages } from './messages.ts';
import type { Channel } from './topics.ts';

export type RejectReason = 'too-large' | 'not-json' | 'wrong-version' | 'schema';

export type DecodeResult<T> = { ok: true; message: T } | { ok: false; reason: RejectReason; detail: string };

const checkers = new Map<Channel, TypeCheck<TSchema>>();
function checker(channel: Channel): TypeCheck<TSchema> {
  let c = checkers.get(channel);
  if (!c) {
    c = TypeCompiler.Compile(CHANNEL_SCHEMAS[channel]);
    checkers.set(channel, c);
  }
  return c;
}

/** Parses and validates a payload received on `channel`. Never throws. */
export function decodeMessage<C extends Channel>(channel: C, payload: Buffer | string): DecodeResult<ChannelMessages[C]> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_PAYLOAD_BYTES) return { ok: false, reason: 'too-large', detail: `payload of ${size} bytes exceeds ${MAX_PAYLOAD_BYTES}` };
  let data: unknown;
  try {
    data = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'not-json', detail: `malformed JSON: ${(err as Error).message}` };
  }
  if (typeof data === 'object' && data !== null && 'v' in data && (data as { v: unknown }).v !== SCHEMA_VERSION) {
    return { ok: false, reason: 'wrong-version', detail: `schema version ${JSON.stringify((data as { v: unknown }).v)} is not supported (expected ${SCHEMA_VERSION})` };
  }
  const c = checker(channel);
  if (!c.Check(data)) {
    const first = c.Errors(data).First();
    const where = first?.path || '/';
    return { ok: false, reason: 'schema', detail: first ? `${where} ${first.message}` : 'does not match schema' };
  }
  return { ok: true, message: data as ChannelMessages[C] };
}

/** Validates an outgoing message (agents and collector check what they send, too). */
export function encodeMessage<C extends Channel>(channel: C, message: ChannelMessages[C]): Buffer {
  const c = checker(channel);
  if (!c.Check(message)) {
    const first = c.Errors(message).First();
    throw new Error(`refusing to send invalid ${channel} message: ${first ? `${first.path || '/'} ${first.message}` : 'schema mismatch'}`);
  }
  const buf = Buffer.from(JSON.stringify(message));
  if (buf.length > MAX_PAYLOAD_BYTES) throw new Error(`refusing to send ${channel} message of ${buf.length} bytes (limit ${MAX_PAYLOAD_BYTES})`);
  return buf;
}
