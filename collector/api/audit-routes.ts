/**
 * The security audit log for administrators (permission 'users' at city scope, or the admin
 * token): `GET /api/v1/audit` newest first with the total, and `GET /api/v1/audit.xlsx` the same
 * entries as an Excel workbook (China time, Chinese headers and event names).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AUDIT_EVENTS, type AuditEntry, type AuditEvent, type AuditFilter, type AuditLog } from '../auth/audit-log.ts';
import type { Access } from './access.ts';
import { ApiError } from './errors.ts';
import { XLSX, type ExportQueue } from './export-queue.ts';
import { TABLE_LIMITS, type TableExport } from './table-workbook.ts';

/** Event names as the workbook (and the console) shows them. */
export const AUDIT_EVENT_NAMES: Record<AuditEvent, string> = {
  'sign-in': '登录成功',
  'sign-in-failed': '登录失败',
  lockout: '账号锁定',
  'sign-in-locked': '锁定期间登录被拒',
  'sign-out': '退出登录',
  'session-expired': '会话过期',
  'password-changed': '修改密码',
  'user-created': '新增用户',
  'user-changed': '修改用户',
  'user-disabled': '停用用户',
  'user-enabled': '启用用户',
  'permission-denied': '越权操作被拒',
  'admin-token-write': '管理令牌写操作',
};

const When = Type.String({ description: 'YYYY-MM-DD (China date: from its start, to its end) or an ISO 8601 time with zone' });
const AuditQuery = Type.Object(
  {
    from: Type.Optional(When),
    to: Type.Optional(When),
    event: Type.Optional(Type.Union(AUDIT_EVENTS.map((e) => Type.Literal(e)))),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);
type AuditQuery = Static<typeof AuditQuery>;

const Entry = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  event: Type.String(),
  username: Type.Union([Type.String(), Type.Null()], { description: "the account, the name tried at a failed sign-in, or 'admin-token'" }),
  displayName: Type.Union([Type.String(), Type.Null()]),
  clientIp: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  target: Type.Union([Type.String(), Type.Null()], { description: 'the user changed, the school refused, the request written' }),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  detail: Type.Record(Type.String(), Type.Unknown()),
});

const CHINA_OFFSET_MS = 8 * 3600_000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A bound of the range: a China date means its midnight (`to`: the next midnight, so the whole day counts). */
function bound(s: string | undefined, name: string, endOfDay: boolean): Date | undefined {
  if (s === undefined) return undefined;
  let ms = NaN;
  if (DATE_RE.test(s)) {
    const utcMidnight = Date.parse(`${s}T00:00:00Z`);
    // 2026-02-30 does not round-trip
    if (!Number.isNaN(utcMidnight) && new Date(utcMidnight).toISOString().slice(0, 10) === s) ms = utcMidnight - CHINA_OFFSET_MS + (endOfDay ? 86_400_000 : 0);
  } else if (DATETIME_RE.test(s)) ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new ApiError('INVALID_INPUT', `${name} must be YYYY-MM-DD or an ISO 8601 time with zone, got ${JSON.stringify(s)}`);
  return new Date(ms);
}

function filterOf(q: AuditQuery): AuditFilter {
  const from = bound(q.from, 'from', false);
  const to = bound(q.to, 'to', true);
  if (from && to && from >= to) throw new ApiError('INVALID_INPUT', 'from must be before to');
  return { from, to, event: q.event, username: q.username?.trim().toLowerCase(), limit: q.limit, offset: q.offset };
}

const detailText = (e: AuditEntry): string => (Object.keys(e.detail).length ? JSON.stringify(e.detail) : '');

/** The entries the filter matches, newest first (at most TABLE_LIMITS.rows), as the workbook's table. */
async function auditTable(audit: AuditLog, q: AuditQuery, f: AuditFilter): Promise<TableExport> {
  const { entries, total } = await audit.list({ ...f, limit: TABLE_LIMITS.rows, offset: 0 });
  const filter = [
    q.from && `起 ${q.from}`,
    q.to && `止 ${q.to}`,
    q.event && `事件：${AUDIT_EVENT_NAMES[q.event]}`,
    q.username && `用户：${q.username}`,
    total > entries.length && `共 ${total} 条，导出最新 ${entries.length} 条`,
  ].filter(Boolean).join('；');
  return {
    title: '安全审计日志',
    ...(filter ? { filter } : {}),
    columns: [
      { header: '时间', type: 'datetime' },
      { header: '事件', type: 'text' },
      { header: '用户名', type: 'text' },
      { header: '姓名', type: 'text' },
      { header: '来源地址', type: 'text' },
      { header: '对象', type: 'text' },
      { header: '结果', type: 'text' },
      { header: '详情', type: 'text' },
      { header: '浏览器', type: 'text' },
    ],
    rows: entries.map((e) => [
      e.at,
      AUDIT_EVENT_NAMES[e.event] ?? e.event,
      e.username,
      e.displayName,
      e.clientIp,
      e.target,
      e.outcome === 'success' ? '成功' : '失败',
      detailText(e).slice(0, TABLE_LIMITS.cellChars),
      e.userAgent,
    ]),
  };
}

export function registerAuditRoutes(app: FastifyInstance, deps: { access: Access; audit: AuditLog; exports: ExportQueue }): void {
  const { access, audit } = deps;
  const guard = access.guard('users', () => 'city');
  const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } };
  const security = [{ bearer: [] }];

  app.get(
    '/api/v1/audit',
    {
      preHandler: guard,
      schema: {
        summary: 'Security audit log (sign-ins, lockouts, account changes, refusals, admin-token writes), newest first, with the total the filter matches',
        security,
        querystring: AuditQuery,
        response: { 200: Type.Object({ total: Type.Integer(), entries: Type.Array(Entry) }), ...errors },
      },
    },
    async (req) => audit.list(filterOf(req.query as AuditQuery)),
  );

  app.get(
    '/api/v1/audit.xlsx',
    {
      preHandler: guard,
      schema: {
        summary: `The audit log entries the filter matches (newest first, at most ${TABLE_LIMITS.rows}; limit/offset ignored) as an Excel workbook`,
        security,
        querystring: AuditQuery,
        produces: [XLSX],
        response: { 200: { description: 'the workbook, 安全审计日志_<date in China>.xlsx', content: { [XLSX]: { schema: { type: 'string', format: 'binary' } } } }, ...errors, 503: { $ref: 'Error#' } },
      },
    },
    async (req: FastifyRequest, reply) => {
      const q = req.query as AuditQuery;
      const f = filterOf(q); // a bad filter is a 400 before an export turn is taken
      return deps.exports.send(req, reply, () => auditTable(audit, q, f), (date) => `audit_${date}.xlsx`);
    },
  );
}
