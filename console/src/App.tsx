import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import L from 'leaflet';
import { auth, get, maybe, type Region } from './api';
import { translator, type Lang, type MessageKey } from './i18n/index';
import { parseHash, type Route } from './route';
import { CityView } from './views/CityView';
import { CountyView } from './views/CountyView';
import { SchoolView } from './views/SchoolView';

export type T = (k: MessageKey) => string;
export interface LiveEvent { type: string; school: string; county: string; at: string; seq: number }
export interface ViewProps { map: L.Map; t: T; lang: Lang; city: Region | null; live: LiveEvent | null }

declare global {
  interface Window { __campusMap?: L.Map }
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** The live channel: server-sent events from the collector; `up` says whether it is connected. */
function useLive(): { up: boolean; last: LiveEvent | null } {
  const [up, setUp] = useState(false);
  const [last, setLast] = useState<LiveEvent | null>(null);
  useEffect(() => {
    const es = new EventSource('/api/v1/events');
    let seq = 0;
    es.onopen = () => setUp(true);
    es.onerror = () => setUp(es.readyState === EventSource.OPEN);
    const on = (e: MessageEvent<string>) => {
      try {
        const d = JSON.parse(e.data) as { type: string; school: string; county: string; at: string };
        setLast({ ...d, seq: ++seq });
      } catch {
        // a frame we do not understand
      }
    };
    es.addEventListener('coverage-changed', on);
    es.addEventListener('device-status', on);
    return () => es.close();
  }, []);
  return { up, last };
}

export function App() {
  const route = useRoute();
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem('campus.lang') === 'en' ? 'en' : 'zh-CN'));
  const t = useMemo(() => translator(lang), [lang]);
  const live = useLive();
  const mapDiv = useRef<HTMLDivElement>(null);
  const [map, setMap] = useState<L.Map | null>(null);
  const [city, setCity] = useState<Region | null>(null);
  const [showSettings, setShowSettings] = useState(false);
  const [token, setToken] = useState(auth.token);
  const [actor, setActor] = useState(auth.actor);

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = t('appTitle');
    localStorage.setItem('campus.lang', lang);
  }, [lang, t]);

  useEffect(() => {
    if (!mapDiv.current) return;
    // vectors only by default (works with no tile server); canvas for the many school markers
    const m = L.map(mapDiv.current, { preferCanvas: true, zoomControl: true, attributionControl: false, center: [36.45, 115.98], zoom: 9 });
    window.__campusMap = m;
    setMap(m);
    void maybe<{ tileUrl?: string; tileAttribution?: string }>('/api/v1/console-config')
      .then((cfg) => {
        if (cfg?.tileUrl) L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution ?? '' }).addTo(m).bringToBack();
      })
      .catch(() => {});
    return () => {
      m.remove();
      delete window.__campusMap;
    };
  }, []);

  useEffect(() => {
    void get<Region[]>('/api/v1/regions').then((rs) => setCity(rs.find((r) => r.level === 'city') ?? null));
  }, []);

  const saveSettings = useCallback(() => {
    auth.token = token.trim();
    auth.actor = actor.trim();
    setShowSettings(false);
  }, [token, actor]);

  const props = map ? { map, t, lang, city, live: live.last } : null;
  return (
    <div className="app">
      <header>
        <h1>{t('appTitle')}</h1>
        <a href="#/city">{city?.name ?? t('city')}</a>
        <span className="spacer" />
        <span className={`live ${live.up ? 'up' : 'down'}`} data-testid="live" data-up={String(live.up)}>
          {live.up ? t('live') : t('liveDown')}
        </span>
        <button data-testid="lang" onClick={() => setLang(lang === 'zh-CN' ? 'en' : 'zh-CN')}>{t('language')}</button>
        <button data-testid="settings" onClick={() => setShowSettings(!showSettings)}>{t('settings')}</button>
      </header>
      {showSettings && (
        <div className="settings">
          <label>
            {t('token')} <input data-testid="token" type="password" value={token} onChange={(e) => setToken(e.target.value)} />
          </label>
          <label>
            {t('actor')} <input data-testid="actor" value={actor} onChange={(e) => setActor(e.target.value)} />
          </label>
          <button data-testid="save-settings" onClick={saveSettings}>{t('save')}</button>
        </div>
      )}
      <main>
        <div id="map" ref={mapDiv} />
        <aside>
          {props && route.view === 'city' && <CityView {...props} route={route} />}
          {props && route.view === 'county' && <CountyView key={route.county} {...props} route={route} />}
          {props && route.view === 'school' && <SchoolView key={route.school} {...props} route={route} />}
        </aside>
      </main>
    </div>
  );
}
