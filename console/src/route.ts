/** Deep links: the hash says which view and what is selected, and `display=wall` the monitoring room's wall display. */
export type Route = (
  | { view: 'city'; indicator: Indicator }
  | { view: 'county'; county: string; type: string; finding?: string }
  | { view: 'school'; school: string; selected: string }
  /** 用户管理: people's accounts (permission 'users') */
  | { view: 'users' }
) & { display?: Display };

export const INDICATORS = ['coverage', 'cameras-online', 'uplink', 'ipv6', 'open-findings', 'open-tickets'] as const;
export type Indicator = (typeof INDICATORS)[number];
/** The wall display (大屏): large type, no editing controls. Absent: the desk console. */
export type Display = 'wall';

export function parseHash(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const q = new URLSearchParams(query);
  const [view, id] = path.split('/');
  const display = q.get('display') === 'wall' ? { display: 'wall' as const } : {};
  if (view === 'county' && id) return { view: 'county', county: id, type: q.get('type') ?? '', finding: q.get('finding') ?? '', ...display };
  if (view === 'school' && id) return { view: 'school', school: id, selected: q.get('sel') ?? '', ...display };
  if (view === 'users') return { view: 'users', ...display };
  const ind = q.get('ind');
  return { view: 'city', indicator: (INDICATORS as readonly string[]).includes(ind ?? '') ? (ind as Indicator) : 'coverage', ...display };
}

export function hashOf(r: Route): string {
  const q = new URLSearchParams();
  let path: string;
  if (r.view === 'county') {
    path = `/county/${r.county}`;
    if (r.type) q.set('type', r.type);
    if (r.finding) q.set('finding', r.finding);
  } else if (r.view === 'school') {
    path = `/school/${r.school}`;
    if (r.selected) q.set('sel', r.selected);
  } else if (r.view === 'users') {
    path = '/users';
  } else {
    path = '/city';
    q.set('ind', r.indicator);
  }
  if (r.display) q.set('display', r.display);
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

/** Goes to a view, staying on the wall display when there (unless `r` says where to be). */
export const go = (r: Route): void => {
  location.hash = hashOf('display' in r ? r : { ...r, display: parseHash(location.hash).display });
};
