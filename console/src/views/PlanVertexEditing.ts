/**
 * Editing an existing shape on the map: picking it with a click, its own editable layer (vertex
 * handles, midpoint handles, or dragging it whole: PlanGeoman.edit), and invisible copies of the
 * other shapes for its vertices to snap to.
 */
import { useEffect, useRef } from 'react';
import L from 'leaflet';
import type { GeoFeature } from '../api';
import type * as Geoman from './PlanGeoman';
import { isRings, kindOf, latLngsOf, sameLatLngs, shapeAt, type LatLng, type ShapeKind, type ShapeLatLngs, type VertexPath } from './PlanFeatures';
import { EDIT_PANE, editRenderer, shapeStyle } from './PlanMapStyle';

export type EditMode = 'vertices' | 'move';

/** A click on a wall or the outline counts within this many pixels of it. */
const PICK_PX = 8;

function layerOf(f: GeoFeature, options: L.PolylineOptions): Geoman.ShapeLayer {
  const ll = latLngsOf(f);
  if (isRings(ll)) return L.polygon(ll, options);
  const wall: L.Polyline = L.polyline(ll as LatLng[], options);
  return wall;
}

function mark(layer: Geoman.ShapeLayer, kind: ShapeKind, invalid: boolean) {
  layer.setStyle(shapeStyle(kind, invalid));
  layer.getElement()?.classList.toggle('plan-invalid', invalid);
}

/**
 * The selected shape as an editable layer: rebuilt when another shape is selected, the mode changes
 * or its geometry changes from outside (undo, a vertex removed by the button), not after its own
 * edits nor while a handle is dragged. Red while its edges cross (checked as a vertex moves, with `selfIntersects`).
 */
export function useSelectedShape(
  map: L.Map,
  gm: typeof Geoman | null,
  feature: GeoFeature | null,
  mode: EditMode,
  invalid: boolean,
  on: { edited(ll: ShapeLatLngs): void; vertex(path: VertexPath | null): void },
): void {
  const cb = useRef(on);
  useEffect(() => {
    cb.current = on;
  });
  const cur = useRef<{ id: string; mode: EditMode; layer: Geoman.ShapeLayer; stop: () => void; busy: () => boolean } | null>(null);
  const drop = () => {
    cur.current?.stop();
    cur.current?.layer.remove();
    cur.current = null;
  };
  useEffect(() => {
    const kind = feature && kindOf(feature);
    const id = String(feature?.id);
    const c = cur.current;
    if (gm && feature && c && c.id === id && c.mode === mode && (c.busy() || sameLatLngs(gm.latLngsOfLayer(c.layer), latLngsOf(feature)))) return;
    drop();
    if (!gm || !feature || !kind) return;
    const layer = layerOf(feature, { ...shapeStyle(kind, false), renderer: editRenderer(map), pane: EDIT_PANE, pmIgnore: false, className: `plan-selected plan-selected-${id}` }).addTo(map);
    const { stop, busy } = gm.edit(layer, mode, {
      edited: (ll) => cb.current.edited(ll),
      changed: (ll) => kind !== 'wall' && isRings(ll) && mark(layer, kind, gm.selfIntersects(ll)),
      vertex: (p) => cb.current.vertex(p),
    });
    cur.current = { id, mode, layer, stop, busy };
  }, [map, gm, feature, mode]);
  useEffect(() => {
    const kind = feature && kindOf(feature);
    if (cur.current && kind) mark(cur.current.layer, kind, invalid);
  }, [feature, invalid]);
  useEffect(() => drop, []);
}

/** The other shapes, invisible, for drawn and dragged vertices to snap to (geoman snaps only to opted-in layers). */
export function useSnapGuides(map: L.Map, gm: typeof Geoman | null, features: GeoFeature[] | null, exceptId: string | null): void {
  useEffect(() => {
    if (!gm || !features) return;
    const g = L.layerGroup().addTo(map);
    const options = { renderer: editRenderer(map), pane: EDIT_PANE, pmIgnore: false, interactive: false, stroke: false, fill: false };
    for (const f of features) if (String(f.id) !== exceptId && kindOf(f)) layerOf(f, options).addTo(g);
    return () => void g.remove();
  }, [map, gm, features, exceptId]);
}

/**
 * While `enabled`, a click on the map picks the shape under it (`shapeAt`), or none. While the
 * selected shape is being moved whole, a click on it (the end of its drag) keeps it.
 */
export function useMapPick(map: L.Map, enabled: boolean, moving: boolean, features: GeoFeature[] | null, onPick: (id: string | null) => void): void {
  const cb = useRef({ features, onPick, moving });
  useEffect(() => {
    cb.current = { features, onPick, moving };
  });
  useEffect(() => {
    if (!enabled) return;
    const on = (e: L.LeafletMouseEvent) => {
      if (cb.current.moving && (e.originalEvent.target as Element | null)?.closest?.('.plan-selected')) return;
      const project = (ll: LatLng) => map.latLngToContainerPoint(ll);
      const f = shapeAt(cb.current.features ?? [], map.latLngToContainerPoint(e.latlng), project, PICK_PX);
      cb.current.onPick(f ? String(f.id) : null);
    };
    map.on('click', on);
    return () => void map.off('click', on);
  }, [map, enabled]);
}
