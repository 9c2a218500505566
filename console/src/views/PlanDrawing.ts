/** Drawing a new shape on the map (through geoman), and the drawn shape while its form is filled in. */
import { useEffect, useRef } from 'react';
import L from 'leaflet';
import type * as Geoman from './PlanGeoman';
import type { LatLng } from './PlanFeatures';
import { DRAW_COLOUR, drawStyle, EDIT_PANE, editRenderer } from './PlanMapStyle';

/** What is drawn: a polygon (a key area or a building, chosen after), a wall, or the campus outline. */
export type DrawWhat = 'area' | 'wall' | 'outline';
export const shapeOf = (what: DrawWhat): Geoman.DrawShape => (what === 'wall' ? 'Line' : 'Polygon');

/**
 * While `what` is set: each click a vertex; a double-click, a click on the last (or, for a polygon,
 * the first) vertex, or `finish` closes it; Esc cancels. The map's double-click zoom is off meanwhile.
 */
export function useDrawing(map: L.Map, gm: typeof Geoman | null, what: DrawWhat | null, on: { count(n: number): void; created(ll: LatLng[]): void; ended(): void }): void {
  const cb = useRef(on);
  useEffect(() => {
    cb.current = on;
  });
  useEffect(() => {
    if (!gm || !what) return;
    const shape = shapeOf(what);
    const zoom = map.doubleClickZoom.enabled();
    map.doubleClickZoom.disable();
    const stop = gm.draw(map, shape, drawStyle(map), { count: (n) => cb.current.count(n), created: (ll) => cb.current.created(ll), ended: () => cb.current.ended() });
    // the double-click's second click lands on the vertex its first one made, which geoman leaves alone
    const dbl = () => gm.finish(map, shape);
    const el = map.getContainer();
    el.addEventListener('dblclick', dbl);
    return () => {
      el.removeEventListener('dblclick', dbl);
      stop();
      if (zoom) map.doubleClickZoom.enable();
    };
  }, [map, gm, what]);
}

/** The drawn shape waiting for its kind and name: dashed, with its vertices. */
export function usePendingPreview(map: L.Map, pending: { what: DrawWhat; ring: LatLng[] } | null): void {
  useEffect(() => {
    if (!pending?.ring.length) return;
    const renderer = editRenderer(map);
    const base = { renderer, pane: EDIT_PANE, color: DRAW_COLOUR, weight: 2, dashArray: '4 3', interactive: false };
    const g = L.featureGroup().addTo(map);
    if (pending.what === 'wall') L.polyline(pending.ring, { ...base, weight: 4, className: 'drawing-line' }).addTo(g);
    else L.polygon(pending.ring, { ...base, fillOpacity: 0.2, className: 'drawing-shape' }).addTo(g);
    for (const p of pending.ring) L.circleMarker(p, { renderer, pane: EDIT_PANE, radius: 4, color: DRAW_COLOUR, weight: 2, fillColor: '#fff', fillOpacity: 1, interactive: false, className: 'drawing-vertex' }).addTo(g);
    return () => void g.remove();
  }, [map, pending]);
}
