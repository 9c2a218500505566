/**
 * What a notification says: one ticket change as the group chat reads it (Chinese, China time) and
 * as a message gateway takes it (JSON). Pure, so the texts can be checked without a server.
 */
import { FAULT_TITLE, type Fault } from '../tickets/faults.ts';
import { KIND_ZH } from '../tickets/watcher.ts';
import type { NotifyAction } from './config.ts';

/** One ticket change, with what the chat needs to read it without opening the console. */
export interface TicketNotice {
  action: NotifyAction;
  ticketId: number;
  state: string;
  schoolCode: string;
  schoolName: string;
  countyCode: string;
  agentId: string | null;
  deviceId: string | null;
  /** device kind (camera, switch, …); null for a gateway or a school-wide ticket */
  deviceKind: string | null;
  fault: string;
  title: string;
  faultSince: string;
  /** when the change happened */
  at: string;
  /** who made it (`system` for the watcher) and their note */
  actor: string | null;
  note: string | null;
}

export const ACTION_ZH: Record<NotifyAction, string> = { open: '新工单', reopen: '工单重开', assign: '已派单', start: '处理中', resolve: '已解决', close: '已关闭' };

/** `2026-11-25 14:03` in China time (UTC+8 all year: no daylight saving to follow). */
export function chinaTime(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
}

export const faultZh = (fault: string): string => (fault === 'manual' ? '人工报修' : (FAULT_TITLE[fault as Fault] ?? fault));

/** 摄像机 cam-01, or 网关 gw-1 for a gateway ticket. */
export function deviceZh(n: Pick<TicketNotice, 'agentId' | 'deviceId' | 'deviceKind'>): string {
  if (n.deviceId) return `${KIND_ZH[n.deviceKind ?? 'unknown'] ?? n.deviceKind ?? '设备'} ${n.deviceId}`;
  if (n.agentId) return `网关 ${n.agentId}`;
  return '全校';
}

/** The console's school view, with the device selected; undefined without a console URL. */
export function deepLink(consoleUrl: string | undefined, n: Pick<TicketNotice, 'schoolCode' | 'deviceId'>): string | undefined {
  if (!consoleUrl) return undefined;
  const u = new URL(consoleUrl);
  // the console's hash routes (console/src/route.ts): #/school/<code>?sel=<deviceId>
  u.hash = `/school/${n.schoolCode}${n.deviceId ? `?sel=${encodeURIComponent(n.deviceId)}` : ''}`;
  return u.toString();
}

/** A change by a person names them; the watcher's are marked 自动. */
const byWhom = (n: TicketNotice) => (n.actor && n.actor !== 'system' ? `（${n.actor}）` : n.action === 'resolve' || n.action === 'close' ? '（自动）' : '');

/** One ticket change in full: what a single message says. */
export function noticeText(n: TicketNotice, consoleUrl?: string): string {
  const lines = [
    `【报修工单】${ACTION_ZH[n.action]}${byWhom(n)} #${n.ticketId}`,
    `学校：${n.schoolName}（${n.schoolCode}）`,
    `设备：${deviceZh(n)}`,
    `故障：${faultZh(n.fault)}`,
    `故障开始：${chinaTime(n.faultSince)}`,
  ];
  if (n.action !== 'open') lines.push(`${ACTION_ZH[n.action]}：${chinaTime(n.at)}`);
  if (n.note && n.action !== 'open' && n.actor !== 'system') lines.push(`说明：${n.note.slice(0, 200)}`);
  const link = deepLink(consoleUrl, n);
  if (link) lines.push(`查看：${link}`);
  return lines.join('\n');
}

/** One line of a batch. */
export function noticeLine(n: TicketNotice, consoleUrl?: string): string {
  const link = deepLink(consoleUrl, n);
  return `· ${ACTION_ZH[n.action]}${byWhom(n)} #${n.ticketId} ${n.schoolName} ${deviceZh(n)} ${faultZh(n.fault)}，自 ${chinaTime(n.faultSince)}${link ? `\n  ${link}` : ''}`;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * The text of one chat message for the first notices of `pending` that fit in `maxBytes`
 * (WeCom's text content is limited to 2048 bytes of UTF-8), and how many it took (at least one: a
 * single notice too long is cut). A burst becomes a list; what does not fit waits for the next.
 */
export function chatText(pending: readonly TicketNotice[], maxBytes: number, consoleUrl?: string): { text: string; taken: number } {
  const cut = (s: string) => {
    if (bytes(s) <= maxBytes) return s;
    let t = s;
    while (bytes(`${t}…`) > maxBytes) t = t.slice(0, -1);
    return `${t}…`;
  };
  if (pending.length === 1) return { text: cut(noticeText(pending[0]!, consoleUrl)), taken: 1 };
  const counts = new Map<NotifyAction, number>();
  for (const n of pending) counts.set(n.action, (counts.get(n.action) ?? 0) + 1);
  const head = `【报修工单】${pending.length} 条变化：${[...counts].map(([a, c]) => `${ACTION_ZH[a]} ${c}`).join('，')}`;
  // room for the closing line, should not everything fit
  const more = (k: number) => `……等 ${pending.length} 条，其余 ${pending.length - k} 条见下一条消息`;
  const lines = [head];
  let size = bytes(head);
  let taken = 0;
  for (const n of pending) {
    const line = noticeLine(n, consoleUrl);
    const tail = taken + 1 < pending.length ? bytes(more(taken + 1)) + 1 : 0;
    if (size + 1 + bytes(line) + tail > maxBytes && taken > 0) break;
    lines.push(line);
    size += 1 + bytes(line);
    taken++;
  }
  if (taken < pending.length) lines.push(more(taken));
  return { text: cut(lines.join('\n')), taken };
}

/** A notice as the `json` format sends it (documented in docs/operations.md). */
export function noticeJson(n: TicketNotice, consoleUrl?: string): Record<string, unknown> {
  return {
    action: n.action,
    actionName: ACTION_ZH[n.action],
    ticketId: n.ticketId,
    state: n.state,
    school: { code: n.schoolCode, name: n.schoolName },
    countyCode: n.countyCode,
    agentId: n.agentId,
    deviceId: n.deviceId,
    deviceKind: n.deviceKind,
    device: deviceZh(n),
    fault: n.fault,
    faultName: faultZh(n.fault),
    title: n.title,
    faultSince: n.faultSince,
    at: n.at,
    actor: n.actor,
    note: n.note,
    ...(consoleUrl ? { link: deepLink(consoleUrl, n) } : {}),
  };
}
