/** The collector's HTTP API, as the console uses it. Reads are open; writes send the signed-in user's token. */
import type { UserInfo } from './auth/permissions';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** the error body's `details` (docs/api-errors.md), e.g. INVALID_GEOMETRY's `subject` and `problem` */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/**
 * The credential writes send: a session token from signing in, or the bureau's admin token typed
 * into the sign-in form (with `actor`, the name recorded beside it). Kept for the browser tab only.
 */
export const auth = {
  get token(): string {
    return sessionStorage.getItem('campus.token') ?? '';
  },
  set token(v: string) {
    if (v) sessionStorage.setItem('campus.token', v);
    else sessionStorage.removeItem('campus.token');
  },
  get actor(): string {
    return sessionStorage.getItem('campus.actor') ?? '';
  },
  set actor(v: string) {
    if (v) sessionStorage.setItem('campus.actor', v);
    else sessionStorage.removeItem('campus.actor');
  },
};

/** Why a write was refused with 401: the credential it sent is no longer good, or it sent none. */
export type Unauthorized = 'expired' | 'signed-out';
let unauthorized: (why: Unauthorized) => void = () => {};
/** Who hears of a request with the credential refused with 401 (the app: it opens the sign-in form). */
export function onUnauthorized(fn: (why: Unauthorized) => void): void {
  unauthorized = fn;
}

/** The headers that say who writes. */
export function authHeaders(): Record<string, string> {
  const h: Record<string, string> = {};
  if (auth.token) h.authorization = `Bearer ${auth.token}`;
  if (auth.actor) h['x-campus-actor'] = encodeURIComponent(auth.actor);
  return h;
}

/**
 * The ApiFailure of an answer that is not ok (its JSON error body when it has one). A 401 to a
 * request that needs the credential (`withAuth`: writes, the users list) is told to `onUnauthorized`.
 */
async function failureOf(res: Response, method: string, path: string, withAuth: boolean, sentToken: boolean): Promise<ApiFailure> {
  let code = 'HTTP', message = `${method} ${path}: ${res.status}`, details: unknown;
  try {
    const e = (await res.json()) as { code?: string; message?: string; details?: unknown };
    code = e.code ?? code;
    message = e.message ?? message;
    details = e.details;
  } catch {
    // not JSON
  }
  // signing in answers 401 for a wrong password: that is the form's to show, not an expiry
  if (res.status === 401 && withAuth && !path.startsWith(SESSION_PATH)) unauthorized(sentToken ? 'expired' : 'signed-out');
  return new ApiFailure(res.status, code, message, details);
}

export const SESSION_PATH = '/api/v1/session';

/** A request; writes (and reads with `withAuth`) carry the credential. */
export async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, withAuth = method !== 'GET'): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...(withAuth ? authHeaders() : {}) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(signal ? { signal } : {}) });
  if (!res.ok) throw await failureOf(res, method, path, withAuth, !!headers.authorization);
  if (res.status === 204) return undefined as T; // DELETE: no body
  return (await res.json()) as T;
}

/** GET; `signal` cancels it (a stale map request), rejecting with an AbortError. */
export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => call<T>('GET', path, undefined, signal);
/** Whether an error is a cancelled request (see `get`'s signal). */
export const isAbort = (err: unknown): boolean => err instanceof DOMException && err.name === 'AbortError';
export const post = <T>(path: string, body: unknown): Promise<T> => call<T>('POST', path, body);
/** GET that gives null for a 404 (a route or a record that does not exist). */
export async function maybe<T>(path: string): Promise<T | null> {
  try {
    return await get<T>(path);
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) return null;
    throw err;
  }
}

/** Runs `fn` over items, `n` at a time, keeping order. */
export async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

// ---- shapes (the subset the console reads) ----

export interface Region { code: string; name: string; level: string; parentCode: string | null; centreLon: number | null; centreLat: number | null }
export interface School { code: string; name: string; countyCode: string; type: string; contractedUplinkMbps: number | null; lon: number | null; lat: number | null; studentCount: number }
export type Verdict = 'pass' | 'fail' | 'unknown';
export interface Finding { ruleId: string; kind: string; title: { zh: string; en: string }; verdict: Verdict; measured: number | null; threshold: number; unit: string; detail: string; citation: string }
export interface SchoolCompliance {
  school: { code: string; name: string; countyCode: string; type: string };
  findings: Finding[];
  facts: {
    uplink: { mbps?: number; speedMbps?: number; utilisation?: number } | null;
    contractedUplinkMbps: number | null;
    ipv6: { share: number | null };
    cameras: { total: number; online: number; healthy: number };
    keyAreas: { total: number; fullyCovered: number; weightedCoverage: number | null };
  };
}
export interface UnitSummary {
  code: string; name: string; schools: number; schoolsAllPassing: number;
  keyAreas: { weightedCoverage: number | null; share: number | null };
  cameras: { total: number; online: number; healthy: number };
  uplink: { schoolsPassing: number };
  ipv6: { share: number | null };
  openIssues: number;
}
export interface RankedSchool { rank: number; code: string; name: string; passed: number; failed: number; unknown: number; keyAreaShare: number | null; weightedCoverage: number | null }
export interface CityRollup extends UnitSummary { counties: UnitSummary[] }
export interface CountyRollup extends UnitSummary { ranking: RankedSchool[] }
/** `/api/v1/map/city`: one indicator per county (value: share 0..1, or a count for open findings) and the ranking. */
export interface CityMap {
  city: { code: string; name: string };
  indicator: string;
  unit: 'share' | 'count';
  better: 'higher' | 'lower';
  computedAt: string;
  total: { value: number | null; schools: number };
  counties: { code: string; name: string; value: number | null; schools: number; centroid: [number, number] | null }[];
  ranking: { rank: number; code: string; name: string; value: number | null }[];
}
/** Worst finding of a school (or a cluster): warning = nothing fails but something cannot be judged or a camera is down. */
export type Worst = 'ok' | 'warning' | 'fail' | 'unknown';
export interface MapCluster { county: string; name: string; lon: number; lat: number; count: number; unplaced: number; worst: Worst; counts: Record<Worst, number> }
export interface MapSchool { code: string; name: string; type: string; county: string; lon: number; lat: number; worst: Worst; coverage: number | null; cameras: { online: number; total: number }; openFindings: number; openTickets: number }
/** `/api/v1/map/schools`: clusters per county at zoom ≤ 9, else the schools in the bbox. */
export type SchoolsMap = { mode: 'clusters'; clusters: MapCluster[] } | { mode: 'schools'; schools: MapSchool[]; unplaced: number };
export interface GeoJsonPolygon { type: 'Polygon' | 'MultiPolygon'; coordinates: number[][][] | number[][][][] }
export interface AreaReport { id: string; name: string; typeName: string; requiredLevel: string; requiredPpm: number; coveredShare: number; anyShare: number; fullyCovered: boolean; blindSpotM2: number; blindSpots: GeoJsonPolygon[]; cameraIds: string[] }
export interface CameraStatus { id: string; agentId: string; deviceId: string; online: boolean; healthy: boolean; step: number | null; horizontalPixels: number; hfovDeg: number | null; position: { x: number; y: number } | null; problem?: string }
export type Frame = { kind: 'wgs84'; anchor: { lon: number; lat: number }; rotationDeg: number } | { kind: 'plan' };
export interface CoverageReport { frame: Frame; computedAt: string; fullyCoveredShare: number; weightedCoverage: number; weightedAnyCoverage: number; areas: AreaReport[]; cameras: CameraStatus[] }
export interface GeoFeature { type: 'Feature'; id?: string | number; properties: Record<string, unknown> | null; geometry: { type: string; coordinates: unknown } | null }
export interface FeatureCollection { type: 'FeatureCollection'; features: GeoFeature[]; frame?: Frame }
export interface CameraPlacement { headingDeg: number; hfovDeg?: number; mountHeightM?: number }
export interface Placement { building?: string; room?: string; position?: { lon: number; lat: number } | { x: number; y: number }; camera?: CameraPlacement }
export interface InboxDevice { agentId: string; deviceId: string; kind: string; address: string | null; profile: string | null; attributes: Record<string, string | number | boolean>; state: string; placement: Placement | null; lastSeen: string }
export interface Inbox { discovered: InboxDevice[]; planned: { id: number; name: string; kind: string; placement: Placement }[]; missing: InboxDevice[]; counts: Record<string, number> }
export interface Device { agentId: string; deviceId: string; kind: string; state: string; address: string | null; lastSeen: string; goneAt: string | null }

export const schoolPath = (code: string) => `/api/v1/schools/${encodeURIComponent(code)}`;

/** A device as `GET …/devices` returns it, with what discovery found (`Device` plus the rest). */
export interface DeviceDetail extends Device { protocol?: string | null; profile?: string | null; attributes?: Record<string, string | number | boolean>; firstSeen?: string }
/** `GET …/devices/{agent}/{device}/series`: points are [epoch ms, value]. */
export interface SeriesResult { measurement: string; field: string; range: string; interval: string; transform: string; unit: string; series: { tags: Record<string, string>; points: [number, number | null][] }[] }
export const SERIES_RANGES = ['1h', '6h', '24h', '7d'] as const;
export type SeriesRange = (typeof SERIES_RANGES)[number];
export const seriesPath = (school: string, agent: string, device: string, q: { measurement: string; field: string; range: string; ifName?: string }) =>
  `${schoolPath(school)}/devices/${encodeURIComponent(agent)}/${encodeURIComponent(device)}/series?${new URLSearchParams({ measurement: q.measurement, field: q.field, range: q.range, ...(q.ifName ? { ifName: q.ifName } : {}) }).toString()}`;
/** `POST …/planned`: rows imported, or (422) every bad row with its line and column. */
export interface ImportResult { imported: number; errors: { line: number; column?: string; message: string }[] }
/** POSTs a CSV file (text/csv) with the credential; a 422 answer gives its per-row errors rather than throwing. */
export async function postCsv(path: string, csv: string): Promise<ImportResult> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'text/csv', ...authHeaders() };
  const res = await fetch(path, { method: 'POST', headers, body: csv });
  if (res.status === 422) {
    const body = (await res.clone().json().catch(() => ({}))) as { details?: ImportResult };
    if (body.details) return body.details;
  }
  if (!res.ok) throw await failureOf(res, 'POST', path, true, !!headers.authorization);
  const body = (await res.json().catch(() => ({}))) as { imported?: number; errors?: ImportResult['errors'] };
  return { imported: body.imported ?? 0, errors: body.errors ?? [] };
}
export const put = <T>(path: string, body: unknown): Promise<T> => call<T>('PUT', path, body);

/** A repair ticket (GET /api/v1/tickets). */
export interface Ticket {
  id: number;
  schoolCode: string;
  schoolName: string;
  countyCode: string;
  agentId: string | null;
  deviceId: string | null;
  fault: string;
  title: string;
  detail: string | null;
  state: 'open' | 'in-progress' | 'resolved' | 'closed';
  source: 'auto' | 'manual';
  assignee: string | null;
  /** the assignee's display name, when the assignee is a user the collector knows */
  assigneeName?: string | null;
  openedAt: string;
  faultSince: string;
  resolvedAt: string | null;
  closedAt: string | null;
  updatedAt: string;
}

/** Someone a ticket may be assigned to (GET /api/v1/tickets/{id}/assignees): its school's people first, then the county's, then the city's. */
export type Assignee = Pick<UserInfo, 'username' | 'displayName' | 'role' | 'scope'>;
/** Who may work a ticket; the list needs the credential ('tickets' at the ticket's school). */
export const ticketAssignees = (id: number): Promise<Assignee[]> => call<{ assignees: Assignee[] }>('GET', `/api/v1/tickets/${id}/assignees`, undefined, undefined, true).then((r) => r.assignees);

/** One change of a ticket (GET /api/v1/tickets/{id} `events`); `actorName`: the user's display name, when a user made it. */
export interface TicketEvent { action: string; fromState: string | null; toState: string; actor: string; actorName?: string | null; note: string | null; at: string }
/** One state change of a device (GET …/devices/{agent}/{device}/history). */
export interface DeviceChange { fromState: string; toState: string; actor: string; actorName?: string | null; note: string | null; at: string }

// ---- camera placement preview (helper A): POST …/coverage/preview, PUT …/devices/{agent}/{device}/placement ----

/** A previewed camera's view at one density level (GeoJSON polygons, WGS84 on a georeferenced plan). */
export interface PreviewView { level: string; requiredPpm: number; keyAreas: string[]; polygons: GeoJsonPolygon[] }
export interface PreviewedCamera extends CameraStatus { state: string; views: PreviewView[] }
export interface CoverageFigures { weightedCoverage: number; fullyCoveredShare: number; areas: { id: string; coveredShare: number; fullyCovered: boolean }[] }
/** The coverage report with the previewed placements, the stored figures (`current`), and the previewed cameras' views. */
export interface CoveragePreview extends CoverageReport { preview: true; current: CoverageFigures; ifPreviewedHealthy: CoverageFigures; previewed: PreviewedCamera[] }
export interface PreviewRequest { cameras: { agentId: string; deviceId: string; placement: Placement }[] }
export const devicePath = (school: string, agent: string, device: string) => `${schoolPath(school)}/devices/${encodeURIComponent(agent)}/${encodeURIComponent(device)}`;

// ---- floor-plan image (helper C): PUT/GET/DELETE …/floorplan, GET …/floorplan/meta, PUT …/floorplan/georef ----

export interface LonLat { lon: number; lat: number }
/** WGS84 corners of the image: an affine placement (the bottom-right corner follows). */
export interface FloorPlanGeoref { topLeft: LonLat; topRight: LonLat; bottomLeft: LonLat }
export interface FloorPlanMeta { width: number; height: number; contentType: string; bytes: number; sha256: string; uploadedAt: string; uploadedBy: string; georef: FloorPlanGeoref | null; georefAt: string | null; georefBy: string | null }
export const floorPlanPath = (school: string) => `${schoolPath(school)}/floorplan`;
export const del = (path: string): Promise<void> => call<void>('DELETE', path);
const IMAGE_TYPE_BY_EXT: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp' };
/** PUTs a file as the raw body with the credential; its type from the browser, else from its name (the server checks the content). */
export async function putFile<T>(path: string, file: File): Promise<T> {
  const type = file.type || IMAGE_TYPE_BY_EXT[file.name.split('.').pop()?.toLowerCase() ?? ''] || 'application/octet-stream';
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': type, ...authHeaders() };
  const res = await fetch(path, { method: 'PUT', headers, body: file });
  if (!res.ok) throw await failureOf(res, 'PUT', path, true, !!headers.authorization);
  return (await res.json()) as T;
}

// ---- security audit log (安全审计, permission 'users' at city scope) ----
export const AUDIT_EVENTS = ['sign-in', 'sign-in-failed', 'lockout', 'sign-in-locked', 'sign-out', 'session-expired', 'password-changed', 'user-created', 'user-changed', 'user-disabled', 'user-enabled', 'permission-denied', 'admin-token-write'] as const;
export interface AuditEntry { id: number; at: string; event: string; username: string | null; displayName: string | null; clientIp: string | null; userAgent: string | null; target: string | null; outcome: 'success' | 'failure'; detail: Record<string, unknown> }
/** The filter as the form holds it: '' is "any"; dates are China dates, YYYY-MM-DD. */
export interface AuditQuery { event: string; username: string; from: string; to: string }
export const AUDIT_PATH = '/api/v1/audit';
/** The query string of a filter (empty fields left out). */
export function auditSearch(q: AuditQuery & { limit?: number; offset?: number }): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== '' && v !== undefined) p.set(k, String(v));
  return p.toString();
}
export const auditLog = (q: AuditQuery & { limit: number; offset: number }): Promise<{ total: number; entries: AuditEntry[] }> =>
  call('GET', `${AUDIT_PATH}?${auditSearch(q)}`, undefined, undefined, true);
/** The workbook of the entries a filter matches (it needs the credential, so it is fetched, not linked). */
export async function fetchAuditXlsx(q: AuditQuery): Promise<{ blob: Blob; disposition: string | null }> {
  const path = `${AUDIT_PATH}.xlsx?${auditSearch(q)}`;
  const headers = authHeaders();
  const res = await fetch(path, { headers });
  if (!res.ok) throw await failureOf(res, 'GET', path, true, !!headers.authorization);
  return { blob: await res.blob(), disposition: res.headers.get('content-disposition') };
}
