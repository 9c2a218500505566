import { useEffect, useMemo, useState } from 'react';
import L from 'leaflet';
import { get, mapLimit, type CityRollup, type CountyRollup, type School, type UnitSummary, type Verdict } from '../api';
import { num, pct } from '../i18n/index';
import { go, INDICATORS, type Indicator, type Route } from '../route';
import type { ViewProps } from '../App';
import { loadCounties, shade, worstColour, type CountyFeature } from './common';

/** Value of an indicator for a county, and its 0..1 "goodness" for shading. */
function indicatorValue(u: UnitSummary, ind: Indicator): { value: number | null; good: number | null; text: string } {
  const share = (a: number, b: number) => (b > 0 ? a / b : null);
  switch (ind) {
    case 'coverage': return { value: u.keyAreas.weightedCoverage, good: u.keyAreas.weightedCoverage, text: pct(u.keyAreas.weightedCoverage) };
    case 'cameras-online': { const v = share(u.cameras.online, u.cameras.total); return { value: v, good: v, text: pct(v) }; }
    case 'uplink': { const v = share(u.uplink.schoolsPassing, u.schools); return { value: v, good: v, text: pct(v) }; }
    case 'ipv6': return { value: u.ipv6.share, good: u.ipv6.share, text: pct(u.ipv6.share) };
    case 'open-findings': return { value: -u.openIssues, good: u.schools ? Math.max(0, 1 - u.openIssues / (u.schools * 3)) : null, text: num(u.openIssues) };
  }
}

export function CityView({ map, t, city, route }: ViewProps & { route: Extract<Route, { view: 'city' }> }) {
  const [counties, setCounties] = useState<CountyFeature[]>([]);
  const [rollup, setRollup] = useState<CityRollup | null>(null);
  const [schools, setSchools] = useState<School[]>([]);
  const [worst, setWorst] = useState<Map<string, Verdict>>(new Map());
  const [zoom, setZoom] = useState(map.getZoom());
  const [error, setError] = useState('');
  const ind = route.indicator;

  useEffect(() => {
    if (!city) return;
    let live = true;
    void (async () => {
      try {
        // boundaries and schools first (the map is usable), the roll-up when it has been computed
        void loadCounties(city.code).then((cs) => live && setCounties(cs)).catch((err: Error) => live && setError(err.message));
        void get<School[]>('/api/v1/schools').then((ss) => live && setSchools(ss)).catch((err: Error) => live && setError(err.message));
        const r = await get<CityRollup>(`/api/v1/city/compliance?code=${city.code}`);
        if (!live) return;
        setRollup(r);
        // worst finding per school, county by county (the county roll-up ranks its schools)
        const w = new Map<string, Verdict>();
        await mapLimit(r.counties, 3, async (c) => {
          const cr = await get<CountyRollup>(`/api/v1/counties/${c.code}/compliance`);
          for (const s of cr.ranking) w.set(s.code, s.failed > 0 ? 'fail' : s.unknown > 0 ? 'unknown' : 'pass');
          if (live) setWorst(new Map(w));
        });
      } catch (err) {
        if (live) setError((err as Error).message);
      }
    })();
    return () => {
      live = false;
    };
  }, [city]);

  useEffect(() => {
    const on = () => setZoom(map.getZoom());
    map.on('zoomend', on);
    return () => void map.off('zoomend', on);
  }, [map]);

  const byCounty = useMemo(() => new Map((rollup?.counties ?? []).map((c) => [c.code, c])), [rollup]);

  // county boundaries, shaded by the indicator
  useEffect(() => {
    if (!counties.length) return;
    const layer = L.geoJSON(counties as unknown as GeoJSON.GeoJsonObject, {
      style: (f) => {
        const u = byCounty.get((f as unknown as CountyFeature).properties.code);
        return { color: '#1e3a5f', weight: 1.5, fillOpacity: 0.55, fillColor: u ? shade(indicatorValue(u, ind).good) : '#cbd5e1' };
      },
      onEachFeature: (f, l) => {
        const p = (f as unknown as CountyFeature).properties;
        const u = byCounty.get(p.code);
        l.bindTooltip(`${p.name}${u ? ` · ${indicatorValue(u, ind).text}` : ''}`, { sticky: true });
        l.on('click', () => go({ view: 'county', county: p.code, type: '' }));
      },
    }).addTo(map);
    if (!map.getContainer().dataset.fitted) {
      map.fitBounds(layer.getBounds(), { padding: [10, 10] });
      map.getContainer().dataset.fitted = '1';
    }
    map.getContainer().dataset.counties = String(counties.length);
    return () => void layer.remove();
  }, [map, counties, byCounty, ind]);

  // schools: clustered per county at low zoom, one canvas circle each when zoomed in
  useEffect(() => {
    const placed = schools.filter((s) => s.lon != null && s.lat != null);
    if (!placed.length) return;
    const group = L.layerGroup().addTo(map);
    let drawn = 0;
    if (zoom < 11) {
      const per = new Map<string, School[]>();
      for (const s of placed) per.set(s.countyCode, [...(per.get(s.countyCode) ?? []), s]);
      for (const [code, ss] of per) {
        const lat = ss.reduce((a, s) => a + s.lat!, 0) / ss.length;
        const lon = ss.reduce((a, s) => a + s.lon!, 0) / ss.length;
        const failing = ss.filter((s) => worst.get(s.code) === 'fail').length;
        const colour = worstColour(failing ? 'fail' : ss.some((s) => !worst.has(s.code) || worst.get(s.code) === 'unknown') ? 'unknown' : 'pass');
        L.circleMarker([lat, lon], { radius: 9 + Math.sqrt(ss.length) * 2, color: '#fff', weight: 2, fillColor: colour, fillOpacity: 0.9 })
          .bindTooltip(`${ss.length}`, { permanent: true, direction: 'center', className: 'cluster-label' })
          .on('click', () => go({ view: 'county', county: code, type: '' }))
          .addTo(group);
        drawn++;
      }
    } else {
      for (const s of placed) {
        L.circleMarker([s.lat!, s.lon!], { radius: 6, color: '#fff', weight: 1, fillColor: worstColour(worst.get(s.code) ?? 'none'), fillOpacity: 0.95 })
          .bindTooltip(s.name)
          .on('click', () => go({ view: 'school', school: s.code, selected: '' }))
          .addTo(group);
        drawn++;
      }
    }
    map.getContainer().dataset.markers = String(drawn);
    map.getContainer().dataset.markerMode = zoom < 11 ? 'clusters' : 'schools';
    return () => void group.remove();
  }, [map, schools, worst, zoom]);

  const ranked = useMemo(
    () => (rollup?.counties ?? []).map((u) => ({ u, v: indicatorValue(u, ind) })).sort((a, b) => (b.v.value ?? -Infinity) - (a.v.value ?? -Infinity)),
    [rollup, ind],
  );

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
      {rollup && (
        <p>
          {t('schools')} <span className="big">{num(rollup.schools)}</span> · {t(`ind.${ind}`)} <span className="big">{indicatorValue(rollup, ind).text}</span>
        </p>
      )}
      <h2>{t('ranking')}</h2>
      {!rollup && !error && <p>{t('loading')}</p>}
      <ol className="rank" data-testid="ranking">
        {ranked.map(({ u, v }) => (
          <li key={u.code}>
            <button data-county={u.code} onClick={() => go({ view: 'county', county: u.code, type: '' })}>
              <span>{u.name}（{num(u.schools)}）</span>
              <span>{v.text}</span>
            </button>
          </li>
        ))}
      </ol>
    </div>
  );
}
