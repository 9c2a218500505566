import { useCallback, useEffect, useMemo, useRef, useState, type RefObject } from 'react';
import L from 'leaflet';
import { get, maybe, onUnauthorized, type Region } from './api';
import { AuthContext, type AuthState } from './auth/context';
import { homeOf } from './auth/permissions';
import { SignInForm, UserBadge, type SignInReason } from './auth/SignIn';
import { forget, resume, signOut, type Session } from './auth/session';
import { translator, type Lang, type MessageKey } from './i18n/index';
import { useLive, type LiveEvent } from './live';
import { go, hashOf, parseHash, type Route } from './route';
import { CityView } from './views/CityView';
import { CountyView } from './views/CountyView';
import { SchoolView } from './views/SchoolView';
import { UsersView } from './views/UsersView';

export type T = (k: MessageKey) => string;
export type { LiveEvent } from './live';
/** `wall`: the monitoring room's wall display; `scale`: how much larger than at the desk markers are drawn (follows the type). */
export interface ViewProps { map: L.Map; t: T; lang: Lang; city: Region | null; live: LiveEvent | null; wall: boolean; scale: number }

declare global {
  interface Window { __campusMap?: L.Map }
}

/**
 * The route from the hash. On the wall display a plain link (`#/city`) keeps the wall display: the
 * hash is rewritten with `display=wall`, unless `leaveWall` was called just before.
 */
function useRoute(): { route: Route; leaveWall: () => void } {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  const wall = useRef(route.display === 'wall');
  const leaving = useRef(false);
  useEffect(() => {
    const on = () => {
      let r = parseHash(location.hash);
      if (wall.current && !r.display && !leaving.current) {
        r = { ...r, display: 'wall' };
        history.replaceState(null, '', hashOf(r));
      }
      leaving.current = false;
      wall.current = r.display === 'wall';
      setRoute(r);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const leaveWall = useCallback(() => {
    leaving.current = true;
    location.hash = hashOf({ ...parseHash(location.hash), display: undefined });
  }, []);
  return { route, leaveWall };
}

/** The UI zoom the stylesheet chose for this screen and mode (`--ui-zoom` on `.app`), for what CSS cannot size: map markers. */
function useUiZoom(app: RefObject<HTMLDivElement | null>, wall: boolean): number {
  const [zoom, setZoom] = useState(1);
  useEffect(() => {
    const read = () => setZoom(app.current ? Number(getComputedStyle(app.current).getPropertyValue('--ui-zoom')) || 1 : 1);
    read();
    window.addEventListener('resize', read);
    return () => window.removeEventListener('resize', read);
  }, [app, wall]);
  return zoom;
}

/** The time in China, to the minute, for the wall display's header (the room sees that it is alive). */
function useClock(on: boolean): string {
  const fmt = useMemo(() => new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', dateStyle: 'medium', timeStyle: 'short' }), []);
  const [now, setNow] = useState(() => fmt.format(new Date()));
  useEffect(() => {
    if (!on) return;
    const h = setInterval(() => setNow(fmt.format(new Date())), 10_000);
    return () => clearInterval(h);
  }, [on, fmt]);
  return now;
}

export function App() {
  const { route, leaveWall } = useRoute();
  const wall = route.display === 'wall';
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem('campus.lang') === 'en' ? 'en' : 'zh-CN'));
  const t = useMemo(() => translator(lang), [lang]);
  const live = useLive();
  const appDiv = useRef<HTMLDivElement>(null);
  const scale = useUiZoom(appDiv, wall);
  const clock = useClock(wall);
  const mapDiv = useRef<HTMLDivElement>(null);
  const [map, setMap] = useState<L.Map | null>(null);
  const [city, setCity] = useState<Region | null>(null);
  const signIn = useSignIn();

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
    void maybe<{ tileUrl?: string; tileAttribution?: string; tileSubdomains?: string; tileMaxNativeZoom?: number }>('/api/v1/console-config')
      .then((cfg) => {
        if (!cfg?.tileUrl) return;
        // campus plans zoom deeper than most tile servers go: their deepest tiles are scaled up
        L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution ?? '', maxNativeZoom: cfg.tileMaxNativeZoom ?? 18, maxZoom: 22, ...(cfg.tileSubdomains ? { subdomains: cfg.tileSubdomains } : {}), className: 'base-tiles' }).addTo(m).bringToBack();
        if (cfg.tileAttribution) L.control.attribution({ prefix: false }).addTo(m).addAttribution(cfg.tileAttribution);
      })
      .catch(() => {});
    // the map's box changes with the window and when the wall display widens the side panel
    const resized = new ResizeObserver(() => m.invalidateSize());
    resized.observe(mapDiv.current);
    return () => {
      resized.disconnect();
      m.remove();
      delete window.__campusMap;
    };
  }, []);

  // the wall display fits views in quarter zoom steps, so that the city fills the big map rather than half of it
  useEffect(() => {
    if (map) map.options.zoomSnap = wall ? 0.25 : 1;
  }, [map, wall]);

  useEffect(() => {
    void get<Region[]>('/api/v1/regions').then((rs) => setCity(rs.find((r) => r.level === 'city') ?? null));
  }, []);

  const props = map ? { map, t, lang, city, live: live.last, wall, scale } : null;
  return (
    <div className={wall ? 'app wall' : 'app'} ref={appDiv} data-display={wall ? 'wall' : 'desk'}>
      <header>
        <h1>{t('appTitle')}</h1>
        <a href={hashOf({ view: 'city', indicator: 'coverage', ...(wall ? { display: 'wall' as const } : {}) })}>{city?.name ?? t('city')}</a>
        <span className="spacer" />
        {wall && <span className="clock" data-testid="clock">{clock}</span>}
        <span className={`live ${live.up ? 'up' : 'down'}`} data-testid="live" data-up={String(live.up)}>
          {live.up ? t('live') : t('liveDown')}
        </span>
        <button data-testid="lang" onClick={() => setLang(lang === 'zh-CN' ? 'en' : 'zh-CN')}>{t('language')}</button>
        {wall ? (
          <button data-testid="exit-wall" onClick={leaveWall}>{t('exitWall')}</button>
        ) : (
          <a data-testid="wall-link" className="button" href={hashOf({ ...route, display: 'wall' })} title={t('wallHint')}>{t('wall')}</a>
        )}
        {signIn.session?.user.permissions.includes('users') && !wall && <a data-testid="users-link" className="edit-only" href={hashOf({ view: 'users' })}>{t('users')}</a>}
        {signIn.session ? (
          <UserBadge t={t} session={signIn.session} onSignOut={() => void signIn.signOut()} />
        ) : (
          // `settings`: the test id of the box the admin token was typed into, which is now part of this form
          <button data-testid="settings" className="edit-only" onClick={signIn.toggle}>{t('signIn')}</button>
        )}
      </header>
      {signIn.open && !wall && <SignInForm key={signIn.formKey} t={t} reason={signIn.reason} username={signIn.lastUser} onSignedIn={(s) => {
        signIn.signedIn(s);
        const home = homeOf(s.user);
        if (route.view === 'city' && home) go(home);
      }} onClose={signIn.close} />}
      <AuthContext.Provider value={signIn.auth}>
      <main>
        <div id="map" ref={mapDiv} />
        <aside>
          {props && route.view === 'city' && <CityView {...props} route={route} />}
          {props && route.view === 'county' && <CountyView key={route.county} {...props} route={route} />}
          {props && route.view === 'school' && <SchoolView key={route.school} {...props} route={route} />}
          {route.view === 'users' && <UsersView t={t} />}
        </aside>
      </main>
      </AuthContext.Provider>
    </div>
  );
}

/** How often at most a person's activity is told to the collector (the session's idle timeout is 30 minutes). */
const ACTIVITY_PING_MS = 5 * 60_000;

/**
 * Who is signed in, and the sign-in form. A write refused with 401 (the session expired, or no one
 * signed in) forgets the token and opens the form with the reason; the views stay as they are
 * (an unsaved plan, a camera being placed), so that after signing in again the same 确定 retries.
 */
function useSignIn() {
  const [session, setSession] = useState<Session | null>(null);
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState<SignInReason>(null);
  const [lastUser, setLastUser] = useState('');
  /** a fresh form (empty fields) each time it opens */
  const [formKey, setFormKey] = useState(0);
  const current = useRef<Session | null>(null);
  current.current = session;

  const show = useCallback((why: SignInReason) => {
    setReason(why);
    setOpen(true);
    setFormKey((k) => k + 1);
  }, []);
  const ended = useCallback((why: SignInReason) => {
    const was = current.current;
    forget();
    if (was?.via === 'password') setLastUser(was.user.username);
    setSession(null);
    show(why === 'expired' && was?.via === 'token' ? 'token-refused' : why);
  }, [show]);

  useEffect(() => {
    onUnauthorized((why) => ended(why === 'expired' ? 'expired' : 'needed'));
    let alive = true;
    resume()
      .then((s) => alive && setSession((cur) => cur ?? s)) // unless someone signed in meanwhile
      .catch(() => {}); // the collector unreachable: read-only until the next sign-in
    return () => {
      alive = false;
      onUnauthorized(() => {});
    };
  }, [ended]);

  // The idle timeout counts from the last request with the token, and reads go without it (they
  // stay open, and the live channel refreshes them by itself): a person at work — a click, a key —
  // tells the collector at most every few minutes, and learns of an expiry before editing.
  useEffect(() => {
    if (session?.via !== 'password') return;
    let last = Date.now();
    const active = () => {
      if (Date.now() - last < ACTIVITY_PING_MS) return;
      last = Date.now();
      void resume().then(
        (s) => (s ? setSession(s) : ended('expired')),
        () => {},
      );
    };
    document.addEventListener('pointerdown', active, true);
    document.addEventListener('keydown', active, true);
    return () => {
      document.removeEventListener('pointerdown', active, true);
      document.removeEventListener('keydown', active, true);
    };
  }, [session?.via, ended]);

  const signedIn = useCallback((s: Session) => {
    setSession(s);
    setOpen(false);
    setReason(null);
    // the admin token is taken at its word at once (it grants everything); the collector confirms it
    if (s.via === 'token')
      void resume().then(
        (confirmed) => (confirmed ? setSession(confirmed) : ended('expired')),
        () => {},
      );
  }, [ended]);
  const out = useCallback(async () => {
    const s = current.current;
    setSession(null);
    await signOut(s).catch(() => {}); // forgotten here even when the collector cannot be told
  }, []);
  const toggle = useCallback(() => (open ? setOpen(false) : show(null)), [open, show]);
  const close = useCallback(() => setOpen(false), []);
  const authState = useMemo<AuthState>(() => ({ user: session?.user ?? null, openSignIn: () => show(null) }), [session, show]);
  return { session, open, reason, lastUser, formKey, signedIn, signOut: out, toggle, close, auth: authState };
}
