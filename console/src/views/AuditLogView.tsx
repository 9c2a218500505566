/**
 * 安全审计 (on 用户管理, permission 'users' at city scope): the collector's security audit log —
 * sign-ins and their failures, lockouts, account changes, refusals, admin-token writes — newest
 * first, filtered by event, user and China dates, paged, and exported to Excel by the server.
 */
import { useEffect, useState } from 'react';
import { auditLog, fetchAuditXlsx, AUDIT_EVENTS, type AuditEntry, type AuditQuery } from '../api';
import { fileNameOf, saveBlob } from '../export';
import { failureText } from '../auth/session';
import { date, type MessageKey } from '../i18n/index';
import type { T } from '../App';

const PAGE = 50;
const EMPTY: AuditQuery = { event: '', username: '', from: '', to: '' };

/** An event in the UI language; the raw name when this console does not know it. */
function eventName(t: T, event: string): string {
  const key = `audit.${event}` as MessageKey;
  const v = t(key);
  return v === key ? event : v;
}

/** A message under `prefix.` in the UI language; the raw text when this console does not know it. */
function labelOr(t: T, prefix: string, raw: string): string {
  const key = `${prefix}.${raw}` as MessageKey;
  const v = t(key);
  return v === key ? raw : v;
}

/** A detail value as people read it: roles and reasons in words, times in China time. */
function valueText(t: T, key: string, v: unknown): string {
  if (typeof v === 'boolean') return t(v ? 'yes' : 'no');
  if (typeof v !== 'string') return JSON.stringify(v);
  if (key === 'role') return labelOr(t, 'role', v);
  if (key === 'retryAt') return date(v);
  return labelOr(t, 'auditValue', v);
}

/** The detail as one readable line: `what: value`, an account change as old → new. */
export function detailText(t: T, detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([k, v]) => {
      if (k === 'changes' && v && typeof v === 'object') {
        return Object.entries(v as Record<string, { from: unknown; to: unknown }>)
          .map(([field, c]) => `${labelOr(t, 'auditKey', field)}: ${valueText(t, field, c.from)} → ${valueText(t, field, c.to)}`)
          .join('；');
      }
      return `${labelOr(t, 'auditKey', k)}: ${valueText(t, k, v)}`;
    })
    .join('；');
}

export function AuditLogView({ t }: { t: T }) {
  const [filter, setFilter] = useState<AuditQuery>(EMPTY);
  /** what was asked for: the form's values once 查询 is pressed */
  const [query, setQuery] = useState<AuditQuery>(EMPTY);
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ total: number; entries: AuditEntry[] } | null>(null);
  const [error, setError] = useState('');
  const [exporting, setExporting] = useState(false);

  useEffect(() => {
    let alive = true;
    setError('');
    auditLog({ ...query, limit: PAGE, offset })
      .then((r) => alive && setPage(r))
      .catch((err: unknown) => alive && setError(failureText(t, err)));
    return () => {
      alive = false;
    };
  }, [query, offset, t]);

  const set = (patch: Partial<AuditQuery>) => setFilter((f) => ({ ...f, ...patch }));
  const search = () => {
    setOffset(0);
    setQuery({ ...filter, username: filter.username.trim().toLowerCase() });
  };
  const exportXlsx = async () => {
    setExporting(true);
    setError('');
    try {
      const { blob, disposition } = await fetchAuditXlsx(query);
      saveBlob(blob, fileNameOf(disposition, 'audit.xlsx'));
    } catch (err) {
      setError(`${t('exportFailed')}：${failureText(t, err)}`);
    } finally {
      setExporting(false);
    }
  };
  const total = page?.total ?? 0;

  return (
    <div data-testid="audit-view">
      <form
        className="place"
        data-testid="audit-filter"
        onSubmit={(e) => {
          e.preventDefault();
          search();
        }}
      >
        <label htmlFor="a-e">{t('auditEvent')}</label>
        <select id="a-e" data-testid="audit-event" value={filter.event} onChange={(e) => set({ event: e.target.value })}>
          <option value="">{t('auditAllEvents')}</option>
          {AUDIT_EVENTS.map((ev) => (
            <option key={ev} value={ev}>{eventName(t, ev)}</option>
          ))}
        </select>
        <label htmlFor="a-u">{t('username')}</label>
        <input id="a-u" data-testid="audit-username" autoComplete="off" value={filter.username} onChange={(e) => set({ username: e.target.value })} />
        <label htmlFor="a-f">{t('auditFrom')}</label>
        <input id="a-f" data-testid="audit-from" type="date" value={filter.from} onChange={(e) => set({ from: e.target.value })} />
        <label htmlFor="a-t">{t('auditTo')}</label>
        <input id="a-t" data-testid="audit-to" type="date" value={filter.to} onChange={(e) => set({ to: e.target.value })} />
        <span className="wide">
          <button type="submit" data-testid="audit-search">{t('auditSearch')}</button>{' '}
          <button type="button" data-testid="audit-export" title={t('auditExportHint')} disabled={exporting} onClick={() => void exportXlsx()}>
            {exporting ? t('exporting') : t('exportTable')}
          </button>
        </span>
      </form>
      {error && <p className="error" data-testid="audit-error">{error}</p>}
      <table data-testid="audit" data-total={total}>
        <thead>
          <tr><th>{t('when')}</th><th>{t('auditEvent')}</th><th>{t('auditUser')}</th><th>{t('auditAddress')}</th><th>{t('auditTarget')}</th><th>{t('auditOutcome')}</th><th>{t('auditDetail')}</th></tr>
        </thead>
        <tbody>
          {(page?.entries ?? []).map((e) => (
            <tr key={e.id} data-event={e.event} data-username={e.username ?? ''} data-outcome={e.outcome}>
              <td style={{ whiteSpace: 'nowrap' }}><small>{date(e.at)}</small></td>
              <td>{eventName(t, e.event)}</td>
              <td>{e.displayName ? `${e.displayName} (${e.username ?? ''})` : (e.username ?? '—')}</td>
              <td title={e.userAgent ?? ''}>{e.clientIp ?? '—'}</td>
              <td>{e.target ?? ''}</td>
              <td className={e.outcome === 'failure' ? 'error' : ''}>{t(e.outcome === 'success' ? 'auditSuccess' : 'auditFailure')}</td>
              <td><small>{detailText(t, e.detail)}</small></td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && page.entries.length === 0 && <p className="muted" data-testid="audit-empty">{t('historyEmpty')}</p>}
      <p data-testid="audit-paging">
        <button data-testid="audit-prev" disabled={offset === 0} onClick={() => setOffset((o) => Math.max(0, o - PAGE))}>{t('auditPrev')}</button>{' '}
        <span>{t('auditPage').replace('{from}', String(total ? offset + 1 : 0)).replace('{to}', String(Math.min(offset + PAGE, total))).replace('{total}', String(total))}</span>{' '}
        <button data-testid="audit-next" disabled={offset + PAGE >= total} onClick={() => setOffset((o) => o + PAGE)}>{t('auditNext')}</button>
      </p>
    </div>
  );
}
