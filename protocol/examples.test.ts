import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHANNELS, decodeMessage, encodeMessage, parseTopic } from './index.ts';
import { EXAMPLES, exampleJson } from './examples.ts';

const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');

/** The text from a heading to the next heading of the same or a higher level. */
function sectionOf(heading: string): string {
  const start = doc.indexOf(`\n${heading}`);
  expect(start, `docs/protocol.md has no heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rest = doc.slice(start + 1);
  const end = rest.slice(heading.length).search(/\n#{2,3} /);
  return end < 0 ? rest : rest.slice(0, heading.length + end);
}

describe('protocol examples', () => {
  it('cover every channel', () => {
    expect(new Set(EXAMPLES.map((e) => e.channel))).toEqual(new Set(CHANNELS));
  });

  describe.each(EXAMPLES.map((e) => [e.name, e] as const))('%s', (_name, e) => {
    it('is valid on its channel, as received and as sent', () => {
      const decoded = decodeMessage(e.channel, exampleJson(e));
      expect(decoded).toEqual({ ok: true, message: e.message });
      expect(() => encodeMessage(e.channel, e.message as never)).not.toThrow();
    });

    it('is on a topic of the tree', () => {
      expect(parseTopic(e.topic)).toEqual({ schoolCode: '3715020001', agentId: 'gw-1', channel: e.channel });
    });

    it('appears verbatim in docs/protocol.md, in the section of its topic', () => {
      const block = '```json\n' + exampleJson(e) + '\n```';
      const section = sectionOf(`### \`campus/v1/{schoolCode}/{agentId}/${e.channel}\``);
      expect(section, `docs/protocol.md, section ${e.channel}, must contain this block:\n${block}`).toContain(block);
      expect(section).toContain(`\`${e.topic}\``);
    });
  });

  it('a changed example no longer validates where the schema disagrees', () => {
    // guards the test itself: decodeMessage really rejects, so the checks above mean something
    const bad = { ...EXAMPLES.find((e) => e.channel === 'telemetry')!.message, readings: [] };
    expect(decodeMessage('telemetry', JSON.stringify(bad))).toMatchObject({ ok: false, reason: 'schema' });
  });
});
