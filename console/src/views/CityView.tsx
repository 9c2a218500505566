import { useEffect, useMemo, useRef, useState } from 'react';
import L from 'leaflet';
import { get, isAbort, type CityMap, type SchoolsMap, type Worst } from '../api';
import { num, pct } from '../i18n/index';
import { currentMonth, reportUrl } from '../export';
import { MonthPicker } from './MonthPicker';
import { useLiveBatch } from '../live';
import { go, INDICATORS, type Indicator, type Route } from '../route';
import type { ViewProps } from '../App';
import { loadCounties, shade, worstColour, type CountyFeature } from './common';
import { ExportButton } from './ExportButton';
import { rankingTable } from './tableExports';

/** Text of an indicator value, and its 0..1 "goodness" for shading (open findings: fewer per school is better). */
function shown(v: number | null, unit: CityMap['unit'], schools: number): { good: number | null; text: string } {
  if (unit === 'count') return { good: v == null || !schools ? null : Math.max(0, 1 - v / (schools * 3)), text: num(v) };
  return { good: v, text: pct(v) };
}

/** Marker colour by worst finding (warning: nothing fails, something cannot be judged or a camera is down). */
const colourOf = (w: Worst) => worstColour(w === 'ok' ? 'pass' : w === 'fail' ? 'fail' : w === 'warning' ? 'unknown' : 'none');

/** Markers are refetched this long after the map stops moving (a drag or a wheel zoom is several events). */
const MOVE_DEBOUNCE_MS = 150;
/** The wall display also refreshes on this clock, in case a live event was missed. */
const WALL_REFRESH_MS = 60_000;

export function CityView({ map, t, lang, city, live, wall, scale, route }: ViewProps & { route: Extract<Route, { view: 'city' }> }) {
  const [counties, setCounties] = useState<CountyFeature[]>([]);
  const [cityMap, setCityMap] = useState<CityMap | null>(null);
  const [markers, setMarkers] = useState<SchoolsMap | null>(null);
  const [error, setError] = useState('');
  const ind = route.indicator;
  const [month, setMonth] = useState(currentMonth);
  // live: figures and markers are fetched again after changes anywhere in the city
  const { rev } = useLiveBatch(live, { ...(wall ? { everyMs: WALL_REFRESH_MS } : {}) });

  // 1. boundaries (cached per page): drawn as soon as they arrive, unshaded until the indicator is in
  useEffect(() => {
    if (!city) return;
    let live = true;
    loadCounties(city.code)
      .then((cs) => live && setCounties(cs))
      .catch((err: Error) => live && setError(err.message));
    return () => {
      live = false;
    };
  }, [city]);

  // 2. one small answer per indicator: per-county values for shading, and the ranking
  useEffect(() => {
    if (!city) return;
    const ac = new AbortController();
    get<CityMap>(`/api/v1/map/city?city=${city.code}&indicator=${ind}`, ac.signal)
      .then((m) => setCityMap(m))
      .catch((err: unknown) => !isAbort(err) && setError((err as Error).message));
    return () => ac.abort();
  }, [city, ind, rev]);

  // 3. markers for the current view: clusters when zoomed out, schools when zoomed in; refetched
  // (debounced) when the map moves, a newer request cancelling the one still in flight
  useEffect(() => {
    if (!city) return;
    let ac: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fetchView = () => {
      timer = undefined;
      ac?.abort();
      const mine = (ac = new AbortController());
      const b = map.getBounds().pad(0.2);
      const r = (x: number) => x.toFixed(5);
      const bbox = [r(Math.max(-180, b.getWest())), r(Math.max(-90, b.getSouth())), r(Math.min(180, b.getEast())), r(Math.min(90, b.getNorth()))].join(',');
      const zoom = Math.max(0, Math.min(24, Math.round(map.getZoom())));
      get<SchoolsMap>(`/api/v1/map/schools?city=${city.code}&zoom=${zoom}&bbox=${bbox}`, mine.signal)
        .then((m) => {
          if (ac === mine) setMarkers(m);
        })
        .catch((err: unknown) => !isAbort(err) && setError((err as Error).message));
    };
    const onMove = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(fetchView, MOVE_DEBOUNCE_MS);
    };
    fetchView();
    map.on('moveend zoomend', onMove);
    return () => {
      map.off('moveend zoomend', onMove);
      if (timer) clearTimeout(timer);
      ac?.abort();
    };
  }, [map, city, rev]);

  const fitted = useRef(false);
  const byCounty = useMemo(() => new Map((cityMap?.counties ?? []).map((c) => [c.code, c])), [cityMap]);

  // county boundaries, shaded by the indicator
  useEffect(() => {
    if (!counties.length) return;
    const unit = cityMap?.unit ?? 'share';
    const layer = L.geoJSON(counties as unknown as GeoJSON.GeoJsonObject, {
      style: (f) => {
        const u = byCounty.get((f as unknown as CountyFeature).properties.code);
        return { color: '#1e3a5f', weight: 1.5, fillOpacity: 0.55, fillColor: u ? shade(shown(u.value, unit, u.schools).good) : '#cbd5e1' };
      },
      onEachFeature: (f, l) => {
        const p = (f as unknown as CountyFeature).properties;
        const u = byCounty.get(p.code);
        l.bindTooltip(`${p.name}${u ? ` · ${shown(u.value, unit, u.schools).text}` : ''}`, { sticky: true });
        l.on('click', () => go({ view: 'county', county: p.code, type: '' }));
      },
    }).addTo(map);
    layer.bringToBack();
    // the whole city each time the view is entered (back from a county too), not on every redraw
    if (!fitted.current) {
      map.fitBounds(layer.getBounds(), { padding: [10, 10] });
      fitted.current = true;
    }
    map.getContainer().dataset.counties = String(counties.length);
    return () => void layer.remove();
  }, [map, counties, byCounty, cityMap?.unit]);

  // markers as the server answered: one circle per county cluster, or one canvas circle per school
  useEffect(() => {
    if (!markers) return;
    const group = L.layerGroup().addTo(map);
    let drawn = 0;
    if (markers.mode === 'clusters') {
      for (const c of markers.clusters) {
        L.circleMarker([c.lat, c.lon], { radius: (9 + Math.sqrt(c.count) * 2) * scale, color: '#fff', weight: 2 * scale, fillColor: colourOf(c.worst), fillOpacity: 0.9 })
          .bindTooltip(`${c.count}`, { permanent: true, direction: 'center', className: 'cluster-label' })
          .on('click', () => go({ view: 'county', county: c.county, type: '' }))
          .addTo(group);
        drawn++;
      }
    } else {
      for (const s of markers.schools) {
        L.circleMarker([s.lat, s.lon], { radius: 6 * scale, color: '#fff', weight: scale, fillColor: colourOf(s.worst), fillOpacity: 0.95 })
          .bindTooltip(`${s.name} · ${t('coverage')} ${pct(s.coverage)} · ${t('cameras')} ${num(s.cameras.online)}/${num(s.cameras.total)}`)
          .on('click', () => go({ view: 'school', school: s.code, selected: '' }))
          .addTo(group);
        drawn++;
      }
    }
    map.getContainer().dataset.markers = String(drawn);
    map.getContainer().dataset.markerMode = markers.mode;
    return () => void group.remove();
  }, [map, markers, t, scale]);

  return (
    <div data-testid="city-view">
      <h2>{city?.name ?? t('city')}</h2>
      {error && <p className="error">{error}</p>}
      <label>
        {t('indicator')}{' '}
        <select data-testid="indicator" value={ind} onChange={(e) => go({ view: 'city', indicator: e.target.value as Indicator })}>
          {INDICATORS.map((i) => (
            <option key={i} value={i}>{t(`ind.${i}`)}</option>
          ))}
        </select>
      </label>
      {cityMap && (
        <p>
          {t('schools')} <span className="big">{num(cityMap.total.schools)}</span> · {t(`ind.${cityMap.indicator as Indicator}`)}{' '}
          <span className="big">{shown(cityMap.total.value, cityMap.unit, cityMap.total.schools).text}</span>
        </p>
      )}
      <h2>{t('ranking')}</h2>
      <p className="exports">
        <ExportButton testId="export-ranking" t={t} disabled={!cityMap?.ranking.length} make={() => cityMap && rankingTable(t, lang, cityMap, t(`ind.${ind}`))} />{' '}
        <label>
          {t('month')} <MonthPicker value={month} lang={lang} onChange={setMonth} />
        </label>{' '}
        <a data-testid="export-report" className="button" href={reportUrl({ ...(city ? { city: city.code } : {}), month })} download title={t('exportReportHint')}>{t('exportReport')}</a>
      </p>
      {!cityMap && !error && <p>{t('loading')}</p>}
      <ol className="rank" data-testid="ranking">
        {(cityMap?.ranking ?? []).map((r) => {
          const u = byCounty.get(r.code);
          return (
            <li key={r.code}>
              <button data-county={r.code} onClick={() => go({ view: 'county', county: r.code, type: '' })}>
                <span>{r.name}{lang === 'en' ? ` (${num(u?.schools ?? 0)})` : `（${num(u?.schools ?? 0)}）`}</span>
                <span>{shown(r.value, cityMap!.unit, u?.schools ?? 0).text}</span>
              </button>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
