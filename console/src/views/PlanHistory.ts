/** The plan being edited and its undo steps. */
import { useCallback, useRef, useState } from 'react';
import type { GeoFeature } from '../api';

/** Undo steps kept. */
const DEPTH = 100;

interface State { features: GeoFeature[] | null; past: GeoFeature[][]; key: string | null }

/**
 * `change` applies one edit step; steps with the same `key` in a row (typing a name) are one undo
 * step. `dirty`: the plan differs from what editing started with.
 */
export function usePlanHistory() {
  const [s, setS] = useState<State>({ features: null, past: [], key: null });
  const initial = useRef('');
  const change = useCallback((fn: (fs: GeoFeature[]) => GeoFeature[], key?: string) => {
    setS((cur) => {
      if (!cur.features) return cur;
      const next = fn(cur.features);
      if (next === cur.features) return cur;
      const same = key !== undefined && key === cur.key;
      return { features: next, past: same ? cur.past : [...cur.past, cur.features].slice(-DEPTH), key: key ?? null };
    });
  }, []);
  const undo = useCallback(() => setS((cur) => (cur.past.length ? { features: cur.past[cur.past.length - 1]!, past: cur.past.slice(0, -1), key: null } : cur)), []);
  const reset = useCallback((features: GeoFeature[] | null) => {
    initial.current = JSON.stringify(features);
    setS({ features, past: [], key: null });
  }, []);
  return { features: s.features, canUndo: s.past.length > 0, dirty: s.features !== null && JSON.stringify(s.features) !== initial.current, change, undo, reset };
}
