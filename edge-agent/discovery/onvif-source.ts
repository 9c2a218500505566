/**
 * ONVIF cameras as a discovery source: WS-Discovery to the configured addresses (onvif/discovery.ts,
 * credentials from the gateway's store), recognised by manufacturer/model (GetDeviceInformation;
 * when our credentials are refused, the hardware/name scopes the camera announces), stable ids by
 * serial or WS-Discovery endpoint, and polled with the health ladder (onvif/health.ts) on every
 * poll: a `camera_health` reading, and an event when the ladder step changes. The encoder settings
 * seen when a camera was first found are what "degraded" is judged against later.
 */
import * as path from 'node:path';
import type { DiscoveredDevice } from '../../protocol/index.ts';
import type { ResolvedProfile } from '../../device-profiles/loader.ts';
import type { OnvifDiscoveryConfig } from '../config.ts';
import { discoverOnvif } from '../onvif/discovery.ts';
import { checkCameraHealth, type CameraHealth } from '../onvif/health.ts';
import { DeviceBook, idFromText, type Located } from './book.ts';
import { HealthTracker, type DevicePollResult, type SourcePoller } from './health-tracker.ts';
import { BookSource, type Recognised, type SourceContext } from './source.ts';

type MetricValue = number | boolean | string;

export interface OnvifFields extends Recognised {
  endpoint: string;
  xaddr: string;
  manufacturer: string;
  model: string;
  firmware: string;
  serial: string;
  profileToken: string;
  /** encoder settings when first found (sticky): the baseline for "degraded" */
  expectedWidth: number;
  expectedHeight: number;
  expectedFps: number;
}

export const LADDER = ['unreachable', 'reachable-no-auth', 'onvif-auth-no-stream', 'stream-up-degraded', 'healthy'] as const;
const LADDER_TEXT = ['Camera does not answer (powered off or cut off)', 'Camera answers but refuses our credentials', 'Camera ONVIF works but its stream does not answer', 'Camera streams below its configured resolution or frame rate', 'Camera healthy'];

/** Why a camera refused us (`authFailure` on step 1), as the event's message says it. */
const AUTH_FAILURE_TEXT: Record<string, string> = {
  'wrong-credentials': 'wrong user name or password',
  'no-credentials': 'the gateway credentials file has no entry for it',
  'unsupported-challenge': 'it asks for an HTTP authentication the agent does not speak',
  'bad-challenge': 'its HTTP authentication challenge cannot be read',
};

interface CameraTarget {
  id: string;
  host: string;
  xaddr: string;
  profileToken?: string;
  expected?: { width: number; height: number; fps: number };
}

class CameraPoller implements SourcePoller {
  private readonly health = new HealthTracker();
  private step: number | undefined;

  constructor(
    public target: CameraTarget,
    public profile: ResolvedProfile | undefined,
    private readonly ctx: SourceContext,
    private readonly timeoutMs: number,
  ) {}

  async poll(o: { all: boolean; now?: () => number }): Promise<DevicePollResult> {
    const now = o.now ?? Date.now;
    const t = this.target;
    const result: DevicePollResult = { reachable: false, readings: [], skipped: 0, errors: [], fingerprintChanged: false, events: [] };
    let h: CameraHealth;
    if (!this.ctx.allow(t.host)) {
      result.errors.push(`${t.host} is not allowed by discovery.allow; nothing was sent`);
      h = { step: 0, failure: 'not-allowed', reading: { device: t.id, ts: now(), measurement: 'camera_health', metrics: { reachable: false, step: 0, failure: 'not-allowed' } } };
    } else {
      h = await checkCameraHealth(
        { device: t.id, xaddr: t.xaddr, credentials: this.ctx.credentials.lookup(t.host, 'onvif'), ...(t.profileToken ? { profileToken: t.profileToken } : {}), ...(t.expected ? { expected: t.expected } : {}) },
        { timeoutMs: this.timeoutMs, now },
      );
    }
    result.reachable = h.step > 0;
    result.readings.push(h.reading, { device: t.id, ts: h.reading.ts, measurement: 'device', metrics: { reachable: result.reachable } });
    if (h.step < 4 && h.detail) result.errors.push(`camera health step ${h.step} (${LADDER[h.step]}): ${h.detail}`);
    if (h.step !== this.step && !(this.step === undefined && h.step === 4)) {
      const data: Record<string, MetricValue> = { state: h.step === 4 ? 'cleared' : 'active', rule: 'camera-health', step: h.step, stepName: LADDER[h.step]! };
      if (this.step !== undefined) data.previousStep = this.step;
      if (h.failure) data.failure = h.failure;
      const authFailure = h.reading.metrics.authFailure;
      let message = LADDER_TEXT[h.step]!;
      if (typeof authFailure === 'string') {
        data.authFailure = authFailure;
        message += ` (${AUTH_FAILURE_TEXT[authFailure] ?? authFailure})`;
      }
      result.events.push({ type: 'camera-health', severity: h.step === 4 ? 'info' : h.step === 3 ? 'warning' : 'critical', message, data });
    }
    this.step = h.step;
    if (this.profile) this.health.judge(this.profile, t.id, result, new Set(['device']));
    return result;
  }
}

export class OnvifSource extends BookSource<OnvifFields> {
  readonly protocol = 'onvif' as const;
  protected readonly book: DeviceBook<OnvifFields>;

  constructor(
    ctx: SourceContext,
    private readonly cfg: OnvifDiscoveryConfig,
    dataDir: string,
  ) {
    super(ctx, cfg);
    this.book = new DeviceBook<OnvifFields>(
      path.join(dataDir, 'onvif-discovered.json'),
      {
        fields: ['endpoint', 'xaddr', 'manufacturer', 'model', 'firmware', 'serial', 'profileToken', 'profile', 'attributes', 'expectedWidth', 'expectedHeight', 'expectedFps'],
        news: ['manufacturer', 'model', 'firmware', 'serial', 'profile'],
        sticky: ['expectedWidth', 'expectedHeight', 'expectedFps'],
        same: [
          (a, e) => a.serial !== undefined && e.serial === a.serial && e.manufacturer === a.manufacturer,
          (a, e) => a.endpoint !== undefined && e.endpoint === a.endpoint,
          (a, e) => e.address === a.address && (a.serial === undefined || e.serial === undefined || e.serial === a.serial),
        ],
        ids: (a) => [a.serial ? idFromText(`cam-${a.serial}`) : undefined, a.endpoint ? idFromText(`onvif-${a.endpoint.replace(/^(urn:)?uuid:/i, '')}`) : undefined, idFromText(`onvif-${a.host}-${a.port}`)],
      },
      ctx.log,
    );
  }

  protected async sweep(): Promise<{ found: Array<Located & Partial<OnvifFields>>; probed: number; errors: string[] }> {
    const c = this.cfg;
    const r = await discoverOnvif({
      unicast: c.unicast,
      ...(c.multicast ? { multicast: c.multicast } : {}),
      port: c.port,
      listenMs: c.listenMs,
      soapTimeoutMs: c.timeoutMs,
      credentials: this.ctx.credentials,
      allow: this.ctx.allow,
      concurrency: c.concurrency,
    });
    const errors = r.errors.map((e) => `${e.address}${e.device ? ` (${e.device})` : ''}: ${e.stage} ${e.kind}: ${e.message}`);
    const found: Array<Located & Partial<OnvifFields>> = [];
    for (const d of r.devices) {
      const a = this.answer(d);
      if (a) found.push(a);
    }
    return { found, probed: r.matches.length, errors };
  }

  private answer(d: DiscoveredDevice): (Located & Partial<OnvifFields>) | undefined {
    const at = d.attributes;
    const s = (k: string): string | undefined => (typeof at[k] === 'string' && at[k] !== '' ? (at[k] as string) : undefined);
    const n = (k: string): number | undefined => (typeof at[k] === 'number' ? (at[k] as number) : undefined);
    const xaddr = s('xaddr');
    if (!xaddr) return undefined;
    let url: URL;
    try {
      url = new URL(xaddr);
    } catch {
      return undefined;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    // what it says with our credentials; when they are refused, what it announces in its scopes
    let profile = this.ctx.registry.matchOnvif({ manufacturer: s('manufacturer'), model: s('model') });
    const attributes: Record<string, MetricValue> = { ...at };
    if (!profile && !s('manufacturer') && s('scopeName')) {
      profile = this.ctx.registry.matchOnvif({ manufacturer: s('scopeName'), model: s('scopeHardware') });
      if (profile) attributes.matchedBy = 'scopes';
    }
    return {
      host,
      port,
      address: d.address,
      xaddr: url.toString(),
      endpoint: s('endpoint'),
      manufacturer: s('manufacturer'),
      model: s('model'),
      firmware: s('firmware'),
      serial: s('serial'),
      profileToken: s('profileToken'),
      expectedWidth: n('resolutionWidth'),
      expectedHeight: n('resolutionHeight'),
      expectedFps: n('fps'),
      profile: profile?.id,
      attributes,
    };
  }

  private target(id: string): CameraTarget | undefined {
    const e = this.book.get(id);
    if (!e?.xaddr) return undefined;
    const expected = e.expectedWidth !== undefined && e.expectedHeight !== undefined && e.expectedFps !== undefined ? { width: e.expectedWidth, height: e.expectedHeight, fps: e.expectedFps } : undefined;
    return { id, host: e.host, xaddr: e.xaddr, ...(e.profileToken ? { profileToken: e.profileToken } : {}), ...(expected ? { expected } : {}) };
  }
  createPoller(id: string): SourcePoller | undefined {
    const t = this.target(id);
    return t ? new CameraPoller(t, this.profileOf(this.book.get(id)), this.ctx, this.cfg.timeoutMs) : undefined;
  }
  override updatePoller(id: string, poller: SourcePoller): void {
    const t = this.target(id);
    if (t && poller instanceof CameraPoller) {
      poller.target = t;
      poller.profile = this.profileOf(this.book.get(id));
    }
  }
}
