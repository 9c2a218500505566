import { useCallback, useEffect, useMemo, useState } from 'react';
import L from 'leaflet';
import { auth, get, maybe, post, schoolPath, type CoverageReport, type Device, type FeatureCollection, type Inbox, type InboxDevice, type Placement, type School, type SchoolCompliance } from '../api';
import { date, num, pct } from '../i18n/index';
import { go, type Route } from '../route';
import type { ViewProps } from '../App';
import { planToLatLng, rangeAtPpm, sector } from '../geo';

interface Placing { device: InboxDevice; lon: number | null; lat: number | null; heading: string; hfov: string; height: string; building: string }
/** Placements the console knows: from the console's map route when there is one, and those accepted here. */
type Known = Map<string, Placement>;

const areaColour = (share: number, full: boolean) => (full ? '#16a34a' : share >= 0.5 ? '#f59e0b' : '#dc2626');

export function SchoolView({ map, t, lang, live, route }: ViewProps & { route: Extract<Route, { view: 'school' }> }) {
  const code = route.school;
  const [school, setSchool] = useState<School | null>(null);
  const [campus, setCampus] = useState<FeatureCollection | null | 'none'>(null);
  const [cov, setCov] = useState<CoverageReport | null>(null);
  const [comp, setComp] = useState<SchoolCompliance | null>(null);
  const [inbox, setInbox] = useState<Inbox | null>(null);
  const [devices, setDevices] = useState<Device[]>([]);
  const [known, setKnown] = useState<Known>(new Map());
  const [placing, setPlacing] = useState<Placing | null>(null);
  const [error, setError] = useState('');
  const [rev, setRev] = useState(0);

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
          get<Device[]>(`${p}/devices`),
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
  const anchor = fc?.frame?.kind === 'wgs84' ? fc.frame : cov?.frame.kind === 'wgs84' ? cov.frame : null;

  // the campus plan: outline, buildings, walls, key areas by coverage, blind spots hatched, cameras and sectors
  useEffect(() => {
    if (!fc) return;
    const svg = L.svg(); // SVG (not canvas) so that the blind spots can use the hatch pattern
    const g = L.featureGroup().addTo(map);
    const areas = new Map((cov?.areas ?? []).map((a) => [a.id, a]));
    L.geoJSON(fc as unknown as GeoJSON.GeoJsonObject, {
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
    if (placing?.lat != null && placing.lon != null) {
      const h = Number(placing.heading), f = Number(placing.hfov);
      if (placing.device.kind === 'camera' && Number.isFinite(h) && f > 0) L.polygon(sector(placing.lon, placing.lat, h, f, 25), { renderer: svg, color: '#2563eb', weight: 2, fillOpacity: 0.2, className: 'sector placing-sector' }).addTo(g);
      L.circleMarker([placing.lat, placing.lon], { renderer: svg, radius: 7, color: '#2563eb', fillColor: '#2563eb', fillOpacity: 1, className: 'placing' }).addTo(g);
    }
    const c = map.getContainer().dataset;
    c.blindSpots = String(blind);
    c.sectors = String(sectors);
    c.campus = '1';
    return () => void g.remove();
  }, [map, fc, cov, known, anchor, placing, code, t]);

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
      {campus === 'none' && <p>{t('noCampus')}</p>}
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
          <span className="wide">{placing.device.deviceId}：{t('placeHint')}</span>
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
              <tr key={`${d.agentId}/${d.deviceId}`} data-device={d.deviceId} className={route.selected === d.deviceId ? 'selected' : ''}>
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
