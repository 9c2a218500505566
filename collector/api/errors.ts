/**
 * Every error the API returns, in one place: a stable code (the console maps it to Chinese and
 * English text), the HTTP status, and an English message template. `errors.test.ts` fails when a
 * code is not documented in docs/api-errors.md.
 */
export const API_ERRORS = {
  // sign-in and permissions (collector/api/access.ts, session-routes.ts): the message says which case
  UNAUTHORIZED: { status: 401, message: '%s' },
  FORBIDDEN: { status: 403, message: '%s' },
  TOO_MANY_ATTEMPTS: { status: 429, message: '%s' },
  WEAK_PASSWORD: { status: 400, message: '%s' },
  NOT_FOUND: { status: 404, message: '%s not found' },
  INVALID_INPUT: { status: 400, message: '%s' },
  CONFLICT: { status: 409, message: '%s' },
  CSV_REJECTED: { status: 422, message: 'the file has %s bad row(s); nothing was imported' },
  BROKER_UNAVAILABLE: { status: 503, message: 'the collector is not connected to the broker' },
  AGENT_TIMEOUT: { status: 504, message: 'the agent did not answer within %s ms' },
  INVALID_GEOMETRY: { status: 400, message: '%s' },
  NO_CAMPUS_PLAN: { status: 404, message: 'school %s has no campus plan' },
  UNKNOWN_POLICY_PACK: { status: 400, message: 'policy pack %s is not loaded' },
  INVALID_MONTH: { status: 400, message: '%s' },
  MONTH_IN_FUTURE: { status: 400, message: '%s' },
  // table and audit-log exports (collector/api/export-queue.ts): the message says why, in Chinese and English
  EXPORT_BUSY: { status: 503, message: '%s' },
  TELEMETRY_UNAVAILABLE: { status: 503, message: 'no InfluxDB is configured: telemetry goes to files, which cannot be queried%s' },
  TELEMETRY_QUERY_FAILED: { status: 502, message: '%s' },
  // floor-plan images (collector/api/floorplan-routes.ts)
  FLOORPLAN_NOT_IMAGE: { status: 415, message: '%s' },
  FLOORPLAN_DAMAGED: { status: 400, message: '%s' },
  FLOORPLAN_BAD_DIMENSIONS: { status: 400, message: '%s' },
  FLOORPLAN_TOO_LARGE: { status: 413, message: 'the file is larger than %s; scan or export the plan at a lower resolution' },
  NO_FLOORPLAN: { status: 404, message: 'school %s has no floor-plan image' },
  INVALID_GEOREF: { status: 400, message: '%s' },
  INTERNAL: { status: 500, message: 'internal error' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    detail?: string,
    readonly extra?: Record<string, unknown>,
  ) {
    const def = API_ERRORS[code];
    super(def.message.replace('%s', detail ?? ''));
    this.status = def.status;
  }
}
