/**
 * Placing a device on the school map — accepting it from the inbox, or moving an enrolled one —
 * with a camera's coverage following every change: a click sets the position, the blue pin drags
 * it, the orange handle turns the heading, the purple one widens or narrows the field of view.
 * Each change asks the collector for a what-if coverage (POST …/coverage/preview: at most one
 * request in flight, the latest state wins) that the school view draws (key areas recoloured,
 * blind spots hatched, through `onPreview`); this draws the camera's view at its true range and
 * says the expected figures. 确认 saves (accept, or PUT …/placement); 取消 drops it all.
 */
import { useEffect, useMemo, useRef, useState, type ChangeEvent } from 'react';
import L from 'leaflet';
import { auth, devicePath, post, put, schoolPath, type CoveragePreview, type Placement, type PreviewRequest } from '../api';
import { failureText } from '../auth/session';
import { num, pct } from '../i18n/index';
import type { T } from '../App';
import { angleBetween, bearingDeg, rangeAtPpm, sector } from '../geo';
import { LatestOnly } from './latestOnly';

export interface PlacingTarget {
  mode: 'accept' | 'move';
  device: { agentId: string; deviceId: string; kind: string; attributes?: Record<string, string | number | boolean> };
  /** where a device being moved is now (lon/lat), kept for the fields the form does not edit */
  placement: Placement | null;
}

interface Form { lon: number | null; lat: number | null; heading: string; hfov: string; height: string; building: string }

/**
 * Screen distance of the heading and field-of-view handles from the pin, whatever the zoom; the
 * field-of-view handle farther out, so that the two stay apart however narrow the view.
 */
const HEADING_HANDLE_PX = 70;
const FOV_HANDLE_PX = 100;
/** The outline's range before the first preview says how far the camera really sees. */
const FALLBACK_RANGE_M = 25;
const MAX_DRAWN_RANGE_M = 200;
const BLUE = '#2563eb';

const pinIcon = (cls: string) => L.divIcon({ className: `placing ${cls}`, iconSize: [16, 16], iconAnchor: [8, 8] });
const fixed7 = (x: number) => Number(x.toFixed(7));
const numberOrUndefined = (s: string) => (s.trim() === '' ? undefined : Number(s));

function initialForm(target: PlacingTarget): Form {
  const p = target.placement;
  const pos = p?.position && 'lon' in p.position ? p.position : null;
  return {
    lon: pos?.lon ?? null,
    lat: pos?.lat ?? null,
    heading: String(p?.camera?.headingDeg ?? 0),
    hfov: String(p?.camera?.hfovDeg ?? target.device.attributes?.hfovDeg ?? 60),
    height: String(p?.camera?.mountHeightM ?? 3),
    building: p?.building ?? '',
  };
}

/** The form as a placement (on top of what a moved device had); null until there is a position. */
function placementOf(f: Form, target: PlacingTarget): Placement | null {
  if (f.lon == null || f.lat == null) return null;
  const { building: _b, ...rest } = target.placement ?? {};
  const p: Placement = { ...rest, position: { lon: f.lon, lat: f.lat } };
  if (f.building.trim()) p.building = f.building.trim();
  const h = numberOrUndefined(f.heading);
  if (target.device.kind === 'camera' && h !== undefined) {
    const fov = numberOrUndefined(f.hfov), m = numberOrUndefined(f.height);
    p.camera = { ...target.placement?.camera, headingDeg: Number.isFinite(h) ? ((h % 360) + 360) % 360 : h };
    if (fov !== undefined) p.camera.hfovDeg = fov;
    if (m !== undefined) p.camera.mountHeightM = m;
  }
  return p;
}

/**
 * How far to draw the sector outline: the camera's range at the strictest level among the key areas
 * its view reaches (the loosest level of the plan when it reaches none), on the ground.
 */
function outlineRange(p: CoveragePreview | null, hfov: number, heightM: number): number {
  const cam = p?.previewed[0];
  if (!cam || !(hfov > 0)) return FALLBACK_RANGE_M;
  const reached = cam.views.filter((v) => v.keyAreas.length);
  const v = reached.length ? reached.reduce((a, b) => (b.requiredPpm > a.requiredPpm ? b : a)) : cam.views[0];
  if (!v) return FALLBACK_RANGE_M;
  const slant = rangeAtPpm(cam.horizontalPixels, hfov, v.requiredPpm);
  return Math.min(MAX_DRAWN_RANGE_M, Math.sqrt(Math.max(0, slant * slant - heightM * heightM)));
}

export function CameraPlacer({ map, t, school, target, onPreview, onDone }: {
  map: L.Map;
  t: T;
  school: string;
  target: PlacingTarget;
  /** the latest what-if coverage (null: show the stored one) */
  onPreview: (p: CoveragePreview | null) => void;
  /** saved (the placement stored) or cancelled (null) */
  onDone: (saved: Placement | null) => void;
}) {
  const { agentId, deviceId, kind } = target.device;
  const isCamera = kind === 'camera';
  const [form, setForm] = useState<Form>(() => initialForm(target));
  const [preview, setPreview] = useState<{ report: CoveragePreview; body: string } | null>(null);
  const [previewError, setPreviewError] = useState<{ message: string; body: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [saving, setSaving] = useState(false);
  const [zoomTick, setZoomTick] = useState(0);
  const panel = useRef<HTMLDivElement>(null);
  const onPreviewRef = useRef(onPreview);
  onPreviewRef.current = onPreview;
  const onDoneRef = useRef(onDone);
  onDoneRef.current = onDone;

  const placement = useMemo(() => placementOf(form, target), [form, target]);
  const body = useMemo(() => (placement && isCamera ? JSON.stringify({ cameras: [{ agentId, deviceId, placement }] } satisfies PreviewRequest) : null), [placement, isCamera, agentId, deviceId]);

  // what-if coverage for the latest state, one request at a time
  const queue = useRef<LatestOnly<string, CoveragePreview> | null>(null);
  useEffect(() => {
    const q = new LatestOnly<string, CoveragePreview>({
      send: (b) => post<CoveragePreview>(`${schoolPath(school)}/coverage/preview`, JSON.parse(b) as PreviewRequest),
      onResult: (report, b) => {
        setPreview({ report, body: b });
        setPreviewError(null);
        onPreviewRef.current(report);
      },
      onError: (err, b, stale) => {
        if (stale) return;
        // a state the server refuses (a field out of range): say why, and show the stored coverage
        setPreviewError({ message: (err as Error).message, body: b });
        setPreview(null);
        onPreviewRef.current(null);
      },
      onBusy: setBusy,
    });
    queue.current = q;
    return () => {
      q.stop();
      onPreviewRef.current(null);
    };
  }, [school]);
  useEffect(() => {
    if (body) queue.current?.push(body);
  }, [body]);

  useEffect(() => {
    // a block: scrollIntoView returns a promise in recent browsers, and an effect may only return its cleanup
    void panel.current?.scrollIntoView({ block: 'nearest' });
  }, []);

  // a click on the map sets the position; Escape cancels
  useEffect(() => {
    const click = (e: L.LeafletMouseEvent) => setForm((f) => ({ ...f, lon: fixed7(e.latlng.lng), lat: fixed7(e.latlng.lat) }));
    const key = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onDoneRef.current(null);
    };
    const zoom = () => setZoomTick((z) => z + 1);
    map.on('click', click);
    map.on('zoomend', zoom);
    document.addEventListener('keydown', key);
    map.getContainer().style.cursor = 'crosshair';
    return () => {
      map.off('click', click);
      map.off('zoomend', zoom);
      document.removeEventListener('keydown', key);
      map.getContainer().style.cursor = '';
    };
  }, [map]);

  // the layers: views and outline in a pane above the plan (the plan is redrawn on every preview),
  // the pin and handles as markers; created once, moved by the effect below
  const layers = useRef<{ g: L.FeatureGroup; views: L.FeatureGroup; outline: L.Polygon; pos: L.Marker; tip: L.Marker; fov: L.Marker; svg: L.SVG; dragging: 'pos' | 'tip' | 'fov' | null } | null>(null);
  useEffect(() => {
    if (!map.getPane('placing')) map.createPane('placing').style.zIndex = '450';
    const svg = L.svg({ pane: 'placing' });
    const g = L.featureGroup().addTo(map);
    const views = L.featureGroup().addTo(g);
    const outline = L.polygon([], { renderer: svg, pane: 'placing', color: BLUE, weight: 2, dashArray: '6 4', fill: false, className: 'sector placing-sector', interactive: false });
    const pos = L.marker([0, 0], { draggable: true, icon: pinIcon('placing-pos'), zIndexOffset: 1000, keyboard: false, title: t('position') });
    const tip = L.marker([0, 0], { draggable: true, icon: pinIcon('heading-handle'), zIndexOffset: 1001, keyboard: false, title: t('heading') });
    const fov = L.marker([0, 0], { draggable: true, icon: pinIcon('fov-handle'), zIndexOffset: 1001, keyboard: false, title: t('hfov') });
    const l = { g, views, outline, pos, tip, fov, svg, dragging: null as 'pos' | 'tip' | 'fov' | null };
    layers.current = l;
    const at = (ll: L.LatLng) => ({ lon: fixed7(ll.lng), lat: fixed7(ll.lat) });
    const move = () => setForm((f) => ({ ...f, ...at(pos.getLatLng()) }));
    const turn = () => setForm((f) => ({ ...f, heading: String(bearingDeg(pos.getLatLng(), tip.getLatLng())) }));
    // the handle sits on one edge of the sector: the field of view is twice its angle off the heading
    const widen = () => setForm((f) => ({ ...f, hfov: String(Math.max(1, Math.min(360, 2 * angleBetween(bearingDeg(pos.getLatLng(), fov.getLatLng()), Number(f.heading) || 0)))) }));
    for (const [m, name, on] of [[pos, 'pos', move], [tip, 'tip', turn], [fov, 'fov', widen]] as const) {
      m.on('dragstart', () => void (l.dragging = name));
      m.on('drag', on);
      m.on('dragend', () => {
        l.dragging = null;
        on();
      });
    }
    return () => {
      g.remove();
      svg.remove();
      layers.current = null;
    };
    // t only names the handles
  }, [map]);

  useEffect(() => {
    const l = layers.current;
    if (!l) return;
    const { g, outline, pos, tip, fov } = l;
    if (form.lat == null || form.lon == null) {
      for (const x of [outline, pos, tip, fov]) g.removeLayer(x);
      return;
    }
    const lat = form.lat, lon = form.lon;
    if (l.dragging !== 'pos') pos.setLatLng([lat, lon]);
    g.addLayer(pos);
    const h = Number(form.heading), f = Number(form.hfov);
    if (!isCamera || form.heading === '' || !Number.isFinite(h)) {
      for (const x of [outline, tip, fov]) g.removeLayer(x);
      return;
    }
    // handles a fixed number of pixels out along the heading and along the sector's edge
    const handle = (bearing: number, px: number) => {
      const p = map.latLngToContainerPoint([lat, lon]), b = (bearing * Math.PI) / 180;
      return map.containerPointToLatLng([p.x + px * Math.sin(b), p.y - px * Math.cos(b)]);
    };
    if (l.dragging !== 'tip') tip.setLatLng(handle(h, HEADING_HANDLE_PX));
    g.addLayer(tip);
    if (f > 0 && f <= 360) {
      outline.setLatLngs(sector(lon, lat, h, f, outlineRange(preview?.report ?? null, f, Number(form.height) || 0)));
      g.addLayer(outline);
      if (l.dragging !== 'fov') fov.setLatLng(handle(h + f / 2, FOV_HANDLE_PX));
      g.addLayer(fov);
    } else for (const x of [outline, fov]) g.removeLayer(x);
  }, [form, preview, isCamera, map, zoomTick]);

  // the server's view at each required level: the levels whose key areas it reaches stronger
  useEffect(() => {
    const l = layers.current;
    if (!l) return;
    l.views.clearLayers();
    const cam = preview?.report.previewed[0];
    if (!cam || form.lat == null) return;
    for (const v of cam.views) {
      const reaches = v.keyAreas.length > 0;
      for (const poly of v.polygons)
        L.geoJSON(poly as unknown as GeoJSON.GeoJsonObject, {
          pane: 'placing',
          interactive: false,
          style: { renderer: l.svg, color: BLUE, weight: reaches ? 1.5 : 0.5, fillColor: BLUE, fillOpacity: reaches ? 0.3 : 0.07, className: `preview-view preview-view-${v.level}${reaches ? ' reaches' : ''}` },
        }).addTo(l.views);
    }
  }, [preview, form.lat]);

  const confirm = async () => {
    if (!auth.token) return setError(t('needToken'));
    if (!placement) return;
    try {
      setError('');
      setSaving(true);
      const path = devicePath(school, agentId, deviceId);
      if (target.mode === 'accept') await post(`${path}/accept`, { placement });
      else await put(`${path}/placement`, { placement });
      onDone(placement);
    } catch (err) {
      // the form stays as it is: after a 401 the sign-in form is open, and 确定 again retries
      setError(failureText(t, err));
      setSaving(false);
    }
  };

  const report = preview?.report;
  const settled = !busy && body !== null && (preview?.body === body || previewError?.body === body);
  const cam = report?.previewed[0];
  const current = new Map((report?.current.areas ?? []).map((a) => [a.id, a.coveredShare]));
  const signed = (d: number) => `${d > 0 ? '+' : d < 0 ? '−' : '±'}${num(Math.abs(d) * 100)}`;
  const set = (k: keyof Form) => (e: ChangeEvent<HTMLInputElement>) => setForm({ ...form, [k]: e.target.value });

  return (
    <div className="place" data-testid="placement" data-mode={target.mode} data-device={deviceId} ref={panel}>
      <strong className="wide">{t(target.mode === 'move' ? 'moveTitle' : 'acceptTitle')}：{deviceId}</strong>
      <span className="wide">{t('placeHint')}{isCamera && form.lat != null ? `；${t('dragHint')}` : ''}</span>
      <span>{t('position')}</span>
      <span data-testid="placement-position">{form.lat != null ? `${form.lon}, ${form.lat}` : '—'}</span>
      <label htmlFor="pl-b">{t('building')}</label>
      <input id="pl-b" value={form.building} onChange={set('building')} />
      {isCamera && (
        <>
          <label htmlFor="pl-h">{t('heading')}</label>
          <input id="pl-h" data-testid="heading" type="number" min={0} max={359} value={form.heading} onChange={set('heading')} />
          <label htmlFor="pl-f">{t('hfov')}</label>
          <input id="pl-f" data-testid="hfov" type="number" min={1} max={360} value={form.hfov} onChange={set('hfov')} />
          <label htmlFor="pl-m">{t('mountHeight')}</label>
          <input id="pl-m" data-testid="mount-height" type="number" min={0} max={100} value={form.height} onChange={set('height')} />
          <div className="wide preview" data-testid="preview" data-settled={String(settled)}>
            {!report && !previewError && <span className="muted">{t(form.lat == null ? 'previewNeedsPosition' : 'previewComputing')}</span>}
            {previewError && <span className="error" data-testid="preview-error">{t('previewFailed')}：{previewError.message}</span>}
            {report && cam && (
              <>
                <p data-testid="preview-coverage" data-value={report.weightedCoverage} data-current={report.current.weightedCoverage} data-settled={String(settled)}>
                  {t('previewLine').replace('{expected}', pct(report.weightedCoverage)).replace('{current}', pct(report.current.weightedCoverage))}
                  {busy && <small className="muted"> {t('previewComputing')}</small>}
                </p>
                {!cam.healthy && (
                  <p className="muted" data-testid="preview-if-healthy" data-value={report.ifPreviewedHealthy.weightedCoverage}>
                    {t('previewIfHealthy').replace('{expected}', pct(report.ifPreviewedHealthy.weightedCoverage))}
                  </p>
                )}
                <table data-testid="preview-areas">
                  <thead>
                    <tr><th>{t('keyAreas')}</th><th>{t('previewNow')}</th><th>{t('previewExpected')}</th><th>{t('previewChange')}</th></tr>
                  </thead>
                  <tbody>
                    {report.areas.map((a) => {
                      const before = current.get(a.id) ?? 0, d = a.coveredShare - before;
                      const changed = Math.abs(d) >= 0.0005;
                      return (
                        <tr key={a.id} data-area={a.id} data-covered={a.coveredShare} data-current={before} className={changed ? 'changed' : 'unchanged'}>
                          <td>{a.name}</td>
                          <td>{pct(before)}</td>
                          <td className={a.fullyCovered ? 'pass' : 'fail'}>{pct(a.coveredShare)}</td>
                          <td className={d > 0 ? 'pass' : d < 0 ? 'fail' : ''}>{changed ? signed(d) : '—'}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
                <small className="muted">{t('previewSectorHint')}</small>
              </>
            )}
          </div>
        </>
      )}
      {error && <span className="wide error" data-testid="placement-error">{error}</span>}
      <button data-testid="confirm-placement" disabled={placement == null || saving} onClick={() => void confirm()}>{t('confirm')}</button>
      <button data-testid="cancel-placement" onClick={() => onDone(null)}>{t('cancel')}</button>
    </div>
  );
}

