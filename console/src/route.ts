/** Deep links: the hash says which view and what is selected. */
export type Route =
  | { view: 'city'; indicator: Indicator }
  | { view: 'county'; county: string; type: string; finding?: string }
  | { view: 'school'; school: string; selected: string };

export const INDICATORS = ['coverage', 'cameras-online', 'uplink', 'ipv6', 'open-findings'] as const;
export type Indicator = (typeof INDICATORS)[number];

export function parseHash(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const q = new URLSearchParams(query);
  const [view, id] = path.split('/');
  if (view === 'county' && id) return { view: 'county', county: id, type: q.get('type') ?? '', finding: q.get('finding') ?? '' };
  if (view === 'school' && id) return { view: 'school', school: id, selected: q.get('sel') ?? '' };
  const ind = q.get('ind');
  return { view: 'city', indicator: (INDICATORS as readonly string[]).includes(ind ?? '') ? (ind as Indicator) : 'coverage' };
}

export function hashOf(r: Route): string {
  if (r.view === 'county') {
    const q = new URLSearchParams();
    if (r.type) q.set('type', r.type);
    if (r.finding) q.set('finding', r.finding);
    const qs = q.toString();
    return `#/county/${r.county}${qs ? `?${qs}` : ''}`;
  }
  if (r.view === 'school') return `#/school/${r.school}${r.selected ? `?sel=${encodeURIComponent(r.selected)}` : ''}`;
  return `#/city?ind=${r.indicator}`;
}

export const go = (r: Route): void => {
  location.hash = hashOf(r);
};
