/**
 * Leaflet-Geoman (docs/decisions/0008-plan-editor.md) behind the few calls the plan editor makes:
 * drawing a polygon or a wall, editing one shape's vertices or moving it whole, and its
 * self-intersection check. Loaded on first use of "编辑平面图" (a dynamic import, bundled by Vite)
 * so that the console's first load does not carry it. It needs the global `L`, which Leaflet's UMD
 * build sets. Opt-in mode: only layers made with `pmIgnore: false` (the editor's own) get
 * editing or are snapped to, never the school view's sectors or blind spots.
 *
 * The few private calls (finishing or shortening a drawing from our own buttons, as geoman's own
 * toolbar does) are kept here, against the pinned version.
 */
import L from 'leaflet';
import '@geoman-io/leaflet-geoman-free';
import '@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css';
import type { LatLng, ShapeLatLngs, VertexPath } from './PlanFeatures';

L.PM.setOptIn(true);

export type DrawShape = 'Polygon' | 'Line';
/** A wall or a polygon on the map. */
export type ShapeLayer = L.Polyline | L.Polygon;
export interface DrawTips { firstVertex: string; continueLine: string; finishLine: string; finishPoly: string }
/** Snap to another shape's vertex or edge within this many pixels (Alt held: no snapping). */
const SNAP_PX = 12;

interface DrawInternals { enabled(): boolean; _finishShape(): void; _removeLastVertex(): void }
const drawer = (map: L.Map, shape: DrawShape) => map.pm.Draw[shape] as unknown as DrawInternals;
const plain = (ll: L.LatLng): LatLng => [ll.lat, ll.lng];

/** Gives the map its `pm` (geoman's init hook only sees maps made after it loaded) and the tooltips' language. */
export function prepare(map: L.Map, lang: 'zh' | 'en', tips: DrawTips, pane: string): void {
  const m = map as unknown as { pm?: L.PM.PMMap };
  if (!m.pm) m.pm = new (L.PM as unknown as { Map: new (map: L.Map) => L.PM.PMMap }).Map(map);
  map.pm.setGlobalOptions({ panes: { layerPane: pane }, snappable: true, snapDistance: SNAP_PX, exitModeOnEscape: true });
  map.pm.setLang(lang, { tooltips: tips }, lang);
}

/** A layer's vertices: a polygon's rings or a line's points. */
export function latLngsOfLayer(layer: ShapeLayer): ShapeLatLngs {
  const ll = layer.getLatLngs() as L.LatLng[] | L.LatLng[][];
  return layer instanceof L.Polygon ? (ll as L.LatLng[][]).map((r) => r.map(plain)) : (ll as L.LatLng[]).map(plain);
}

/**
 * Draws one polygon or wall: `count` after each vertex, `created` with the vertices when it is
 * closed (the layer geoman made is removed: the editor keeps the shape), `ended` when drawing stops
 * either way (Esc cancels). Returns the function that stops it.
 */
export function draw(map: L.Map, shape: DrawShape, style: L.PathOptions, on: { count(n: number): void; created(ll: LatLng[]): void; ended(): void }): () => void {
  const started = (e: { workingLayer: L.Layer }) => {
    const wl = e.workingLayer as L.Polyline;
    wl.on('pm:vertexadded pm:vertexremoved', () => on.count((wl.getLatLngs() as L.LatLng[]).length));
  };
  const created = (e: { layer: L.Layer }) => {
    const layer = e.layer as L.Polyline;
    const ll = latLngsOfLayer(layer);
    layer.remove();
    on.created((Array.isArray(ll[0]?.[0]) ? (ll as LatLng[][])[0]! : ll) as LatLng[]);
  };
  const ended = () => on.ended();
  map.on('pm:drawstart', started);
  map.on('pm:create', created);
  map.on('pm:drawend', ended);
  map.pm.enableDraw(shape, {
    templineStyle: style,
    hintlineStyle: { ...style, dashArray: '4 4' },
    pathOptions: { ...style, pmIgnore: false },
    allowSelfIntersection: true, // shown, not prevented: the server is the judge (and says why)
    snappable: true,
    snapDistance: SNAP_PX,
    tooltips: true,
    continueDrawing: false,
  });
  return () => {
    map.off('pm:drawstart', started);
    map.off('pm:create', created);
    map.off('pm:drawend', ended);
    if (drawer(map, shape).enabled()) map.pm.disableDraw(shape);
  };
}

/** Closes the shape being drawn when it has enough vertices (geoman checks). */
export function finish(map: L.Map, shape: DrawShape): void {
  const d = drawer(map, shape);
  if (d.enabled()) d._finishShape();
}
/** Takes back the last vertex drawn (not the first: that would end the drawing). */
export function removeLastVertex(map: L.Map, shape: DrawShape, count: number): void {
  const d = drawer(map, shape);
  if (d.enabled() && count > 1) d._removeLastVertex();
}

/**
 * Edits one shape on the map: in 'vertices' mode its vertices can be dragged, a midpoint handle
 * dragged or clicked inserts one, a right-click removes one (never below 3, or 2 for a wall); in
 * 'move' mode the whole shape is dragged. `edited` after each step, `changed` while a vertex moves,
 * `vertex` with the vertex last clicked (null after an edit). `busy` while a handle or the shape is dragged.
 */
export function edit(
  layer: ShapeLayer,
  mode: 'vertices' | 'move',
  on: { edited(ll: ShapeLatLngs): void; changed(ll: ShapeLatLngs): void; vertex(path: VertexPath | null): void },
): { stop(): void; busy(): boolean } {
  let picked: HTMLElement | null = null;
  // a midpoint handle reports its new vertex when its drag starts: the layer must live on until the drag ends
  let dragging = false;
  const grab = () => void (dragging = true);
  const release = () => void (dragging = false);
  const pick = (el: HTMLElement | null) => {
    picked?.classList.remove('plan-vertex-picked');
    picked = el;
    picked?.classList.add('plan-vertex-picked');
  };
  const edited = () => {
    pick(null);
    on.vertex(null);
    on.edited(latLngsOfLayer(layer));
  };
  const changed = () => on.changed(latLngsOfLayer(layer));
  const clicked = (e: { indexPath: number | number[]; markerEvent: { target?: L.Marker } }) => {
    pick(e.markerEvent.target?.getElement() ?? null);
    on.vertex(Array.isArray(e.indexPath) ? e.indexPath : [e.indexPath]);
  };
  layer.on('pm:markerdragstart pm:dragstart', grab);
  layer.on('pm:markerdragend pm:dragend', release);
  layer.on('pm:edit', edited);
  layer.on('pm:change', changed);
  layer.on('pm:vertexclick', clicked as unknown as L.LeafletEventHandlerFn);
  layer.pm.setOptions({ allowSelfIntersection: true, removeLayerBelowMinVertexCount: false, snappable: true, snapDistance: SNAP_PX, draggable: true });
  if (mode === 'vertices') layer.pm.enable();
  else layer.pm.enableLayerDrag();
  const stop = () => {
    layer.off('pm:markerdragstart pm:dragstart', grab);
    layer.off('pm:markerdragend pm:dragend', release);
    layer.off('pm:edit', edited);
    layer.off('pm:change', changed);
    layer.off('pm:vertexclick', clicked as unknown as L.LeafletEventHandlerFn);
    if (layer.pm.layerDragEnabled()) layer.pm.disableLayerDrag();
    layer.pm.disable();
  };
  return { stop, busy: () => dragging };
}

/** Whether a polygon's edges cross (turf's kinks, as geoman checks its own layers). */
export function selfIntersects(rings: LatLng[][]): boolean {
  return L.polygon(rings, { pmIgnore: false }).pm.hasSelfIntersection();
}
