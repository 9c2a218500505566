import { useEffect, useRef } from 'react';
import L from 'leaflet';
import type { FloorPlanGeoref } from '../api';
import { AffineImageOverlay } from './FloorPlanOverlay';

/** Why the image is not drawn: not fetched or its header unreadable ('load'), or its pixels not decodable ('decode'). */
export type ImageFailure = 'load' | 'decode';
import { bottomRight, centreOf, dragBottomRight, moveTo, type CornerKey, type Corners } from './FloorPlanPlacement';

type Handle = CornerKey | 'bottomRight' | 'centre';
const HANDLES: Handle[] = ['topLeft', 'topRight', 'bottomLeft', 'bottomRight', 'centre'];
const CLASS: Record<Handle, string> = { topLeft: 'fp-corner fp-tl', topRight: 'fp-corner fp-tr', bottomLeft: 'fp-corner fp-bl', bottomRight: 'fp-turn fp-br', centre: 'fp-move' };
const icon = (h: Handle) => L.divIcon({ className: `fp-handle ${CLASS[h]}`, iconSize: h === 'centre' ? [20, 20] : [14, 14] });
const ll = (p: { lon: number; lat: number }) => L.latLng(p.lat, p.lon);
const positionOf = (c: Corners, h: Handle) => (h === 'bottomRight' ? bottomRight(c) : h === 'centre' ? centreOf(c) : c[h]);

/**
 * The floor-plan image on the map (under the campus plan) and, while georeferencing, its handles:
 * the three defining corners each move alone (the image may skew), the centre moves the whole
 * image, the bottom-right corner turns and scales it about the centre. Draws nothing itself in React.
 */
export function FloorPlanLayer({ map, url, size, corners, opacity, editing, onChange, onImageError }: {
  map: L.Map;
  url: string;
  size: { width: number; height: number };
  corners: FloorPlanGeoref;
  opacity: number;
  editing: boolean;
  onChange: (c: Corners) => void;
  onImageError: (why: ImageFailure) => void;
}) {
  const overlay = useRef<AffineImageOverlay | null>(null);
  const latest = useRef({ corners, onChange, onImageError });
  latest.current = { corners, onChange, onImageError };

  // the image: one layer per file; corners and opacity are set on it below
  useEffect(() => {
    const o = new AffineImageOverlay(url, size, latest.current.corners, { opacity, className: 'floorplan-image' });
    o.on('error', () => latest.current.onImageError('load'));
    o.on('undecodable', () => latest.current.onImageError('decode'));
    o.addTo(map);
    overlay.current = o;
    // style.css lets the drawing show through the plan's outline and buildings
    const box = map.getContainer().dataset;
    box.floorplan = 'shown';
    return () => {
      o.remove();
      overlay.current = null;
      delete box.floorplan;
    };
  }, [map, url, size.width, size.height]);
  useEffect(() => void overlay.current?.setCorners(corners), [corners]);
  useEffect(() => void overlay.current?.setOpacity(opacity), [opacity]);

  // the handles, while georeferencing; a drag works from the corners as they were when it began
  const handles = useRef<Map<Handle, L.Marker> | null>(null);
  const dragging = useRef<Handle | null>(null);
  useEffect(() => {
    if (!editing) return;
    const g = L.featureGroup().addTo(map);
    const markers = new Map<Handle, L.Marker>();
    let start: Corners | null = null;
    for (const h of HANDLES) {
      const m = L.marker(ll(positionOf(latest.current.corners, h)), { draggable: true, icon: icon(h), zIndexOffset: 1000, keyboard: false }).addTo(g);
      m.on('dragstart', () => {
        dragging.current = h;
        start = latest.current.corners;
      });
      m.on('drag', () => {
        if (!start) return;
        const p = m.getLatLng(), to = { lon: p.lng, lat: p.lat };
        latest.current.onChange(h === 'centre' ? moveTo(start, to) : h === 'bottomRight' ? dragBottomRight(start, to) : { ...start, [h]: to });
      });
      m.on('dragend', () => {
        dragging.current = null;
        start = null;
        // the dropped handle goes where the placement says (the turn handle may not land exactly on the pointer)
        m.setLatLng(ll(positionOf(latest.current.corners, h)));
      });
      markers.set(h, m);
    }
    handles.current = markers;
    return () => {
      g.remove();
      handles.current = null;
    };
  }, [map, editing]);
  useEffect(() => {
    for (const [h, m] of handles.current ?? []) if (dragging.current !== h) m.setLatLng(ll(positionOf(corners, h)));
  }, [corners]);

  return null;
}
