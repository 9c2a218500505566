import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import L from 'leaflet';
import { auth, get, maybe, post, schoolPath, type CoverageReport, type DeviceDetail, type FeatureCollection, type Inbox, type InboxDevice, type Placement, type School, type SchoolCompliance } from '../api';
import { date, num, pct } from '../i18n/index';
import { go, type Route } from '../route';
import type { ViewProps } from '../App';
import { offset, planToLatLng, rangeAtPpm, sector } from '../geo';
import { DevicePanel } from './DeviceDetail';
import { PlannedImport } from './PlannedImport';
import { PlanEditor } from './PlanEditor';

interface Placing { device: InboxDevice; lon: number | null; lat: number | null; heading: string; hfov: string; height: string; building: string }
/** Placements the console knows: from the console's map route when there is one, and those accepted here. */
type Known = Map<string, Placement>;

/** Metres of the placing preview's sector, and so the distance of its heading handle. */
const PREVIEW_RANGE_M = 25;
/** Bearing (degrees clockwise from north, 0..359) from one point to another. */
function bearing(from: L.LatLng, to: L.LatLng): number {
  const east = (to.lng - from.lng) * Math.cos((from.lat * Math.PI) / 180), north = to.lat - from.lat;
  return Math.round(((Math.atan2(east, north) * 180) / Math.PI + 360) % 360) % 360;
}
const pinIcon = (cls: string) => L.divIcon({ className: cls, iconSize: [16, 16], iconAnchor: [8, 8] });

const areaColour = (share: number, full: boolean) => (full ? '#16a34a' : share >= 0.5 ? '#f59e0b' : '#dc2626');

export function SchoolView({ map, t, lang, live, route }: ViewProps & { route: Extract<Route, { view: 'school' }> }) {
  const code = route.school;
  const [school, setSchool] = useState<School | null>(null);
  const [campus, setCampus] = useState<FeatureCollection | null | 'none'>(null);
  const [cov, setCov] = useState<CoverageReport | null>(null);
  const [comp, setComp] = useState<SchoolCompliance | null>(null);
  const [inbox, setInbox] = useState<Inbox | null>(null);
  const [devices, setDevices] = useState<DeviceDetail[]>([]);
  const [known, setKnown] = useState<Known>(new Map());
  const [placing, setPlacing] = useState<Placing | null>(null);
  const [error, setError] = useState('');
  const [rev, setRev] = useState(0);
  /** the plan being edited (编辑平面图), drawn instead of the stored one */
  const [draft, setDraft] = useState<FeatureCollection | null>(null);

  const reload = useCallback(() => setRev((r) => r + 1), []);

  useEffect(() => {
    let alive = true;
    void (async () => {
      try {
        const p = schoolPath(code);
        const [s, fc, c, cp, ib, ds, m] = await Promise.all([
          get<School>(p),
          maybe<FeatureCollection>(`${p}/campus`).catch(() => null),
          maybe<CoverageReport>(`${p}/coverage`).catch(() => null),
          get<SchoolCompliance>(`${p}/compliance`).catch(() => null),
          get<Inbox>(`${p}/inbox`),
          get<DeviceDetail[]>(`${p}/devices`),
          maybe<{ devices?: Array<{ deviceId?: string; camera?: Placement['camera'] | null }> }>(`${p}/map`).catch(() => null),
        ]);
        if (!alive) return;
        setSchool(s);
        setCampus(fc ?? 'none');
        setCov(c);
        setComp(cp);
        setInbox(ib);
        setDevices(ds);
        // every enrolled camera's heading, from the console route `GET …/map` when the collector has it
        if (m?.devices) setKnown((k) => new Map([...k, ...m.devices!.filter((x) => x.deviceId && x.camera).map((x) => [x.deviceId!, { camera: x.camera! }] as const)]));
      } catch (err) {
        if (alive) setError((err as Error).message);
      }
    })();
    return () => {
      alive = false;
    };
  }, [code, rev]);

  // live: refetch when something changed at this school
  useEffect(() => {
    if (live && live.school === code) {
      const h = setTimeout(reload, 300);
      return () => clearTimeout(h);
    }
  }, [live, code, reload]);

  const fc = campus && campus !== 'none' ? campus : null;
  const shown = draft ?? fc;
  const anchor = fc?.frame?.kind === 'wgs84' ? fc.frame : cov?.frame.kind === 'wgs84' ? cov.frame : null;

  // the campus plan: outline, buildings, walls, key areas by coverage, blind spots hatched, cameras and sectors
  useEffect(() => {
    if (!shown) return;
    const svg = L.svg(); // SVG (not canvas) so that the blind spots can use the hatch pattern
    const g = L.featureGroup().addTo(map);
    const areas = new Map((cov?.areas ?? []).map((a) => [a.id, a]));
    L.geoJSON(shown as unknown as GeoJSON.GeoJsonObject, {
      style: (f): L.PathOptions => ({ renderer: svg, ...styleOf(f) }),
      onEachFeature: (f, l) => {
        const a = areas.get(String(f.id));
        l.bindTooltip(a ? `${a.name} · ${pct(a.coveredShare)}` : String((f.properties as Record<string, unknown> | null)?.name ?? ''));
      },
    }).addTo(g);
    function styleOf(f: GeoJSON.Feature | undefined): L.PathOptions {
        const p = (f?.properties ?? {}) as Record<string, unknown>;
        if (p.kind === 'outline') return { color: '#334155', weight: 2, fillColor: '#f8fafc', fillOpacity: 0.6, dashArray: '6 4' };
        if (p.kind === 'building') return { color: '#475569', weight: 1, fillColor: '#94a3b8', fillOpacity: 0.8 };
        if (p.kind === 'wall') return { color: '#111827', weight: 4 };
        const a = areas.get(String(f?.id));
        return { color: '#1e3a5f', weight: 1, fillColor: a ? areaColour(a.coveredShare, a.fullyCovered) : '#cbd5e1', fillOpacity: 0.45, className: `key-area key-area-${String(f?.id)}` };
    }
    let blind = 0;
    for (const a of cov?.areas ?? []) {
      for (const poly of a.blindSpots) {
        L.geoJSON(poly as unknown as GeoJSON.GeoJsonObject, { style: { renderer: svg, color: '#dc2626', weight: 1.5, dashArray: '3 3', fillColor: 'url(#campus-hatch)', fillOpacity: 1, className: `blind-spot blind-spot-${a.id}` } })
          .bindTooltip(`${t('blindSpot')} · ${a.name} · ${num(a.blindSpotM2)} m²`)
          .addTo(g);
        blind++;
      }
    }
    let sectors = 0;
    if (cov && anchor) {
      for (const c of cov.cameras) {
        if (!c.position) continue;
        const [lat, lon] = planToLatLng(anchor.anchor, anchor.rotationDeg, c.position);
        const pl = known.get(c.deviceId);
        const colour = c.healthy ? '#16a34a' : c.online ? '#f59e0b' : '#dc2626';
        if (pl?.camera && c.hfovDeg) {
          const ppm = Math.max(...cov.areas.filter((a) => a.cameraIds.includes(c.id) || a.cameraIds.includes(c.deviceId)).map((a) => a.requiredPpm), Math.min(...cov.areas.map((a) => a.requiredPpm)));
          const range = Math.min(200, rangeAtPpm(c.horizontalPixels, c.hfovDeg, ppm));
          L.polygon(sector(lon, lat, pl.camera.headingDeg, c.hfovDeg, range), { renderer: svg, color: colour, weight: 1, fillColor: colour, fillOpacity: 0.18, className: `sector sector-${c.deviceId}` }).addTo(g);
          sectors++;
        }
        L.circleMarker([lat, lon], { renderer: svg, radius: 6, color: '#fff', weight: 2, fillColor: colour, fillOpacity: 1, className: `camera camera-${c.deviceId}` })
          .bindTooltip(`${c.deviceId} · ${c.healthy ? t('healthy') : t('unhealthy')}${c.problem ? ` · ${c.problem}` : ''}`)
          .on('click', () => go({ view: 'school', school: code, selected: c.deviceId }))
          .addTo(g);
      }
    }
    const c = map.getContainer().dataset;
    c.blindSpots = String(blind);
    c.sectors = String(sectors);
    c.campus = '1';
    return () => void g.remove();
  }, [map, shown, cov, known, anchor, code, t]);

  // fit to the campus once
  useEffect(() => {
    if (fc) map.fitBounds(L.geoJSON(fc as unknown as GeoJSON.GeoJsonObject).getBounds(), { padding: [20, 20] });
    else if (school?.lat != null && school.lon != null) map.setView([school.lat, school.lon], 17);
  }, [map, fc, school]);

  // placing: a click on the map sets the position
  useEffect(() => {
    if (!placing) return;
    const on = (e: L.LeafletMouseEvent) => setPlacing((p) => (p ? { ...p, lon: Number(e.latlng.lng.toFixed(7)), lat: Number(e.latlng.lat.toFixed(7)) } : p));
    map.on('click', on);
    map.getContainer().style.cursor = 'crosshair';
    return () => {
      map.off('click', on);
      map.getContainer().style.cursor = '';
    };
  }, [map, placing != null]);

  // placing: the preview sector with a draggable position and a heading handle at its tip (kept apart
  // from the plan so that a drag does not redraw it); the layers live while one device is being placed
  const placingLayers = useRef<{ g: L.FeatureGroup; sec: L.Polygon; pos: L.Marker; tip: L.Marker; dragging: 'pos' | 'tip' | null } | null>(null);
  const placingId = placing ? `${placing.device.agentId}/${placing.device.deviceId}` : null;
  useEffect(() => {
    if (!placingId) return;
    const g = L.featureGroup().addTo(map);
    const sec = L.polygon([], { renderer: L.svg(), color: '#2563eb', weight: 2, fillOpacity: 0.2, className: 'sector placing-sector', interactive: false });
    const pos = L.marker([0, 0], { draggable: true, icon: pinIcon('placing placing-pos'), zIndexOffset: 1000, keyboard: false });
    const tip = L.marker([0, 0], { draggable: true, icon: pinIcon('placing heading-handle'), zIndexOffset: 1001, keyboard: false });
    const layers = { g, sec, pos, tip, dragging: null as 'pos' | 'tip' | null };
    placingLayers.current = layers;
    const at = (ll: L.LatLng) => ({ lon: Number(ll.lng.toFixed(7)), lat: Number(ll.lat.toFixed(7)) });
    pos.on('dragstart', () => void (layers.dragging = 'pos'));
    pos.on('drag', () => setPlacing((p) => (p ? { ...p, ...at(pos.getLatLng()) } : p)));
    pos.on('dragend', () => {
      layers.dragging = null;
      setPlacing((p) => (p ? { ...p, ...at(pos.getLatLng()) } : p));
    });
    const turn = () => setPlacing((p) => (p ? { ...p, heading: String(bearing(pos.getLatLng(), tip.getLatLng())) } : p));
    tip.on('dragstart', () => void (layers.dragging = 'tip'));
    tip.on('drag', turn);
    tip.on('dragend', () => {
      layers.dragging = null;
      turn();
    });
    return () => {
      g.remove();
      placingLayers.current = null;
    };
  }, [map, placingId]);
  useEffect(() => {
    const layers = placingLayers.current;
    if (!layers || !placing) return;
    const { g, sec, pos, tip } = layers;
    const placed = placing.lat != null && placing.lon != null;
    const h = Number(placing.heading), f = Number(placing.hfov);
    const camera = placing.device.kind === 'camera' && placing.heading !== '' && Number.isFinite(h);
    if (!placed) {
      g.clearLayers();
      return;
    }
    const lat = placing.lat!, lon = placing.lon!;
    if (layers.dragging !== 'pos') pos.setLatLng([lat, lon]);
    if (!g.hasLayer(pos)) g.addLayer(pos);
    if (camera && f > 0) {
      sec.setLatLngs(sector(lon, lat, h, f, PREVIEW_RANGE_M));
      if (!g.hasLayer(sec)) g.addLayer(sec);
    } else g.removeLayer(sec);
    if (camera) {
      const b = (h * Math.PI) / 180;
      if (layers.dragging !== 'tip') tip.setLatLng(offset(lon, lat, PREVIEW_RANGE_M * Math.sin(b), PREVIEW_RANGE_M * Math.cos(b)));
      if (!g.hasLayer(tip)) g.addLayer(tip);
    } else g.removeLayer(tip);
  }, [placing]);

  const decide = async (d: InboxDevice, action: 'reject' | 'accept', placement?: Placement) => {
    if (!auth.token) return setError(t('needToken'));
    try {
      setError('');
      const path = `${schoolPath(code)}/devices/${encodeURIComponent(d.agentId)}/${encodeURIComponent(d.deviceId)}/${action}`;
      await post(path, action === 'accept' ? { placement } : {});
      if (placement) setKnown((k) => new Map(k).set(d.deviceId, placement));
      setPlacing(null);
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const confirmPlacement = () => {
    if (!placing) return;
    const p: Placement = {};
    if (placing.building) p.building = placing.building;
    if (placing.lon != null && placing.lat != null) p.position = { lon: placing.lon, lat: placing.lat };
    if (placing.device.kind === 'camera' && placing.heading !== '') {
      p.camera = { headingDeg: ((Number(placing.heading) % 360) + 360) % 360 };
      if (placing.hfov) p.camera.hfovDeg = Number(placing.hfov);
      if (placing.height) p.camera.mountHeightM = Number(placing.height);
    }
    void decide(placing.device, 'accept', p);
  };

  const camStatus = useMemo(() => new Map((cov?.cameras ?? []).map((c) => [c.deviceId, c])), [cov]);
  const selectedDevice = route.selected ? devices.find((d) => d.deviceId === route.selected) ?? null : null;
  const titleOf = (f: { title: { zh: string; en: string } }) => (lang === 'en' ? f.title.en : f.title.zh);

  return (
    <div data-testid="school-view" data-school={code}>
      <p>
        <a href="#/city">{t('city')}</a>
        {school && (
          <>
            {' › '}
            <a href={`#/county/${school.countyCode}`}>{t('county')}</a>
          </>
        )}
      </p>
      <h2>{school?.name ?? code}</h2>
      {error && <p className="error" data-testid="error">{error}</p>}
      {selectedDevice && (
        <DevicePanel
          key={`${selectedDevice.agentId}/${selectedDevice.deviceId}`}
          school={code}
          device={selectedDevice}
          step={camStatus.get(selectedDevice.deviceId)?.step ?? null}
          onClose={() => go({ view: 'school', school: code, selected: '' })}
          t={t}
        />
      )}
      {campus === 'none' && <p>{t('noCampus')}</p>}
      {campus !== null && (
        <PlanEditor
          map={map}
          t={t}
          lang={lang}
          code={code}
          campus={fc}
          anchor={school?.lon != null && school.lat != null ? { lon: school.lon, lat: school.lat } : null}
          onDraft={setDraft}
          onSaved={(saved) => {
            setCampus(saved);
            reload();
          }}
        />
      )}
      {cov && (
        <>
          <p>
            {t('weighted')}：<span className="big" data-testid="weighted-coverage" data-value={cov.weightedCoverage}>{pct(cov.weightedCoverage)}</span>
            {' · '}
            {t('fullyCovered')} {pct(cov.fullyCoveredShare)} <small>({date(cov.computedAt)})</small>
          </p>
          <h2>{t('keyAreas')}</h2>
          <table data-testid="areas">
            <thead>
              <tr><th>{t('name')}</th><th>{t('required')}</th><th>{t('covered')}</th><th>{t('blindSpot')}</th></tr>
            </thead>
            <tbody>
              {cov.areas.map((a) => (
                <tr key={a.id} data-area={a.id} data-covered={a.coveredShare} data-full={String(a.fullyCovered)}>
                  <td>{a.name}</td>
                  <td>{a.requiredLevel}</td>
                  <td className={a.fullyCovered ? 'pass' : 'fail'}>{pct(a.coveredShare)}</td>
                  <td>{a.blindSpotM2 > 0 ? `${num(a.blindSpotM2)} m²` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h2>{t('inbox')}</h2>
      {inbox && (
        <table data-testid="inbox">
          <tbody>
            {inbox.discovered.map((d) => (
              <tr key={`${d.agentId}/${d.deviceId}`} data-device={d.deviceId}>
                <td>{d.kind}</td>
                <td title={d.address ?? ''}>{d.deviceId}</td>
                <td>
                  <button data-action="accept" onClick={() => setPlacing({ device: d, lon: null, lat: null, heading: '0', hfov: String(d.attributes.hfovDeg ?? 60), height: '3', building: '' })}>{t('accept')}</button>{' '}
                  <button data-action="reject" onClick={() => void decide(d, 'reject')}>{t('reject')}</button>
                </td>
              </tr>
            ))}
            {inbox.missing.map((d) => (
              <tr key={`m-${d.deviceId}`}><td>{d.kind}</td><td>{d.deviceId}</td><td className="fail">{t('missing')}</td></tr>
            ))}
            {inbox.planned.map((d) => (
              <tr key={`p-${d.id}`}><td>{d.kind}</td><td>{d.name}</td><td className="unknown">{t('planned')}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {placing && (
        <div className="place" data-testid="placement">
          <span className="wide">{placing.device.deviceId}：{t('placeHint')}{placing.device.kind === 'camera' && placing.lat != null ? `；${t('dragHint')}` : ''}</span>
          <span>{t('position')}</span>
          <span data-testid="placement-position">{placing.lat != null ? `${placing.lon}, ${placing.lat}` : '—'}</span>
          <label htmlFor="pl-b">{t('building')}</label>
          <input id="pl-b" value={placing.building} onChange={(e) => setPlacing({ ...placing, building: e.target.value })} />
          {placing.device.kind === 'camera' && (
            <>
              <label htmlFor="pl-h">{t('heading')}</label>
              <input id="pl-h" data-testid="heading" type="number" min={0} max={359} value={placing.heading} onChange={(e) => setPlacing({ ...placing, heading: e.target.value })} />
              <label htmlFor="pl-f">{t('hfov')}</label>
              <input id="pl-f" data-testid="hfov" type="number" min={1} max={360} value={placing.hfov} onChange={(e) => setPlacing({ ...placing, hfov: e.target.value })} />
              <label htmlFor="pl-m">{t('mountHeight')}</label>
              <input id="pl-m" type="number" min={0} max={100} value={placing.height} onChange={(e) => setPlacing({ ...placing, height: e.target.value })} />
            </>
          )}
          <button data-testid="confirm-placement" disabled={placing.lat == null} onClick={confirmPlacement}>{t('confirm')}</button>
          <button onClick={() => setPlacing(null)}>{t('cancel')}</button>
        </div>
      )}
      <PlannedImport school={code} t={t} onImported={reload} />
      <h2>{t('compliance')}</h2>
      {comp && (
        <table data-testid="compliance">
          <thead>
            <tr><th>{t('rule')}</th><th>{t('verdict')}</th><th>{t('value')}</th><th>{t('threshold')}</th><th>{t('source')}</th></tr>
          </thead>
          <tbody>
            {comp.findings.map((f) => (
              <tr key={f.ruleId} data-rule={f.ruleId} data-verdict={f.verdict} title={f.detail}>
                <td>{titleOf(f)}</td>
                <td className={f.verdict}>{t(`verdict.${f.verdict}`)}</td>
                <td>{f.unit === 'share' ? pct(f.measured) : f.measured == null ? '—' : `${num(f.measured)} ${f.unit}`}</td>
                <td>{f.unit === 'share' ? pct(f.threshold) : `${num(f.threshold)} ${f.unit}`}</td>
                <td><small>{f.citation}</small></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>{t('devices')}</h2>
      <table data-testid="devices">
        <tbody>
          {devices.filter((d) => d.state === 'enrolled').map((d) => {
            const cs = camStatus.get(d.deviceId);
            return (
              <tr key={`${d.agentId}/${d.deviceId}`} data-device={d.deviceId} className={`clickable${route.selected === d.deviceId ? ' selected' : ''}`} onClick={() => go({ view: 'school', school: code, selected: d.deviceId })}>
                <td>{d.kind}</td>
                <td>{d.deviceId}</td>
                <td className={cs ? (cs.healthy ? 'pass' : 'fail') : d.goneAt ? 'fail' : 'pass'}>{cs ? (cs.healthy ? t('healthy') : `${t('unhealthy')}${cs.problem ? `：${cs.problem}` : ''}`) : d.goneAt ? t('offline') : t('online')}</td>
                <td><small>{date(d.lastSeen)}</small></td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
