/** Where and how the plan editor draws on the map: its own pane and SVG renderer, and its shapes' styles. */
import L from 'leaflet';
import type { ShapeKind } from './PlanFeatures';

/**
 * The editor's pane: above the plan the school view draws (overlayPane, 400), below the vertex
 * handles (markerPane, 600), so the shape being edited is never covered by a redraw of the plan.
 * Its SVG root lets clicks through (style.css) to the plan below; its interactive paths take them.
 */
export const EDIT_PANE = 'plan-edit';
const renderers = new WeakMap<L.Map, L.Renderer>();

/** The editor's SVG renderer (the map prefers canvas; the plan is SVG). */
export function editRenderer(map: L.Map): L.Renderer {
  if (!map.getPane(EDIT_PANE)) map.createPane(EDIT_PANE).style.zIndex = '450';
  let r = renderers.get(map);
  if (!r) {
    r = L.svg({ pane: EDIT_PANE });
    renderers.set(map, r);
  }
  return r;
}

export const DRAW_COLOUR = '#7c3aed';
const INVALID_COLOUR = '#dc2626';

/** The shape being edited: its kind's look, outlined in the editor's colour, red when its edges cross. */
export function shapeStyle(kind: ShapeKind, invalid: boolean): L.PathOptions {
  const color = invalid ? INVALID_COLOUR : DRAW_COLOUR;
  if (kind === 'wall') return { color, weight: 5, opacity: 0.9 };
  // no fill: the outline is a boundary, a click inside the campus is for the shapes there
  if (kind === 'outline') return { color, weight: 3, dashArray: '6 4', fill: false };
  if (kind === 'building') return { color, weight: 3, fillColor: invalid ? INVALID_COLOUR : '#94a3b8', fillOpacity: 0.6 };
  return { color, weight: 3, fillColor: invalid ? INVALID_COLOUR : '#a78bfa', fillOpacity: 0.35 };
}

/** Lines while drawing. */
export const drawStyle = (map: L.Map): L.PathOptions => ({ renderer: editRenderer(map), pane: EDIT_PANE, color: DRAW_COLOUR, weight: 2 });
