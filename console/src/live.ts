/** The live channel (server-sent events from the collector) and batched refreshes from it. */
import { useEffect, useRef, useState } from 'react';

export interface LiveEvent { type: string; school: string; county: string; at: string; seq: number }

/** The live channel: `up` says whether it is connected, `last` is the newest event. */
export function useLive(): { up: boolean; last: LiveEvent | null } {
  const [up, setUp] = useState(false);
  const [last, setLast] = useState<LiveEvent | null>(null);
  useEffect(() => {
    const es = new EventSource('/api/v1/events');
    let seq = 0;
    es.onopen = () => setUp(true);
    es.onerror = () => setUp(es.readyState === EventSource.OPEN);
    const on = (e: MessageEvent<string>) => {
      try {
        const d = JSON.parse(e.data) as { type: string; school: string; county: string; at: string };
        setLast({ ...d, seq: ++seq });
      } catch {
        // a frame we do not understand
      }
    };
    es.addEventListener('coverage-changed', on);
    es.addEventListener('device-status', on);
    es.addEventListener('ticket', on);
    es.addEventListener('devices-discovered', on);
    return () => es.close();
  }, []);
  return { up, last };
}

/**
 * Waits this long after the first event of a burst before refreshing: the collector recomputes a
 * changed school's map figures about half a second after the event, and a city sends many events.
 */
export const LIVE_BATCH_MS = 2_000;

/**
 * Live events (of one county, when given) gathered into batches: `rev` goes up at most once per
 * `LIVE_BATCH_MS` (a throttle, so a steady stream of events still refreshes), with the schools that
 * changed. `everyMs` also refreshes on a clock (the wall display, in case an event was missed).
 */
export function useLiveBatch(live: LiveEvent | null, opts: { county?: string; everyMs?: number } = {}): { rev: number; schools: string[] } {
  const [batch, setBatch] = useState<{ rev: number; schools: string[] }>({ rev: 0, schools: [] });
  const pending = useRef(new Set<string>());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const flush = () => {
    timer.current = undefined;
    const schools = [...pending.current];
    pending.current.clear();
    setBatch((b) => ({ rev: b.rev + 1, schools }));
  };
  useEffect(() => {
    if (!live || (opts.county && live.county !== opts.county)) return;
    pending.current.add(live.school);
    timer.current ??= setTimeout(flush, LIVE_BATCH_MS);
  }, [live, opts.county]);
  useEffect(() => {
    if (!opts.everyMs) return;
    const h = setInterval(flush, opts.everyMs);
    return () => clearInterval(h);
  }, [opts.everyMs]);
  useEffect(() => () => clearTimeout(timer.current), []);
  return batch;
}
