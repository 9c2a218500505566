/**
 * What counts as a device fault worth a repair ticket, read from the readings ingest already keeps:
 * a camera's health-ladder step (edge-agent/onvif/health.ts) and any device's reachability. Pure, so
 * the rules can be checked without a broker.
 */
import type { Reading } from '../../protocol/index.ts';

/** Worst first: a device with several faults is ticketed for the worst. */
export const FAULTS = ['gateway-offline', 'unreachable', 'auth', 'no-stream', 'degraded'] as const;
export type Fault = (typeof FAULTS)[number];

/** Chinese titles: tickets are read by equipment managers and exported as they are. */
export const FAULT_TITLE: Record<Fault, string> = {
  'gateway-offline': '学校网关离线',
  unreachable: '设备离线（无法连接）',
  auth: '摄像机认证失败（密码错误或被修改）',
  'no-stream': '摄像机视频流中断',
  degraded: '设备运行异常（画质或应答不达标）',
};

export interface FaultReading {
  fault: Fault;
  detail: string;
}

/** The fault a reading shows, or null when it shows the device working. */
export function faultOf(r: Pick<Reading, 'measurement' | 'metrics'>): FaultReading | null {
  const m = r.metrics;
  if (r.measurement === 'camera_health') {
    const step = Number(m.step);
    if (!Number.isFinite(step)) return null;
    const why = typeof m.failure === 'string' && m.failure ? `（${m.failure}）` : '';
    if (step >= 4) return null;
    if (step <= 0) return { fault: 'unreachable', detail: `健康检查第0级：无应答${why}` };
    if (step === 1) return { fault: 'auth', detail: `健康检查第1级：ONVIF 认证未通过${why}` };
    if (step === 2) return { fault: 'no-stream', detail: `健康检查第2级：视频流无法打开${why}` };
    return { fault: 'degraded', detail: `健康检查第3级：编码参数与配置不符${why}` };
  }
  if (r.measurement === 'device') {
    if (m.reachable === false) return { fault: 'unreachable', detail: '轮询无应答' };
    if (m.statusOk === false) return { fault: 'degraded', detail: `设备应答异常${m.httpStatus !== undefined ? `（HTTP ${String(m.httpStatus)}）` : ''}` };
    return null;
  }
  return null;
}

/** The worse of two faults. */
export const worse = (a: Fault, b: Fault): Fault => (FAULTS.indexOf(a) <= FAULTS.indexOf(b) ? a : b);
