import { Fragment, useEffect, useState } from 'react';
import { auth, call, get, post, ticketAssignees, type Assignee, type Ticket, type TicketEvent } from '../api';
import { date } from '../i18n/index';
import type { MessageKey } from '../i18n/index';
import type { LiveEvent } from '../live';
import { useAuth } from '../auth/context';
import { gateOf, permit, roleName, scopeName } from '../auth/permissions';
import { ADMIN_TOKEN_USER, failureText } from '../auth/session';
import { actorLabel } from './DeviceDetail';

type Action = 'start' | 'assign' | 'resolve' | 'close' | 'reopen' | 'comment';
/** What a person may do from each state (the collector enforces the same rules); a note (comment) in any. */
const ACTIONS: Record<Ticket['state'], Action[]> = {
  open: ['start', 'assign', 'resolve', 'close'],
  'in-progress': ['assign', 'resolve', 'close'],
  resolved: ['close', 'reopen'],
  closed: ['reopen'],
};

/** A ticket's changes, oldest first, with who made them (display names where the collector has them). */
function TicketHistory({ id, rev, t, columns }: { id: number; rev: number; t: (k: MessageKey) => string; columns: number }) {
  const [events, setEvents] = useState<TicketEvent[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let alive = true;
    get<{ events: TicketEvent[] }>(`/api/v1/tickets/${id}`)
      .then((r) => alive && setEvents(r.events))
      .catch((err: Error) => alive && setError(err.message));
    return () => {
      alive = false;
    };
  }, [id, rev]);
  const label = (a: string) => {
    const k = `ticketAction.${a}` as MessageKey, v = t(k);
    return v === k ? a : v;
  };
  return (
    <tr className="ticket-history" data-history={id}>
      <td colSpan={columns}>
        {error && <span className="error">{error}</span>}
        {events && (
          <table>
            <tbody>
              {events.map((e, i) => (
                <tr key={i} data-action={e.action}>
                  <td><small>{date(e.at)}</small></td>
                  <td>{label(e.action)}</td>
                  <td data-testid="history-actor">{actorLabel(e)}</td>
                  <td>{e.note ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </td>
    </tr>
  );
}

/** Whose tickets: one school's (the school view) or a county's (the county view, with the school named). */
export type TicketScope = { school: string } | { county: string };

/**
 * Repair tickets (报修工单) of a school or a county: unfinished first, with the fault, device, since
 * when and who has it; equipment managers work them here (start, assign, resolve, close, reopen,
 * with a note), assigning a ticket to one of the people the collector says may work it. A signed-in
 * user who works tickets may show only theirs (只看我的). Refreshes on the live channel's events for
 * the school or county.
 */
export function TicketList({ scope, t, live, onSelectDevice }: { scope: TicketScope; t: (k: MessageKey) => string; live: LiveEvent | null; onSelectDevice?: (schoolCode: string, deviceId: string) => void }) {
  const county = 'county' in scope ? scope.county : null;
  const key = county ? `county=${county}` : `school=${(scope as { school: string }).school}`;
  const [tickets, setTickets] = useState<Ticket[] | null>(null);
  const [showDone, setShowDone] = useState(false);
  const [rev, setRev] = useState(0);
  const [error, setError] = useState('');
  /** `assignees`: who may be chosen for an assignment (null while loading) */
  const [working, setWorking] = useState<{ id: number; action: Action; note: string; assignee: string; assignees: Assignee[] | null } | null>(null);
  const [historyOf, setHistoryOf] = useState<number | null>(null);
  const [onlyMine, setOnlyMine] = useState(false);
  const { user } = useAuth();
  // the admin token is no one tickets are assigned to
  const canFilterMine = !!user && user.username !== ADMIN_TOKEN_USER && user.permissions.includes('tickets');
  const mine = canFilterMine && onlyMine;

  useEffect(() => {
    let alive = true;
    const path = `/api/v1/tickets?${key}${showDone ? '' : '&state=active'}${mine ? '&assignee=me' : ''}&limit=200`;
    // `assignee=me` needs the credential to say who "me" is
    call<{ tickets: Ticket[] }>('GET', path, undefined, undefined, mine)
      .then((r) => alive && setTickets(r.tickets))
      .catch((err: Error) => alive && setError(err.message));
    return () => {
      alive = false;
    };
  }, [key, showDone, mine, user?.username, rev]);
  useEffect(() => {
    if (!live || (live.type !== 'ticket' && live.type !== 'device-status')) return;
    if (county ? live.county === county : live.school === (scope as { school: string }).school) setRev((r) => r + 1);
  }, [live, key]);

  /** Opens the assignment form and asks who may work the ticket; the signed-in user is preselected when among them. */
  const openAssign = (id: number) => {
    setWorking({ id, action: 'assign', note: '', assignee: '', assignees: null });
    ticketAssignees(id)
      .then((assignees) => {
        const self = assignees.find((a) => a.username === user?.username)?.username ?? '';
        setWorking((w) => (w && w.id === id && w.action === 'assign' ? { ...w, assignees, assignee: w.assignee || self } : w));
      })
      .catch((err: unknown) => setError(failureText(t, err)));
  };
  const assigneeLabel = (a: Assignee) => `${a.displayName} · ${roleName(t, a.role)} · ${scopeName(t, a.scope)}`;

  const submit = async () => {
    if (!working) return;
    if (!auth.token) return setError(t('needToken'));
    try {
      setError('');
      await post(`/api/v1/tickets/${working.id}/${working.action}`, { ...(working.note.trim() ? { note: working.note.trim() } : {}), ...(working.action === 'assign' ? { assignee: working.assignee } : {}) });
      setWorking(null);
      setRev((r) => r + 1);
    } catch (err) {
      setError(failureText(t, err));
    }
  };
  const columns = county ? 6 : 5;

  return (
    <div data-testid="tickets">
      <h2>
        {t('tickets')}{' '}
        <label style={{ fontWeight: 'normal', fontSize: '0.85em' }}>
          <input type="checkbox" checked={showDone} onChange={(e) => setShowDone(e.target.checked)} /> {t('ticketsShowDone')}
        </label>{' '}
        {canFilterMine && (
          <label style={{ fontWeight: 'normal', fontSize: '0.85em' }}>
            <input type="checkbox" data-testid="tickets-mine" checked={onlyMine} onChange={(e) => setOnlyMine(e.target.checked)} /> {t('ticketsMine')}
          </label>
        )}
      </h2>
      {error && <p className="error" data-testid="ticket-error">{error}</p>}
      {tickets && tickets.length === 0 && <p data-testid="no-tickets">{t('noTickets')}</p>}
      {tickets && tickets.length > 0 && (
        <table>
          <thead>
            <tr>{county && <th>{t('school')}</th>}<th>{t('ticketTitle')}</th><th>{t('ticketState')}</th><th>{t('ticketSince')}</th><th>{t('assignee')}</th><th className="edit-only"></th></tr>
          </thead>
          <tbody>
            {tickets.map((x) => {
              const where = { school: x.schoolCode, county: x.countyCode };
              const work = gateOf(t, permit(user, 'tickets', where)), note = gateOf(t, permit(user, 'comment', where));
              const offered: Array<[Action, typeof work]> = [...(work.hidden ? [] : ACTIONS[x.state].map((a) => [a, work] as [Action, typeof work])), ...(note.hidden ? [] : [['comment', note] as [Action, typeof note]])];
              return (
              <Fragment key={x.id}>
              <tr data-ticket={x.id} data-state={x.state} data-device={x.deviceId ?? ''}>
                {county && <td><a href={`#/school/${x.schoolCode}`}>{x.schoolName}</a></td>}
                <td title={x.detail ?? ''}>
                  {x.deviceId && onSelectDevice ? <a href="#" onClick={(e) => { e.preventDefault(); onSelectDevice(x.schoolCode, x.deviceId!); }}>{x.title}</a> : x.title}
                  {x.source === 'auto' && <small> · {t('ticketAuto')}</small>}
                </td>
                <td className={x.state === 'open' ? 'fail' : x.state === 'in-progress' ? 'unknown' : 'pass'}>{t(`ticketState.${x.state}` as MessageKey)}</td>
                <td><small>{date(x.faultSince)}</small></td>
                <td>{x.assigneeName || x.assignee || '—'}</td>
                <td className="edit-only">
                  <div className="ticket-actions">
                    {offered.map(([a, g]) => (
                      <button key={a} data-action={`ticket-${a}`} disabled={g.disabled} title={g.title} onClick={() => (a === 'assign' ? openAssign(x.id) : setWorking({ id: x.id, action: a, note: '', assignee: '', assignees: null }))}>{t(`ticketAction.${a}` as MessageKey)}</button>
                    ))}
                    <button data-action="ticket-history" aria-pressed={historyOf === x.id} onClick={() => setHistoryOf(historyOf === x.id ? null : x.id)}>{t('history')}</button>
                  </div>
                </td>
              </tr>
              {historyOf === x.id && <TicketHistory id={x.id} rev={rev} t={t} columns={columns} />}
              </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
      {working && (
        <div className="place" data-testid="ticket-form">
          <span className="wide">#{working.id} · {t(`ticketAction.${working.action}` as MessageKey)}</span>
          {working.action === 'assign' && (
            <>
              <label htmlFor="tk-a">{t('assignee')}</label>
              {working.assignees?.length === 0 ? (
                <span data-testid="no-assignees">{t('noAssignees')}</span>
              ) : (
                <select id="tk-a" data-testid="ticket-assignee" disabled={!working.assignees} value={working.assignee} onChange={(e) => setWorking({ ...working, assignee: e.target.value })}>
                  <option value="">{t('chooseAssignee')}</option>
                  {working.assignees?.map((a) => <option key={a.username} value={a.username}>{assigneeLabel(a)}</option>)}
                </select>
              )}
            </>
          )}
          <label htmlFor="tk-n">{t('note')}</label>
          <input id="tk-n" data-testid="ticket-note" value={working.note} onChange={(e) => setWorking({ ...working, note: e.target.value })} />
          <button data-testid="ticket-submit" disabled={(working.action === 'assign' && !working.assignee) || (working.action === 'comment' && !working.note.trim())} onClick={() => void submit()}>{t('confirm')}</button>
          <button onClick={() => setWorking(null)}>{t('cancel')}</button>
        </div>
      )}
    </div>
  );
}
