import { useEffect, useMemo, useState } from 'react';
import L from 'leaflet';
import { get, mapLimit, schoolPath, type Finding, type School, type SchoolCompliance } from '../api';
import { currentMonth, reportUrl } from '../export';
import { MonthPicker } from './MonthPicker';
import { useLiveBatch } from '../live';
import { num, pct, type MessageKey } from '../i18n/index';
import { go, hashOf, type Route } from '../route';
import type { ViewProps } from '../App';
import { loadCounties, worstColour, type CountyFeature } from './common';
import { ExportButton } from './ExportButton';
import { TicketList } from './TicketList';
import { countySchoolsTable, type CountyRow } from './tableExports';

type Row = CountyRow;
type Col = 'name' | 'coverage' | 'cameras' | 'uplink' | 'ipv6' | 'failing' | 'tickets';

/** Finding filters: groups of rule kinds (stable across policy packs, whose rule ids differ), plus any failing rule. */
export const FINDINGS = ['any', 'coverage', 'uplink', 'ipv6', 'display', 'network'] as const;
export type FindingFilter = (typeof FINDINGS)[number];
const KINDS: Record<Exclude<FindingFilter, 'any'>, string[]> = {
  coverage: ['key-area-coverage'],
  uplink: ['uplink-bandwidth', 'uplink-utilisation'],
  ipv6: ['ipv6-share', 'uplink-ipv6'],
  display: ['display-per-classroom', 'class-board-per-classroom'],
  network: ['ap-online-share'],
};
/** The finding groups a school fails (by rule kind, else by rule id for a kind this console does not know). */
function failingGroups(findings: Finding[]): Set<FindingFilter> {
  const out = new Set<FindingFilter>();
  for (const f of findings) {
    if (f.verdict !== 'fail') continue;
    out.add('any');
    for (const [g, kinds] of Object.entries(KINDS)) if (kinds.includes(f.kind) || kinds.includes(f.ruleId)) out.add(g as FindingFilter);
  }
  return out;
}
const isFinding = (v: string | undefined): v is FindingFilter => (FINDINGS as readonly string[]).includes(v ?? '');

function rowOf(s: School, c: SchoolCompliance | null, tickets: number): Row {
  const up = c?.facts.uplink;
  return {
    s,
    c,
    coverage: c?.facts.keyAreas.weightedCoverage ?? null,
    online: c?.facts.cameras.online ?? 0,
    total: c?.facts.cameras.total ?? 0,
    uplink: up ? (up.speedMbps ?? up.mbps ?? null) : null,
    required: c?.findings.find((f) => f.kind === 'uplink-bandwidth')?.threshold ?? s.contractedUplinkMbps,
    ipv6: c?.facts.ipv6.share ?? null,
    failing: c?.findings.filter((f) => f.verdict === 'fail').length ?? 0,
    tickets,
  };
}

export function CountyView({ map, t, lang, city, live, wall, scale, route }: ViewProps & { route: Extract<Route, { view: 'county' }> }) {
  const [schools, setSchools] = useState<School[]>([]);
  const [comp, setComp] = useState<Map<string, SchoolCompliance | null>>(new Map());
  /** unfinished repair tickets per school */
  const [tickets, setTickets] = useState<Record<string, number>>({});
  const [county, setCounty] = useState<CountyFeature | null>(null);
  const [sort, setSort] = useState<{ col: Col; desc: boolean }>({ col: 'failing', desc: true });
  const [month, setMonth] = useState(currentMonth);
  const finding = isFinding(route.finding) ? route.finding : '';

  useEffect(() => {
    let alive = true;
    void get<School[]>(`/api/v1/schools?county=${route.county}`).then(async (ss) => {
      if (!alive) return;
      setSchools(ss);
      await mapLimit(ss, 4, async (s) => {
        const c = await get<SchoolCompliance>(`${schoolPath(s.code)}/compliance`).catch(() => null);
        // one school at a time, so that a live update that arrived meanwhile is not overwritten
        if (alive) setComp((m) => (m.has(s.code) ? m : new Map(m).set(s.code, c)));
      });
    });
    if (city) void loadCounties(city.code).then((cs) => alive && setCounty(cs.find((c) => c.properties.code === route.county) ?? null));
    return () => {
      alive = false;
    };
  }, [route.county, city]);

  // live: the schools of this county that changed get their compliance again, and the ticket counts
  const changed = useLiveBatch(live, { county: route.county });
  useEffect(() => {
    let alive = true;
    get<{ counts: Record<string, number> }>(`/api/v1/tickets/open-counts?county=${route.county}`)
      .then((r) => alive && setTickets(r.counts))
      .catch(() => undefined);
    return () => {
      alive = false;
    };
  }, [route.county, changed]);
  useEffect(() => {
    if (!changed.schools.length) return;
    let alive = true;
    void mapLimit(changed.schools, 4, async (code) => {
      const c = await get<SchoolCompliance>(`${schoolPath(code)}/compliance`).catch(() => null);
      if (alive && c) setComp((m) => new Map(m).set(code, c));
    });
    return () => {
      alive = false;
    };
  }, [changed]);

  const rows = useMemo(() => {
    const rs = schools
      .filter((s) => !route.type || s.type === route.type)
      .map((s) => rowOf(s, comp.get(s.code) ?? null, tickets[s.code] ?? 0))
      .filter((r) => !finding || (r.c != null && failingGroups(r.c.findings).has(finding)));
    const key = (r: Row): number | string => (sort.col === 'name' ? r.s.name : sort.col === 'cameras' ? (r.total ? r.online / r.total : -1) : sort.col === 'uplink' ? (r.uplink ?? -1) : (r[sort.col] ?? -1));
    return rs.sort((a, b) => {
      const x = key(a), y = key(b);
      const c = typeof x === 'string' ? x.localeCompare(String(y), 'zh-CN') : x - (y as number);
      return sort.desc ? -c : c;
    });
  }, [schools, comp, tickets, sort, route.type, finding]);

  useEffect(() => {
    const group = L.featureGroup().addTo(map);
    if (county) L.geoJSON(county as unknown as GeoJSON.GeoJsonObject, { style: { color: '#0f3d6e', weight: 2, fillOpacity: 0.05 } }).addTo(group);
    for (const r of rows) {
      if (r.s.lon == null || r.s.lat == null) continue;
      const w = r.c ? (r.failing ? 'fail' : r.c.findings.some((f) => f.verdict === 'unknown') ? 'unknown' : 'pass') : 'none';
      L.circleMarker([r.s.lat, r.s.lon], { radius: 8 * scale, color: '#fff', weight: 2 * scale, fillColor: worstColour(w), fillOpacity: 0.95 })
        .bindTooltip(r.s.name)
        .on('click', () => go({ view: 'school', school: r.s.code, selected: '' }))
        .addTo(group);
    }
    map.getContainer().dataset.markers = String(rows.length);
    return () => void group.remove();
  }, [map, county, rows, scale]);

  useEffect(() => {
    const g = county ? L.geoJSON(county as unknown as GeoJSON.GeoJsonObject) : null;
    if (g) map.fitBounds(g.getBounds(), { padding: [10, 10] });
  }, [map, county]);

  const types = [...new Set(schools.map((s) => s.type))].sort();
  const th = (col: Col, k: MessageKey) => (
    <th data-sort={col} onClick={() => setSort({ col, desc: sort.col === col ? !sort.desc : true })}>
      {t(k).replace('/', '/\u200b') /* a heading may break after its slash */}
      {sort.col === col ? (sort.desc ? ' ▼' : ' ▲') : ''}
    </th>
  );
  const typeName = (ty: string) => {
    const k = `type.${ty}` as MessageKey;
    const v = t(k);
    return v === k ? ty : v;
  };
  const countyName = county?.properties.name ?? route.county;
  const sortKeys: Record<Col, MessageKey> = { name: 'name', coverage: 'coverage', cameras: 'cameras', uplink: 'uplink', ipv6: 'ipv6', failing: 'failing', tickets: 'openTickets' };
  const exportTable = () =>
    countySchoolsTable(t, lang, countyName, rows, { type: route.type ? typeName(route.type) : t('all'), finding: finding ? t(`finding.${finding}`) : t('all'), sort: t(sortKeys[sort.col]), desc: sort.desc, of: schools.length }, typeName);
  return (
    <div data-testid="county-view">
      <p>
        <a href={hashOf({ view: 'city', indicator: 'coverage', ...(wall ? { display: 'wall' as const } : {}) })}>← {city?.name ?? t('city')}</a>
      </p>
      <h2>{countyName}</h2>
      <label>
        {t('type')}{' '}
        <select data-testid="type-filter" value={route.type} onChange={(e) => go({ view: 'county', county: route.county, type: e.target.value, finding })}>
          <option value="">{t('all')}</option>
          {types.map((ty) => (
            <option key={ty} value={ty}>{typeName(ty)}</option>
          ))}
        </select>
      </label>{' '}
      <label>
        {t('finding')}{' '}
        <select data-testid="finding-filter" value={finding} onChange={(e) => go({ view: 'county', county: route.county, type: route.type, finding: e.target.value })}>
          <option value="">{t('all')}</option>
          {FINDINGS.map((f) => (
            <option key={f} value={f}>{t(`finding.${f}`)}</option>
          ))}
        </select>
      </label>
      <p className="exports">
        <ExportButton testId="export-table" t={t} disabled={!rows.length} make={exportTable} />{' '}
        <label>
          {t('month')} <MonthPicker value={month} lang={lang} onChange={setMonth} />
        </label>{' '}
        <a data-testid="export-report" className="button" href={reportUrl({ county: route.county, month })} download title={t('exportReportHint')}>{t('exportReport')}</a>
        <span className="muted" data-testid="row-count"> {t('shownOf')} {num(rows.length)}/{num(schools.length)}</span>
      </p>
      <table data-testid="schools-table" className="schools" lang={lang}>
        <thead>
          <tr>
            {th('name', 'name')}
            {th('coverage', 'coverage')}
            {th('cameras', 'cameras')}
            {th('uplink', 'uplink')}
            {th('ipv6', 'ipv6')}
            {th('failing', 'failing')}
            {th('tickets', 'openTickets')}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.s.code} className="clickable" data-school={r.s.code} onClick={() => go({ view: 'school', school: r.s.code, selected: '' })}>
              <td>{r.s.name}</td>
              <td>{pct(r.coverage)}</td>
              <td>{r.c ? `${num(r.online)}/${num(r.total)}` : '—'}</td>
              <td>{r.uplink != null || r.required != null ? `${num(r.uplink)}/${num(r.required)}` : '—'}</td>
              <td>{pct(r.ipv6)}</td>
              <td className={r.failing ? 'fail' : 'pass'}>{r.c ? num(r.failing) : '—'}</td>
              <td className={r.tickets ? 'fail' : 'pass'} data-col="tickets">{num(r.tickets)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <TicketList scope={{ county: route.county }} t={t} live={live} onSelectDevice={(s, d) => go({ view: 'school', school: s, selected: d })} />
    </div>
  );
}
