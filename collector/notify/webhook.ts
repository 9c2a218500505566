/**
 * The request each target format takes and how its answer is read.
 *
 * - wecom: 企业微信群机器人, text message `{"msgtype":"text","text":{"content":…}}`, content at
 *   most 2048 bytes of UTF-8, 20 messages a minute per robot; errors come as HTTP 200 with
 *   `errcode` ≠ 0 and `errmsg` (developer.work.weixin.qq.com/document/path/91770, 群机器人配置说明).
 * - dingtalk: 钉钉自定义机器人, the same text message body; with 加签 the URL carries `timestamp`
 *   (ms) and `sign` = urlEncode(base64(HmacSHA256(key = secret, timestamp + "\n" + secret)));
 *   20 messages a minute, errors as HTTP 200 with `errcode` ≠ 0
 *   (open.dingtalk.com/document/robots/custom-robot-access, 自定义机器人接入 / 安全设置 加签).
 * - json: our own `{"source":"campus","notifications":[…]}` (docs/operations.md), any 2xx is success.
 */
import { createHmac } from 'node:crypto';

export type TargetFormat = 'wecom' | 'dingtalk' | 'json';

/** WeCom's and DingTalk's limit on a text message's content. */
export const ROBOT_TEXT_MAX_BYTES = 2048;

/**
 * Vendor error codes worth trying again (others — a wrong key, a bad signature, a missing keyword —
 * will not mend by retrying): WeCom -1 system busy, 45009 API frequency limit; DingTalk 130101
 * sending too fast, 410100 rate limited.
 */
const RETRY_ERRCODES = new Set([-1, 45009, 130101, 410100]);
const RATE_ERRCODES = new Set([45009, 130101, 410100]);

/** DingTalk's 加签: the URL with `timestamp` and `sign` added. */
export function dingtalkSignedUrl(url: string, secret: string, now = Date.now()): string {
  const sign = createHmac('sha256', secret).update(`${now}\n${secret}`, 'utf8').digest('base64');
  const u = new URL(url);
  // URLSearchParams encodes as application/x-www-form-urlencoded, as DingTalk's urlEncode does
  u.searchParams.set('timestamp', String(now));
  u.searchParams.set('sign', sign);
  return u.toString();
}

export type SendOutcome =
  | { ok: true }
  /** retry: network, timeout, 5xx, 429, a vendor's busy or rate-limit code; retryAfterMs when the server said */
  | { ok: false; retry: true; rateLimited: boolean; retryAfterMs?: number; error: string }
  | { ok: false; retry: false; error: string };

/** Reads a target's answer. */
export async function outcomeOf(format: TargetFormat, res: Response): Promise<SendOutcome> {
  const body = await res.text().catch(() => '');
  if (res.status === 429) {
    const after = Number(res.headers.get('retry-after'));
    return { ok: false, retry: true, rateLimited: true, ...(Number.isFinite(after) && after >= 0 && res.headers.has('retry-after') ? { retryAfterMs: after * 1000 } : {}), error: 'HTTP 429 too many requests' };
  }
  if (res.status >= 500) return { ok: false, retry: true, rateLimited: false, error: `HTTP ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}` };
  if (res.status < 200 || res.status >= 300) return { ok: false, retry: false, error: `HTTP ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}` };
  if (format === 'json') return { ok: true };
  let answer: { errcode?: unknown; errmsg?: unknown };
  try {
    answer = JSON.parse(body) as typeof answer;
  } catch {
    return { ok: false, retry: false, error: `HTTP ${res.status} but not the robot's JSON answer: ${body.slice(0, 200)}` };
  }
  const code = Number(answer?.errcode ?? 0);
  if (code === 0) return { ok: true };
  const error = `errcode ${code}: ${typeof answer.errmsg === 'string' ? answer.errmsg : 'no errmsg'}`;
  return RETRY_ERRCODES.has(code) ? { ok: false, retry: true, rateLimited: RATE_ERRCODES.has(code), error } : { ok: false, retry: false, error };
}
