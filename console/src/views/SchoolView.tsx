import { useCallback, useEffect, useMemo, useState } from 'react';
import L from 'leaflet';
import { auth, devicePath, get, maybe, post, schoolPath, type CoveragePreview, type CoverageReport, type DeviceDetail, type FeatureCollection, type Inbox, type InboxDevice, type Placement, type School, type SchoolCompliance } from '../api';
import { date, kindName, num, pct, type MessageKey } from '../i18n/index';
import { go, type Route } from '../route';
import type { ViewProps } from '../App';
import { planToLatLng, rangeAtPpm, sector } from '../geo';
import { DevicePanel } from './DeviceDetail';
import { CameraPlacer, type PlacingTarget } from './CameraPlacer';
import { PlannedImport } from './PlannedImport';
import { TicketList } from './TicketList';
import { drawGearIcons, type GearOnMap } from './DeviceIcons';
import { PlanEditor } from './PlanEditor';
import { FloorPlan } from './FloorPlanControls';
import { ExportButton } from './ExportButton';
import { TopologySection } from './TopologyView';
import { devicesTable, findingsTable, keyAreasTable } from './tableExports';
import { useAuth, useGate } from '../auth/context';
import { schoolNote } from '../auth/permissions';
import { failureText } from '../auth/session';

/** Placements the console knows (lon/lat): from the console's map route when there is one, and those saved here. */
type Known = Map<string, Placement>;
type MapDevice = { deviceId?: string; position?: { lon: number; lat: number } | null; building?: string | null; room?: string | null; camera?: Placement['camera'] | null };
const placementOf = (d: MapDevice): Placement => ({ ...(d.position ? { position: d.position } : {}), ...(d.building ? { building: d.building } : {}), ...(d.room ? { room: d.room } : {}), ...(d.camera ? { camera: d.camera } : {}) });

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
  /** a device being placed or moved (CameraPlacer), and the what-if coverage drawn meanwhile */
  const [placing, setPlacing] = useState<PlacingTarget | null>(null);
  const [preview, setPreview] = useState<CoveragePreview | null>(null);
  const [error, setError] = useState('');
  const [rev, setRev] = useState(0);
  /** the plan being edited (编辑平面图), drawn instead of the stored one */
  const [draft, setDraft] = useState<FeatureCollection | null>(null);

  const reload = useCallback(() => setRev((r) => r + 1), []);
  /** enrolled devices with their place and status, for the icons of the gear that is not a camera */
  const [gear, setGear] = useState<GearOnMap[]>([]);

  useEffect(() => {
    const g = L.featureGroup().addTo(map);
    const n = drawGearIcons(
      g,
      gear,
      (d) => `${kindName(t, d.kind)} ${d.deviceId}${d.room ? ` · ${d.building ?? ''} ${d.room}` : ''} · ${d.online ? t('online') : t('offline')}`,
      (d) => go({ view: 'school', school: code, selected: d.deviceId }),
    );
    map.getContainer().dataset.gearIcons = String(n);
    return () => void g.remove();
  }, [map, gear, code, t]);

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
          maybe<{ devices?: MapDevice[] }>(`${p}/map`).catch(() => null),
        ]);
        if (!alive) return;
        setSchool(s);
        setCampus(fc ?? 'none');
        setCov(c);
        setComp(cp);
        setInbox(ib);
        setDevices(ds);
        // every enrolled device's placement (a camera's heading), from the console route `GET …/map` when the collector has it
        if (m?.devices) setKnown((k) => new Map([...k, ...m.devices!.filter((x) => x.deviceId).map((x) => [x.deviceId!, placementOf(x)] as const)]));
        setGear((m?.devices ?? []) as GearOnMap[]);
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
    // while a camera is placed or moved: key areas and blind spots as the preview expects them
    const drawn = preview ?? cov;
    const movingFrom = placing?.mode === 'move' ? placing.device.deviceId : null;
    const areas = new Map((drawn?.areas ?? []).map((a) => [a.id, a]));
    L.geoJSON(shown as unknown as GeoJSON.GeoJsonObject, {
      style: (f): L.PathOptions => ({ renderer: svg, ...styleOf(f) }),
      onEachFeature: (f, l) => {
        const a = areas.get(String(f.id));
        l.bindTooltip(a ? `${a.name} · ${pct(a.coveredShare)}` : String((f.properties as Record<string, unknown> | null)?.name ?? ''));
      },
    }).addTo(g);
    function styleOf(f: GeoJSON.Feature | undefined): L.PathOptions {
        const p = (f?.properties ?? {}) as Record<string, unknown>;
        if (p.kind === 'outline') return { color: '#334155', weight: 2, fillColor: '#f8fafc', fillOpacity: 0.6, dashArray: '6 4', className: 'campus-outline' };
        if (p.kind === 'building') return { color: '#475569', weight: 1, fillColor: '#94a3b8', fillOpacity: 0.8, className: 'campus-building' };
        if (p.kind === 'wall') return { color: '#111827', weight: 4 };
        const a = areas.get(String(f?.id));
        return { color: '#1e3a5f', weight: 1, fillColor: a ? areaColour(a.coveredShare, a.fullyCovered) : '#cbd5e1', fillOpacity: 0.45, className: `key-area key-area-${String(f?.id)}` };
    }
    let blind = 0;
    for (const a of drawn?.areas ?? []) {
      for (const poly of a.blindSpots) {
        L.geoJSON(poly as unknown as GeoJSON.GeoJsonObject, { style: { renderer: svg, color: '#dc2626', weight: 1.5, dashArray: '3 3', fillColor: 'url(#campus-hatch)', fillOpacity: 1, className: `blind-spot blind-spot-${a.id}${preview ? ' previewed' : ''}` } })
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
        const moving = c.deviceId === movingFrom; // drawn faint where it stands now
        const colour = moving ? '#64748b' : c.healthy ? '#16a34a' : c.online ? '#f59e0b' : '#dc2626';
        if (pl?.camera && c.hfovDeg) {
          const ppm = Math.max(...cov.areas.filter((a) => a.cameraIds.includes(c.id) || a.cameraIds.includes(c.deviceId)).map((a) => a.requiredPpm), Math.min(...cov.areas.map((a) => a.requiredPpm)));
          const range = Math.min(200, rangeAtPpm(c.horizontalPixels, c.hfovDeg, ppm));
          L.polygon(sector(lon, lat, pl.camera.headingDeg, c.hfovDeg, range), { renderer: svg, color: colour, weight: 1, fillColor: colour, fillOpacity: moving ? 0.05 : 0.18, dashArray: moving ? '4 4' : undefined, className: `sector sector-${c.deviceId}${moving ? ' moving-from' : ''}` }).addTo(g);
          sectors++;
        }
        L.circleMarker([lat, lon], { renderer: svg, radius: 6, color: '#fff', weight: 2, fillColor: colour, fillOpacity: moving ? 0.4 : 1, className: `camera camera-${c.deviceId}${moving ? ' moving-from' : ''}` })
          .bindTooltip(`${c.deviceId} · ${c.healthy ? t('healthy') : t('unhealthy')}${c.problem ? ` · ${c.problem}` : ''}`)
          .on('click', () => go({ view: 'school', school: code, selected: c.deviceId }))
          .addTo(g);
      }
    }
    const c = map.getContainer().dataset;
    c.blindSpots = String(blind);
    c.sectors = String(sectors);
    c.campus = '1';
    c.previewing = preview ? '1' : '';
    return () => {
      g.remove();
      svg.remove(); // one renderer per drawing: a preview redraws on every answer
    };
  }, [map, shown, cov, preview, placing, known, anchor, code, t]);

  // fit to the campus once
  useEffect(() => {
    if (fc) map.fitBounds(L.geoJSON(fc as unknown as GeoJSON.GeoJsonObject).getBounds(), { padding: [20, 20] });
    else if (school?.lat != null && school.lon != null) map.setView([school.lat, school.lon], 17);
  }, [map, fc, school]);

  const reject = async (d: InboxDevice) => {
    if (!auth.token) return setError(t('needToken'));
    try {
      setError('');
      await post(`${devicePath(code, d.agentId, d.deviceId)}/reject`, {});
      reload();
    } catch (err) {
      setError(failureText(t, err));
    }
  };
  const place = (mode: PlacingTarget['mode'], device: PlacingTarget['device']) => {
    setPreview(null);
    setPlacing({ mode, device, placement: mode === 'move' ? known.get(device.deviceId) ?? null : null });
  };
  const placed = (saved: Placement | null) => {
    if (saved && placing) setKnown((k) => new Map(k).set(placing.device.deviceId, saved));
    setPlacing(null);
    setPreview(null);
    if (saved) reload();
  };

  // what the one signed in may change here (the county is known once the school has loaded)
  const { user } = useAuth();
  const here = school ? { school: code, county: school.countyCode } : null;
  const enroll = useGate(t, 'enroll', here);
  const plan = useGate(t, 'plan', here);
  const note = here ? schoolNote(t, user, here) : null;

  const camStatus = useMemo(() => new Map((cov?.cameras ?? []).map((c) => [c.deviceId, c])), [cov]);
  // online as this view shows it: the map route's verdict for enrolled gear, else whether discovery lost the device
  const onlineOf = useCallback(
    (deviceId: string): boolean | null => {
      const g = gear.find((x) => x.deviceId === deviceId);
      if (g) return g.online;
      const d = devices.find((x) => x.deviceId === deviceId);
      return d ? !d.goneAt : null;
    },
    [gear, devices],
  );
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
      {note && <p className="readonly-note edit-only" data-testid="readonly-note">{note}</p>}
      {error && <p className="error" data-testid="error">{error}</p>}
      {placing && <CameraPlacer key={`${placing.mode}:${placing.device.agentId}/${placing.device.deviceId}`} map={map} t={t} school={code} target={placing} onPreview={setPreview} onDone={placed} />}
      {selectedDevice && (
        <DevicePanel
          key={`${selectedDevice.agentId}/${selectedDevice.deviceId}`}
          school={code}
          device={selectedDevice}
          step={camStatus.get(selectedDevice.deviceId)?.step ?? null}
          onClose={() => go({ view: 'school', school: code, selected: '' })}
          onMove={selectedDevice.state === 'enrolled' && !enroll.hidden ? () => place('move', selectedDevice) : undefined}
          moveGate={enroll}
          onSelectDevice={(deviceId) => go({ view: 'school', school: code, selected: deviceId })}
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
          gate={plan}
          anchor={school?.lon != null && school.lat != null ? { lon: school.lon, lat: school.lat } : null}
          onDraft={setDraft}
          onSaved={(saved) => {
            setCampus(saved);
            reload();
          }}
        />
      )}
      <FloorPlan map={map} t={t} code={code} gate={plan} school={school?.lon != null && school.lat != null ? { lon: school.lon, lat: school.lat } : null} campus={fc} />
      {cov && (
        <>
          <p>
            {t('weighted')}：<span className="big" data-testid="weighted-coverage" data-value={cov.weightedCoverage}>{pct(cov.weightedCoverage)}</span>
            {' · '}
            {t('fullyCovered')} {pct(cov.fullyCoveredShare)} <small>({date(cov.computedAt)})</small>
          </p>
          <h2>{t('keyAreas')}</h2>
          <p className="exports"><ExportButton testId="export-areas" t={t} make={() => keyAreasTable(t, lang, { code, name: school?.name ?? code }, cov)} /></p>
          <table data-testid="areas">
            <thead>
              <tr><th>{t('name')}</th><th>{t('required')}</th><th>{t('covered')}</th><th>{t('blindSpot')}</th></tr>
            </thead>
            <tbody>
              {cov.areas.map((a) => (
                <tr key={a.id} data-area={a.id} data-covered={a.coveredShare} data-full={String(a.fullyCovered)}>
                  <td>{a.name}</td>
                  <td data-level={a.requiredLevel}>{t(`level.${a.requiredLevel}` as MessageKey)}</td>
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
                <td>{kindName(t, d.kind)}</td>
                <td title={d.address ?? ''}>{d.deviceId}</td>
                <td>
                  {!enroll.hidden && (
                    <>
                      <button data-action="accept" disabled={enroll.disabled} title={enroll.title} onClick={() => place('accept', d)}>{t('accept')}</button>{' '}
                      <button data-action="reject" disabled={enroll.disabled} title={enroll.title} onClick={() => void reject(d)}>{t('reject')}</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
            {inbox.missing.map((d) => (
              <tr key={`m-${d.deviceId}`}><td>{kindName(t, d.kind)}</td><td>{d.deviceId}</td><td className="fail">{t('missing')}</td></tr>
            ))}
            {inbox.planned.map((d) => (
              <tr key={`p-${d.id}`}><td>{kindName(t, d.kind)}</td><td>{d.name}</td><td className="unknown">{t('planned')}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {!enroll.hidden && <PlannedImport school={code} t={t} gate={enroll} onImported={reload} />}
      <TicketList scope={{ school: code }} t={t} live={live} onSelectDevice={(s, d) => go({ view: 'school', school: s, selected: d })} />
      <h2>{t('compliance')}</h2>
      {comp && <p className="exports"><ExportButton testId="export-findings" t={t} make={() => findingsTable(t, lang, { code, name: school?.name ?? code }, comp.findings)} /></p>}
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
      <TopologySection map={map} t={t} school={code} rev={rev} selected={route.selected} onlineOf={onlineOf} onSelect={(deviceId) => go({ view: 'school', school: code, selected: deviceId })} />
      <h2>{t('devices')}</h2>
      <p className="exports"><ExportButton testId="export-devices" t={t} disabled={!devices.some((d) => d.state === 'enrolled')} make={() => devicesTable(t, lang, { code, name: school?.name ?? code }, devices, camStatus)} /></p>
      <table data-testid="devices">
        <tbody>
          {devices.filter((d) => d.state === 'enrolled').map((d) => {
            const cs = camStatus.get(d.deviceId);
            return (
              <tr key={`${d.agentId}/${d.deviceId}`} data-device={d.deviceId} className={`clickable${route.selected === d.deviceId ? ' selected' : ''}`} onClick={() => go({ view: 'school', school: code, selected: d.deviceId })}>
                <td>{kindName(t, d.kind)}</td>
                <td>{d.deviceId}</td>
                <td className={cs ? (cs.healthy ? 'pass' : 'fail') : d.goneAt ? 'fail' : 'pass'}>{cs ? (cs.healthy ? t('healthy') : `${t('unhealthy')}${cs.problem ? `：${cs.problem}` : ''}`) : d.goneAt ? t('offline') : t('online')}</td>
                <td><small>{date(d.lastSeen)}</small></td>
                <td>
                  {!enroll.hidden && <button className="edit-only" data-action="move" disabled={enroll.disabled} title={enroll.title ?? t('move')} onClick={(e) => { e.stopPropagation(); place('move', d); }}>{t('move')}</button>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
