/**
 * What the map console reads: county boundaries (converted from GCJ-02 to WGS84), per-county
 * indicators for shading and ranking, schools per zoom level (clusters per county when zoomed out),
 * a school's map (campus plan, key areas, camera view sectors, blind spots, devices), device time
 * series from InfluxDB for charts; and the built console itself (`console/dist`) at `/`.
 *
 * The city and school-marker answers come from a cache of every school's compliance (the same
 * `SchoolCompliance` the roll-ups are made of): built once on the first request, then kept fresh
 * by the event bus (a school whose coverage or camera status changed is recomputed) and by a full
 * rebuild in the background when older than `ttlMs`; requests never wait for a rebuild but the first.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Type, type Static } from '@sinclair/typebox';
import { PPM_LEVELS, gcj02ToWgs84, type DensityLevel, type GeoJsonPolygon } from '../compliance/geometry/index.ts';
import { localFrameOf } from '../compliance/campus.ts';
import type { ComplianceService, SchoolCompliance } from '../compliance/service.ts';
import { summarise, type UnitSummary } from '../compliance/rollup.ts';
import { lit } from '../compliance/telemetry-facts.ts';
import { RENAMED_COUNTIES } from '../geo/regions.ts';
import { readBoundaryFeatures } from '../geo/boundaries.ts';
import { Enrollment, type Db, type Inventory, type Region, type School } from '../store/index.ts';
import type { InfluxConnection } from '../telemetry/influx-http.ts';
import { Tickets } from '../tickets/store.ts';
import type { MapTiles } from './map-tiles.ts';
import type { EventBus } from './events.ts';
import { ApiError } from './errors.ts';
import { mapLimit } from './limit.ts';
import * as S from './schemas.ts';
import { telemetryQuery } from './telemetry-query.ts';
import { devicesBySysName } from './topology-routes.ts';

export const DEFAULT_CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'console', 'dist');

export interface ConsoleRouteDeps {
  db: Db;
  inventory: Inventory;
  compliance: ComplianceService;
  events: EventBus;
  /** repair tickets, for the open-ticket figures (made from `db` when absent) */
  tickets?: Tickets;
  influx?: InfluxConnection;
  /** The built console (default `console/dist`); served at `/` when it holds index.html. */
  consoleDir?: string;
  /** Full rebuild of the map cache when older than this (default 5 min). */
  mapCacheTtlMs?: number;
  /** Build the map cache when the server is ready, not on the first request (the collector does). */
  warmMapCache?: boolean;
  /** A tile server for the console's map background (none: vectors on a plain background). */
  mapTiles?: MapTiles;
}

// ---------------------------------------------------------------- schemas

const Code6 = Type.String({ pattern: '^[0-9]{6}$' });
const Any = (description: string) => Type.Unknown({ description });
const Worst = Type.Union([Type.Literal('ok'), Type.Literal('warning'), Type.Literal('fail'), Type.Literal('unknown')], {
  description: 'fail: a rule fails; warning: none fails but some cannot be judged or a camera is down; unknown: nothing could be judged',
});
const INDICATORS = ['coverage', 'cameras-online', 'uplink', 'ipv6', 'open-findings', 'open-tickets'] as const;
type Indicator = (typeof INDICATORS)[number];
const ConsoleConfig = Type.Object({
  tileUrl: Type.Optional(Type.String()),
  tileAttribution: Type.Optional(Type.String()),
  tileSubdomains: Type.Optional(Type.String()),
  tileMaxNativeZoom: Type.Optional(Type.Integer()),
});
const LonLatPair = Type.Tuple([Type.Number(), Type.Number()], { description: '[lon, lat] WGS84' });

const CountiesQuery = Type.Object(
  { city: Type.Optional(Code6), frame: Type.Optional(Type.Union([Type.Literal('wgs84'), Type.Literal('gcj02')], { description: 'default wgs84; gcj02 = as shipped, for Amap/Tencent tiles' })) },
  { additionalProperties: false },
);
const CityMapQuery = Type.Object(
  { city: Type.Optional(Code6), indicator: Type.Optional(Type.Union(INDICATORS.map((i) => Type.Literal(i)), { description: 'default coverage' })) },
  { additionalProperties: false },
);
const CountyValue = Type.Object({
  code: Type.String(),
  name: Type.String(),
  value: Type.Union([Type.Number(), Type.Null()], { description: 'share 0..1, or a count for open-findings; null = no data' }),
  schools: Type.Integer(),
  centroid: Type.Union([LonLatPair, Type.Null()]),
});
const CityMap = Type.Object({
  city: Type.Object({ code: Type.String(), name: Type.String() }),
  indicator: Type.String(),
  unit: Type.Union([Type.Literal('share'), Type.Literal('count')]),
  /** better = higher (shares) or lower (open findings) */
  better: Type.Union([Type.Literal('higher'), Type.Literal('lower')]),
  computedAt: Type.String({ description: 'when the oldest school figure in the cache was computed' }),
  total: Type.Object({ value: Type.Union([Type.Number(), Type.Null()]), schools: Type.Integer() }),
  counties: Type.Array(CountyValue),
  ranking: Type.Array(Type.Object({ rank: Type.Integer(), code: Type.String(), name: Type.String(), value: Type.Union([Type.Number(), Type.Null()]) })),
});
const SchoolsQuery = Type.Object(
  {
    city: Type.Optional(Code6),
    county: Type.Optional(Code6),
    bbox: Type.Optional(Type.String({ maxLength: 120, description: 'minLon,minLat,maxLon,maxLat (WGS84)' })),
    zoom: Type.Optional(Type.Integer({ minimum: 0, maximum: 24, description: '≤ 9: one cluster per county; above (or absent): individual schools' })),
  },
  { additionalProperties: false },
);
const Counts = Type.Object({ ok: Type.Integer(), warning: Type.Integer(), fail: Type.Integer(), unknown: Type.Integer() });
const Cluster = Type.Object({ county: Type.String(), name: Type.String(), lon: Type.Number(), lat: Type.Number(), count: Type.Integer(), unplaced: Type.Integer(), worst: Worst, counts: Counts });
const SchoolMarker = Type.Object({
  code: Type.String(),
  name: Type.String(),
  type: Type.String(),
  county: Type.String(),
  lon: Type.Number(),
  lat: Type.Number(),
  worst: Worst,
  coverage: Type.Union([Type.Number(), Type.Null()], { description: 'weighted key-area coverage share, null without a campus plan' }),
  cameras: Type.Object({ online: Type.Number(), total: Type.Integer() }),
  openFindings: Type.Integer(),
  openTickets: Type.Integer({ description: 'repair tickets open or in progress' }),
});
const SchoolsMap = Type.Union([
  Type.Object({ mode: Type.Literal('clusters'), clusters: Type.Array(Cluster) }),
  Type.Object({ mode: Type.Literal('schools'), schools: Type.Array(SchoolMarker), unplaced: Type.Integer({ description: 'matching schools with no position' }) }),
]);
const SeriesParams = Type.Object({
  code: Type.String({ pattern: '^[0-9]{10}$' }),
  agent: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' }),
  device: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' }),
});
const RANGES = { '1h': { every: '1m', seconds: 3600 }, '6h': { every: '5m', seconds: 6 * 3600 }, '24h': { every: '15m', seconds: 86400 }, '7d': { every: '1h', seconds: 7 * 86400 }, '30d': { every: '6h', seconds: 30 * 86400 } } as const;
type Range = keyof typeof RANGES;
const Ident = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,63}$' });
const SeriesQuery = Type.Object(
  {
    measurement: Ident,
    field: Ident,
    range: Type.Optional(Type.Union(Object.keys(RANGES).map((r) => Type.Literal(r)), { description: 'default 24h; points every 1m/5m/15m/1h/6h' })),
    ifName: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'one interface (tag ifName); else interface series are split by ifName' })),
    transform: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('none'), Type.Literal('rate'), Type.Literal('mbps')], {
        description: 'auto (default): *Octets counters → Mbit/s, *Pkts/*Errors/*Discards counters → per second, else the mean; rate = non_negative_derivative per second; mbps = octets → Mbit/s',
      }),
    ),
  },
  { additionalProperties: false },
);
const SeriesBody = Type.Object({
  measurement: Type.String(),
  field: Type.String(),
  range: Type.String(),
  interval: Type.String(),
  transform: Type.String(),
  unit: Type.String({ description: 'Mbit/s, 1/s, or empty (the field’s own unit)' }),
  series: Type.Array(Type.Object({ tags: Type.Record(Type.String(), Type.String()), points: Type.Array(Type.Array(Type.Union([Type.Number(), Type.Null()]), { minItems: 2, maxItems: 2 }), { description: '[epoch ms, value] (value null: no data in that interval)' }) })),
});

/** How far back an LLDP neighbour still counts (the profile reads them every 15 minutes). */
const NEIGHBOUR_WINDOW_S = 24 * 3600;
const NeighboursBody = Type.Object({
  neighbours: Type.Array(
    Type.Object({
      localPort: Type.String({ description: 'the port of this device, named from lldpLocPortTable (else its number)' }),
      remoteSysName: Type.String(),
      remotePortId: Type.Union([Type.String(), Type.Null()]),
      remotePortDesc: Type.Union([Type.String(), Type.Null()]),
      remoteChassisId: Type.Union([Type.String(), Type.Null()]),
      seenAt: Type.String({ format: 'date-time', description: 'the last poll that saw it' }),
      device: Type.Union(
        [Type.Object({ agentId: Type.String(), deviceId: Type.String(), kind: Type.String(), state: Type.String(), name: Type.Optional(Type.String()) }), Type.Null()],
        { description: "the school's device whose sysName it is (enrolled preferred), or null" },
      ),
    }),
  ),
});

// ---------------------------------------------------------------- boundaries

type Position = number[];
interface BoundaryFeature {
  type: 'Feature';
  id: string;
  properties: { code: string; name: string; centroid: Position | null };
  geometry: { type: 'Polygon'; coordinates: Position[][] } | { type: 'MultiPolygon'; coordinates: Position[][][] };
}
export interface BoundaryCollection {
  type: 'FeatureCollection';
  frame: 'wgs84' | 'gcj02';
  city: string;
  features: BoundaryFeature[];
}

const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
const toWgs = (p: Position): Position => {
  const w = gcj02ToWgs84({ lon: p[0]!, lat: p[1]! });
  return [r6(w.lon), r6(w.lat)];
};

/** DataV features → FeatureCollection (codes corrected), in the frame asked for. */
export function boundaryCollection(data: unknown, city: string, frame: 'wgs84' | 'gcj02'): BoundaryCollection {
  if (!Array.isArray(data)) throw new Error(`boundary file of ${city}: expected an array of Features`);
  const conv = frame === 'wgs84' ? toWgs : (p: Position) => [p[0]!, p[1]!];
  const features: BoundaryFeature[] = [];
  for (const f of data as { properties?: Record<string, unknown>; geometry?: { type?: string; coordinates?: unknown } }[]) {
    const adcode = String(f.properties?.adcode ?? '');
    const [code, name] = RENAMED_COUNTIES[adcode] ?? [adcode, String(f.properties?.name ?? '')];
    const g = f.geometry;
    if (!g || !Array.isArray(g.coordinates)) continue;
    const c = (f.properties?.centroid ?? f.properties?.center) as unknown;
    const centroid = Array.isArray(c) && typeof c[0] === 'number' && typeof c[1] === 'number' ? conv(c as Position) : null;
    let geometry: BoundaryFeature['geometry'];
    if (g.type === 'Polygon') geometry = { type: 'Polygon', coordinates: (g.coordinates as Position[][]).map((ring) => ring.map(conv)) };
    else if (g.type === 'MultiPolygon') geometry = { type: 'MultiPolygon', coordinates: (g.coordinates as Position[][][]).map((poly) => poly.map((ring) => ring.map(conv))) };
    else continue;
    features.push({ type: 'Feature', id: code, properties: { code, name, centroid }, geometry });
  }
  return { type: 'FeatureCollection', frame, city, features };
}

// ---------------------------------------------------------------- school summaries

type WorstFinding = 'ok' | 'warning' | 'fail' | 'unknown';

export interface SchoolSummary {
  school: School;
  compliance: SchoolCompliance | null;
  worst: WorstFinding;
  computedAt: number;
}

export function worstOf(c: SchoolCompliance | null): WorstFinding {
  if (!c || c.findings.length === 0) return 'unknown';
  if (c.findings.some((f) => f.verdict === 'fail')) return 'fail';
  if (c.findings.every((f) => f.verdict === 'unknown')) return 'unknown';
  const cams = c.facts.cameras;
  if (c.findings.some((f) => f.verdict === 'unknown') || cams.online < cams.total) return 'warning';
  return 'ok';
}

const WORST_ORDER: WorstFinding[] = ['fail', 'warning', 'unknown', 'ok'];


/** Every school's compliance, kept for the map (see the file comment). */
export class MapCache {
  private entries = new Map<string, SchoolSummary>();
  private built = false;
  private builtAt = 0;
  private building: Promise<void> | undefined;
  private readonly dirty = new Set<string>();
  private dirtyTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: { inventory: Inventory; compliance: ComplianceService; events: EventBus },
    private readonly ttlMs = 5 * 60_000,
  ) {
    this.unsubscribe = deps.events.subscribe((e) => this.markDirty(e.event.school));
  }

  close(): void {
    this.unsubscribe();
    if (this.dirtyTimer) clearTimeout(this.dirtyTimer);
  }

  markDirty(code: string): void {
    this.dirty.add(code);
    if (this.built && !this.dirtyTimer) {
      this.dirtyTimer = setTimeout(() => {
        this.dirtyTimer = undefined;
        void this.refreshDirty().catch(() => undefined);
      }, 500);
      this.dirtyTimer.unref();
    }
  }

  private async summarise(s: School): Promise<SchoolSummary> {
    const compliance = await this.deps.compliance.compliance(s.code);
    return { school: s, compliance, worst: worstOf(compliance), computedAt: Date.now() };
  }

  /** Cheap fingerprint of the schools table: a school added, removed or edited changes it. */
  private async schoolsStamp(): Promise<string> {
    const [r] = await this.deps.inventory.db.query<{ n: number; t: Date | null }>(`SELECT count(*) AS n, max(updated_at) AS t FROM schools`);
    return `${r?.n ?? 0}/${r?.t?.getTime() ?? 0}`;
  }
  private stamp = '';

  /** Schools imported or edited since the cache was built: summarise those now, drop removed ones. */
  private async syncSchools(stamp: string): Promise<void> {
    const schools = await this.deps.inventory.listSchools();
    const codes = new Set(schools.map((x) => x.code));
    for (const code of this.entries.keys()) if (!codes.has(code)) this.entries.delete(code);
    const changed = schools.filter((x) => {
      const e = this.entries.get(x.code);
      return !e || e.school.updatedAt.getTime() !== x.updatedAt.getTime();
    });
    await mapLimit(changed, 4, async (x) => void this.entries.set(x.code, await this.summarise(x)));
    this.stamp = stamp;
  }

  private rebuild(): Promise<void> {
    this.building ??= (async () => {
      try {
        const started = Date.now();
        this.stamp = await this.schoolsStamp();
        const schools = await this.deps.inventory.listSchools();
        const next = new Map<string, SchoolSummary>();
        await mapLimit(schools, 4, async (s) => void next.set(s.code, await this.summarise(s)));
        this.entries = next;
        this.built = true;
        this.builtAt = started;
      } finally {
        this.building = undefined;
      }
    })();
    return this.building;
  }

  private async refreshDirty(): Promise<void> {
    const codes = [...this.dirty];
    this.dirty.clear();
    await mapLimit(codes, 2, async (code) => {
      const s = await this.deps.inventory.getSchool(code);
      if (s) this.entries.set(code, await this.summarise(s));
      else this.entries.delete(code);
    });
  }

  /** The summaries: waits only for the first build; afterwards stale entries are refreshed in the background. */
  async all(): Promise<SchoolSummary[]> {
    if (!this.built) await this.rebuild();
    else {
      const stamp = await this.schoolsStamp();
      if (stamp !== this.stamp) await this.syncSchools(stamp);
    }
    if (Date.now() - this.builtAt > this.ttlMs && !this.building) void this.rebuild().catch(() => undefined);
    return [...this.entries.values()];
  }

  /** Drops everything: the next request rebuilds (tests, imports). */
  invalidate(): void {
    this.built = false;
  }
}

/** Counts (findings, tickets) rank lower-is-better; shares higher-is-better. */
const isCount = (i: Indicator) => i === 'open-findings' || i === 'open-tickets';

function indicatorValue(u: UnitSummary, indicator: Indicator, openTickets: number): number | null {
  switch (indicator) {
    case 'coverage':
      return u.keyAreas.weightedCoverage;
    case 'cameras-online':
      return u.cameras.total ? Math.round((u.cameras.online / u.cameras.total) * 1e4) / 1e4 : null;
    case 'uplink': {
      const rs = u.rules.filter((r) => r.kind === 'uplink-bandwidth');
      const pass = rs.reduce((s, r) => s + r.pass, 0), n = rs.reduce((s, r) => s + r.pass + r.fail + r.unknown, 0);
      return n ? Math.round((pass / n) * 1e4) / 1e4 : null;
    }
    case 'ipv6':
      return u.ipv6.share;
    case 'open-findings':
      return u.schools ? u.openIssues : null;
    case 'open-tickets':
      return u.schools ? openTickets : null;
  }
}

function parseBbox(s: string | undefined): [number, number, number, number] | undefined {
  if (s === undefined) return undefined;
  const parts = s.split(',').map((x) => Number(x.trim()));
  const [a, b, c, d] = parts;
  if (parts.length !== 4 || parts.some((x) => !Number.isFinite(x)) || a! > c! || b! > d! || Math.abs(b!) > 90 || Math.abs(d!) > 90)
    throw new ApiError('INVALID_INPUT', 'bbox must be minLon,minLat,maxLon,maxLat (WGS84 degrees, min ≤ max)');
  return [a!, b!, c!, d!];
}

// ---------------------------------------------------------------- school map

const cross = (o: Position, a: Position, b: Position) => (a[0]! - o[0]!) * (b[1]! - o[1]!) - (a[1]! - o[1]!) * (b[0]! - o[0]!);
function segmentsCross(a: Position, b: Position, c: Position, d: Position): boolean {
  const d1 = cross(c, d, a), d2 = cross(c, d, b), d3 = cross(a, b, c), d4 = cross(a, b, d);
  return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
}
function inRing(p: Position, ring: Position[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number], [xj, yj] = ring[j] as [number, number];
    if (yi > p[1]! !== yj > p[1]! && p[0]! < ((xj - xi) * (p[1]! - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
/** Whether two rings (same frame) overlap: a vertex of one inside the other, or crossing edges. */
export function ringsTouch(a: Position[], b: Position[] | undefined): boolean {
  if (!b || a.length < 3 || b.length < 3) return false;
  if (a.some((p) => inRing(p, b)) || b.some((p) => inRing(p, a))) return true;
  for (let i = 0; i + 1 < a.length; i++) for (let j = 0; j + 1 < b.length; j++) if (segmentsCross(a[i]!, a[i + 1]!, b[j]!, b[j + 1]!)) return true;
  return false;
}


const DEVICE_ONLINE_MAX_AGE_MS = 15 * 60_000;

// ---------------------------------------------------------------- routes

/** Registers the console's API routes and the console itself (`registerConsoleStatic`). */
export async function registerConsoleRoutes(app: FastifyInstance, deps: ConsoleRouteDeps): Promise<MapCache> {
  const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' } };
  const boundaries = new Map<string, BoundaryCollection>();
  const cache = new MapCache(deps, deps.mapCacheTtlMs);
  const tickets = deps.tickets ?? new Tickets(deps.db);
  app.addHook('onClose', async () => cache.close());
  if (deps.warmMapCache) app.addHook('onReady', async () => void cache.all().catch(() => undefined));

  app.get(
    '/api/v1/console-config',
    { schema: { summary: "The console's settings: the tile server for the map background, if one is configured (WGS84/CGCS2000 tiles)", response: { 200: ConsoleConfig } } },
    async () => (deps.mapTiles ? { tileUrl: deps.mapTiles.url, ...(deps.mapTiles.attribution ? { tileAttribution: deps.mapTiles.attribution } : {}), ...(deps.mapTiles.subdomains ? { tileSubdomains: deps.mapTiles.subdomains } : {}), ...(deps.mapTiles.maxNativeZoom ? { tileMaxNativeZoom: deps.mapTiles.maxNativeZoom } : {}) } : {}),
  );

  const cityOf = async (code?: string): Promise<{ city: Region; counties: Region[] }> => {
    const cities = await deps.inventory.listRegions({ level: 'city' });
    const city = code ? cities.find((c) => c.code === code) : cities[0];
    if (!city) throw new ApiError('NOT_FOUND', code ? `city ${code}` : 'a city region');
    return { city, counties: await deps.inventory.listRegions({ level: 'county', parentCode: city.code }) };
  };
  const boundaryOf = (city: string, frame: 'wgs84' | 'gcj02'): BoundaryCollection | null => {
    const key = `${city}|${frame}`;
    let fc = boundaries.get(key);
    if (!fc) {
      const data = readBoundaryFeatures(city);
      if (data === null) return null;
      fc = boundaryCollection(data, city, frame);
      boundaries.set(key, fc);
    }
    return fc;
  };
  /** County centroids (WGS84) from the boundary file, else the inventory's centre (GCJ-02, converted). */
  const centroids = (city: string, counties: Region[]): Map<string, Position | null> => {
    const fc = boundaryOf(city, 'wgs84');
    const out = new Map<string, Position | null>();
    for (const k of counties) {
      const f = fc?.features.find((x) => x.properties.code === k.code);
      out.set(k.code, f?.properties.centroid ?? (k.centreLon !== null && k.centreLat !== null ? toWgs([k.centreLon, k.centreLat]) : null));
    }
    return out;
  };

  app.get(
    '/api/v1/geo/counties',
    { schema: { summary: "The city's county boundaries as GeoJSON (WGS84 by default; `frame=gcj02` as shipped)", querystring: CountiesQuery, response: { 200: Any('FeatureCollection with `frame` and `city`; properties code, name, centroid'), ...errors } } },
    async (req, reply) => {
      const q = req.query as Static<typeof CountiesQuery>;
      const city = q.city ?? (await cityOf()).city.code;
      const fc = boundaryOf(city, q.frame ?? 'wgs84');
      if (!fc) throw new ApiError('NOT_FOUND', `boundaries of city ${city}`);
      return reply.header('cache-control', 'public, max-age=3600').send(fc);
    },
  );

  app.get(
    '/api/v1/map/city',
    { schema: { summary: 'Per county one indicator (for shading) and the school count, and the county ranking', querystring: CityMapQuery, response: { 200: CityMap, ...errors } } },
    async (req) => {
      const q = req.query as Static<typeof CityMapQuery>;
      const indicator: Indicator = q.indicator ?? 'coverage';
      const { city, counties } = await cityOf(q.city);
      const all = await cache.all();
      const cents = centroids(city.code, counties);
      const byCounty = new Map<string, SchoolCompliance[]>(counties.map((k) => [k.code, []]));
      let oldest = Date.now();
      for (const e of all) {
        const list = byCounty.get(e.school.countyCode);
        if (!list) continue;
        if (e.compliance) list.push(e.compliance);
        oldest = Math.min(oldest, e.computedAt);
      }
      const ticketsBySchool = indicator === 'open-tickets' ? await tickets.openCounts() : new Map<string, number>();
      const ticketsOf = (schools: SchoolCompliance[]) => schools.reduce((n, c) => n + (ticketsBySchool.get(c.school.code) ?? 0), 0);
      const rows = counties.map((k) => {
        const mine = byCounty.get(k.code)!;
        const u = summarise(k.code, k.name, mine);
        return { code: k.code, name: k.name, value: indicatorValue(u, indicator, ticketsOf(mine)), schools: u.schools, centroid: cents.get(k.code) ?? null };
      });
      const better = isCount(indicator) ? 'lower' : 'higher';
      const sorted = [...rows].sort((a, b) => {
        if (a.value === null || b.value === null) return a.value === b.value ? a.code.localeCompare(b.code) : a.value === null ? 1 : -1;
        return (better === 'higher' ? b.value - a.value : a.value - b.value) || a.code.localeCompare(b.code);
      });
      const everySchool = [...byCounty.values()].flat();
      const total = summarise(city.code, city.name, everySchool);
      return {
        city: { code: city.code, name: city.name },
        indicator,
        unit: isCount(indicator) ? 'count' : 'share',
        better,
        computedAt: new Date(oldest).toISOString(),
        total: { value: indicatorValue(total, indicator, ticketsOf(everySchool)), schools: total.schools },
        counties: rows,
        ranking: sorted.map((r, i) => ({ rank: i + 1, code: r.code, name: r.name, value: r.value })),
      };
    },
  );

  app.get(
    '/api/v1/map/schools',
    { schema: { summary: 'School markers: one cluster per county at zoom ≤ 9, else the schools in the bbox, with their worst finding', querystring: SchoolsQuery, response: { 200: SchoolsMap, ...errors } } },
    async (req) => {
      const q = req.query as Static<typeof SchoolsQuery>;
      const bbox = parseBbox(q.bbox);
      const inBox = (lon: number, lat: number) => !bbox || (lon >= bbox[0] && lon <= bbox[2] && lat >= bbox[1] && lat <= bbox[3]);
      const { city, counties } = await cityOf(q.city);
      const countyCodes = new Set(counties.map((k) => k.code));
      if (q.county && !countyCodes.has(q.county)) throw new ApiError('NOT_FOUND', `county ${q.county} of ${city.name}`);
      const entries = (await cache.all()).filter((e) => (q.county ? e.school.countyCode === q.county : countyCodes.has(e.school.countyCode)));

      if (q.zoom !== undefined && q.zoom <= 9) {
        const cents = centroids(city.code, counties);
        const clusters: Static<typeof Cluster>[] = [];
        for (const k of counties) {
          if (q.county && k.code !== q.county) continue;
          const mine = entries.filter((e) => e.school.countyCode === k.code);
          if (!mine.length) continue;
          const placed = mine.filter((e) => e.school.lon !== null && e.school.lat !== null);
          const c = cents.get(k.code);
          const lon = placed.length ? placed.reduce((s, e) => s + e.school.lon!, 0) / placed.length : c?.[0];
          const lat = placed.length ? placed.reduce((s, e) => s + e.school.lat!, 0) / placed.length : c?.[1];
          if (lon === undefined || lat === undefined || !inBox(lon, lat)) continue;
          const counts = { ok: 0, warning: 0, fail: 0, unknown: 0 };
          for (const e of mine) counts[e.worst]++;
          const worst = WORST_ORDER.find((w) => counts[w] > 0) ?? 'unknown';
          clusters.push({ county: k.code, name: k.name, lon: r6(lon), lat: r6(lat), count: mine.length, unplaced: mine.length - placed.length, worst, counts });
        }
        return { mode: 'clusters' as const, clusters };
      }
      let unplaced = 0;
      const openTickets = await tickets.openCounts();
      const schools: Static<typeof SchoolMarker>[] = [];
      for (const e of entries) {
        const s = e.school;
        if (s.lon === null || s.lat === null) {
          unplaced++;
          continue;
        }
        if (!inBox(s.lon, s.lat)) continue;
        const f = e.compliance?.facts;
        schools.push({
          code: s.code,
          name: s.name,
          type: s.type,
          county: s.countyCode,
          lon: s.lon,
          lat: s.lat,
          worst: e.worst,
          coverage: f?.keyAreas.weightedCoverage ?? null,
          cameras: { online: f?.cameras.online ?? 0, total: f?.cameras.total ?? 0 },
          openFindings: e.compliance?.findings.filter((x) => x.verdict === 'fail').length ?? 0,
          openTickets: openTickets.get(s.code) ?? 0,
        });
      }
      schools.sort((a, b) => a.code.localeCompare(b.code));
      return { mode: 'schools' as const, schools, unplaced };
    },
  );

  app.get(
    '/api/v1/schools/:code/map',
    {
      schema: {
        summary: "What the school view draws: campus plan, key areas with coverage, each camera's view sector at its key areas' required level, blind spots, and the enrolled devices with status",
        params: S.SchoolCodeParams,
        response: { 200: Any('SchoolMap'), ...errors },
      },
    },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      const school = await deps.inventory.getSchool(code);
      if (!school) throw new ApiError('NOT_FOUND', `school ${code}`);
      const svc = deps.compliance;
      const report = await svc.coverage(code); // refreshes the cached state the views come from
      const campus = report ? await svc.campusGeoJson(code) : null;
      const lf = report ? localFrameOf(report.frame) : undefined;

      // sectors: per camera, one per distinct required level of the key areas its view reaches
      // (down or not: a broken camera's sector shows what is missing), else the plan's strictest level
      const areaRings = new Map<string, Position[]>();
      for (const f of campus?.features ?? []) {
        const g = f.geometry as { type?: string; coordinates?: Position[][] } | null;
        if (f.properties?.kind === 'key-area' && g?.type === 'Polygon' && g.coordinates?.[0]) areaRings.set(String(f.id), g.coordinates[0]);
      }
      const areas = report?.areas ?? [];
      const levels = [...new Set(areas.map((a) => a.requiredLevel))];
      const strictest = levels.reduce<DensityLevel | undefined>((m, l) => (m === undefined || PPM_LEVELS[l] > PPM_LEVELS[m] ? l : m), undefined);
      const sectors: unknown[] = [];
      for (const cam of report?.cameras ?? []) {
        const drawn: { level: DensityLevel; polys: GeoJsonPolygon[]; keyAreas: string[] }[] = [];
        for (const level of levels) {
          const polys = svc.cameraView(code, cam.id, level);
          if (!polys?.length) continue;
          const reached = areas.filter((a) => a.requiredLevel === level && (a.cameraIds.includes(cam.id) || polys.some((p) => ringsTouch(p.coordinates[0]!, areaRings.get(a.id)))));
          if (reached.length) drawn.push({ level, polys, keyAreas: reached.map((a) => a.id) });
        }
        if (!drawn.length && strictest) {
          const polys = svc.cameraView(code, cam.id, strictest);
          if (polys?.length) drawn.push({ level: strictest, polys, keyAreas: [] });
        }
        for (const d of drawn) {
          sectors.push({
            type: 'Feature',
            id: `${cam.id}@${d.level}`,
            properties: { camera: cam.id, agentId: cam.agentId, deviceId: cam.deviceId, level: d.level, requiredPpm: PPM_LEVELS[d.level], keyAreas: d.keyAreas, online: cam.online, healthy: cam.healthy, step: cam.step },
            geometry: d.polys.length === 1 ? d.polys[0] : { type: 'MultiPolygon', coordinates: d.polys.map((p) => p.coordinates) },
          });
        }
      }
      const blindSpots = (report?.areas ?? []).flatMap((a) =>
        a.blindSpots.map((g, i) => ({ type: 'Feature', id: `${a.id}#${i}`, properties: { area: a.id, name: a.name, requiredLevel: a.requiredLevel }, geometry: g })),
      );

      const rows = await new Enrollment(deps.db).devicesInStates(code, ['enrolled']);
      const agentsOnline = new Set((await deps.inventory.listAgents(code)).filter((a) => a.state === 'online').map((a) => a.agentId));
      const camStatus = new Map((report?.cameras ?? []).map((c) => [c.id, c]));
      const devices = rows.map((d) => {
        const pos = d.placement?.position;
        let position: { lon: number; lat: number } | null = null;
        let planXY: { x: number; y: number } | null = null;
        if (pos && 'lon' in pos) position = { lon: pos.lon, lat: pos.lat };
        else if (pos) {
          planXY = { x: pos.x, y: pos.y };
          if (lf) {
            const g = lf.toLonLat(pos);
            position = { lon: Math.round(g.lon * 1e8) / 1e8, lat: Math.round(g.lat * 1e8) / 1e8 };
          }
        }
        const id = `${d.agentId}/${d.deviceId}`;
        const cam = camStatus.get(id);
        const online = cam ? cam.online : agentsOnline.has(d.agentId) && !d.goneAt && Date.now() - new Date(d.lastSeen).getTime() < DEVICE_ONLINE_MAX_AGE_MS;
        const name = d.attributes.name ?? d.attributes.sysName ?? d.attributes.model;
        return {
          id,
          agentId: d.agentId,
          deviceId: d.deviceId,
          kind: d.kind,
          profile: d.profile,
          ...(name !== undefined ? { name: String(name) } : {}),
          state: d.state,
          position,
          planXY,
          building: d.placement?.building ?? null,
          room: d.placement?.room ?? null,
          camera: d.placement?.camera ?? null,
          online,
          healthy: cam ? cam.healthy : null,
          step: cam ? cam.step : null,
          lastSeen: new Date(d.lastSeen).toISOString(),
          goneAt: d.goneAt ? new Date(d.goneAt).toISOString() : null,
        };
      });
      return {
        school: { code, name: school.name, countyCode: school.countyCode, type: school.type, lon: school.lon, lat: school.lat },
        frame: report?.frame ?? null,
        policy: report?.policy ?? null,
        computedAt: report?.computedAt ?? new Date().toISOString(),
        coverage: report ? { threshold: report.threshold, fullyCoveredShare: report.fullyCoveredShare, weightedCoverage: report.weightedCoverage, weightedIfAllHealthy: report.weightedIfAllHealthy } : null,
        campus,
        keyAreas: (report?.areas ?? []).map(({ blindSpots: _b, ...a }) => a),
        sectors: { type: 'FeatureCollection', features: sectors },
        blindSpots: { type: 'FeatureCollection', features: blindSpots },
        devices,
      };
    },
  );

  app.get(
    '/api/v1/schools/:code/devices/:agent/:device/series',
    { schema: { summary: 'A device time series from InfluxDB for charts (counters as rates: interface octets in Mbit/s)', params: SeriesParams, querystring: SeriesQuery, response: { 200: SeriesBody, ...errors, 502: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } } },
    async (req) => {
      const p = req.params as Static<typeof SeriesParams>;
      const q = req.query as Static<typeof SeriesQuery>;
      if (!deps.influx) throw new ApiError('TELEMETRY_UNAVAILABLE');
      if (!(await deps.inventory.getSchool(p.code))) throw new ApiError('NOT_FOUND', `school ${p.code}`);
      const range = (q.range ?? '24h') as Range;
      const { every, seconds } = RANGES[range];
      let transform = q.transform ?? 'auto';
      if (transform === 'auto') transform = /Octets$/i.test(q.field) ? 'mbps' : /(Pkts|Packets|Errors|Discards)$/i.test(q.field) ? 'rate' : 'none';
      const f = `"${q.field}"`;
      const select =
        transform === 'mbps' ? `non_negative_derivative(max(${f}), 1s) * 8 / 1000000` : transform === 'rate' ? `non_negative_derivative(max(${f}), 1s)` : `mean(${f})`;
      const where = [`"school" = ${lit(p.code)}`, `"agent" = ${lit(p.agent)}`, `"device" = ${lit(p.device)}`, ...(q.ifName ? [`"ifName" = ${lit(q.ifName)}`] : []), `time > now() - ${seconds}s`].join(' AND ');
      const groupTags = q.measurement === 'interface' && !q.ifName ? ', "ifName"' : '';
      const stmt = `SELECT ${select} AS "value" FROM "${q.measurement}" WHERE ${where} GROUP BY time(${every})${groupTags} fill(none)`;
      const series = await telemetryQuery(deps.influx, stmt);
      return {
        measurement: q.measurement,
        field: q.field,
        range,
        interval: every,
        transform,
        unit: transform === 'mbps' ? 'Mbit/s' : transform === 'rate' ? '1/s' : '',
        series: series.map((s) => {
          const ti = s.columns.indexOf('time'), vi = s.columns.indexOf('value');
          return {
            tags: s.tags ?? {},
            points: s.values.map((v) => [Number(v[ti]), typeof v[vi] === 'number' ? Math.round((v[vi] as number) * 1e6) / 1e6 : null] as [number, number | null]),
          };
        }),
      };
    },
  );

  app.get(
    '/api/v1/schools/:code/devices/:agent/:device/neighbours',
    { schema: { summary: "A switch's LLDP neighbours seen in the last 24 h (which device hangs off which port), matched to the school's devices by sysName", params: SeriesParams, response: { 200: NeighboursBody, ...errors, 502: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } } },
    async (req) => {
      const p = req.params as Static<typeof SeriesParams>;
      if (!deps.influx) throw new ApiError('TELEMETRY_UNAVAILABLE');
      if (!(await deps.inventory.getSchool(p.code))) throw new ApiError('NOT_FOUND', `school ${p.code}`);
      const where = [`"school" = ${lit(p.code)}`, `"agent" = ${lit(p.agent)}`, `"device" = ${lit(p.device)}`, `time > now() - ${NEIGHBOUR_WINDOW_S}s`].join(' AND ');
      // The newest row of each (port, neighbour) series, with its time.
      const stmt = `SELECT "remotePortId", "remotePortDesc", "remoteChassisId" FROM "lldp_neighbour" WHERE ${where} GROUP BY "localPort", "remoteSysName" ORDER BY time DESC LIMIT 1`;
      const series = await telemetryQuery(deps.influx, stmt);
      const bySysName = devicesBySysName(await deps.inventory.listDevices(p.code));
      const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
      const neighbours = series.flatMap((s) => {
        const row = s.values[0];
        const remoteSysName = s.tags?.remoteSysName;
        if (!row || !remoteSysName) return [];
        const col = (name: string) => row[s.columns.indexOf(name)];
        const d = bySysName.get(remoteSysName.toLowerCase());
        const name = d && (d.attributes.name ?? d.attributes.sysName);
        return [
          {
            localPort: s.tags?.localPort ?? '',
            remoteSysName,
            remotePortId: text(col('remotePortId')),
            remotePortDesc: text(col('remotePortDesc')),
            remoteChassisId: text(col('remoteChassisId')),
            seenAt: new Date(Number(col('time'))).toISOString(),
            device: d ? { agentId: d.agentId, deviceId: d.deviceId, kind: d.kind, state: d.state, ...(name !== undefined ? { name: String(name) } : {}) } : null,
          },
        ];
      });
      neighbours.sort((a, b) => a.localPort.localeCompare(b.localPort, 'en', { numeric: true }) || a.remoteSysName.localeCompare(b.remoteSysName));
      return { neighbours };
    },
  );

  await registerConsoleStatic(app, deps.consoleDir);
  return cache;
}

// ---------------------------------------------------------------- the console itself

const NOT_BUILT = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>校园物联与安防设备管理 · campus</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; line-height: 1.6">
<h1>控制台尚未构建</h1>
<p>请在项目目录运行 <code>npm run build:console</code>，然后重启采集服务。接口仍可使用：<a href="/api/openapi.json">/api/openapi.json</a>。</p>
<h2 lang="en">The console is not built</h2>
<p lang="en">Run <code>npm run build:console</code> in the project directory, then restart the collector. The API works meanwhile: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</body></html>
`;

/**
 * Serves the built console or, when it is not built, a short page at `/` saying how to build it.
 * No routes are added (the OpenAPI document lists the API only): files are sent from the not-found
 * handler, through @fastify/static's `sendFile` (registered with `serve: false`), after checking
 * the path stays inside the directory. Non-API GETs without a file extension get index.html (SPA
 * deep links: /county/371502, /school/…). Hashed assets (`/assets/…`, as Vite names them) are
 * cached for a year; everything else, index.html first, is revalidated every time.
 */
export async function registerConsoleStatic(app: FastifyInstance, dir = DEFAULT_CONSOLE_DIR): Promise<void> {
  const root = resolve(dir);
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root,
      serve: false,
      cacheControl: false,
      setHeaders: (reply, path) => {
        const rel = relative(root, path).split(sep).join('/');
        reply.header('cache-control', rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const api = path === '/api' || path.startsWith('/api/');
    if ((req.method === 'GET' || req.method === 'HEAD') && !api) {
      if (!built) {
        if (path === '/' || path === '/index.html') return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(NOT_BUILT);
      } else {
        let rel: string | undefined;
        try {
          rel = decodeURIComponent(path).replace(/^\/+/, '');
        } catch {
          rel = undefined;
        }
        const file = rel !== undefined && !rel.includes('\0') ? resolve(root, rel) : undefined;
        const inside = file !== undefined && (file === root || file.startsWith(root + sep));
        if (inside && file !== root && !rel!.split('/').some((seg) => seg.startsWith('.')) && existsSync(file) && statSync(file).isFile()) return reply.sendFile(relative(root, file).split(sep).join('/'));
        if (path === '/' || !/\.[A-Za-z0-9]{1,8}$/.test(path)) return reply.sendFile('index.html');
      }
    }
    return reply.status(404).send({ code: 'NOT_FOUND', message: `${req.method} ${path} not found` });
  });
}
