/**
 * HTTP status APIs (class boards, classroom displays) as a discovery source: the configured hosts ×
 * ports are probed with the fingerprints the HTTP profiles' `match` sections describe
 * (http/probe.ts), and a recognised device is polled by its profile's resources (http/poller.ts).
 * Whatever else answers HTTP — another server, a board showing a login page instead of JSON, one
 * answering 500 — is reported as unknown with its raw fingerprint and the reason.
 */
import * as path from 'node:path';
import type { HttpDiscoveryConfig } from '../config.ts';
import { pollHttpDevice } from '../http/poller.ts';
import { probeHttp, type HttpFingerprint, type HttpProbeResult } from '../http/probe.ts';
import { discoveredDeviceId } from '../http/targets.ts';
import { DeviceBook, idFromText, type Located } from './book.ts';
import type { SourcePoller } from './health-tracker.ts';
import { ResourcePoller, toHttpMetrics } from './resource-poller.ts';
import { BookSource, type Recognised, type SourceContext } from './source.ts';

type MetricValue = number | boolean | string;

export interface HttpFields extends Recognised {
  vendor: string;
  model: string;
  serial: string;
  firmware: string;
}

export class HttpSource extends BookSource<HttpFields> {
  readonly protocol = 'http' as const;
  protected readonly book: DeviceBook<HttpFields>;

  constructor(
    ctx: SourceContext,
    private readonly cfg: HttpDiscoveryConfig,
    dataDir: string,
  ) {
    super(ctx, cfg);
    this.book = new DeviceBook<HttpFields>(
      path.join(dataDir, 'http-discovered.json'),
      {
        fields: ['vendor', 'model', 'serial', 'firmware', 'profile', 'attributes'],
        news: ['vendor', 'model', 'serial', 'firmware', 'profile'],
        same: [(a, e) => e.address === a.address && (a.serial === undefined || e.serial === undefined || e.serial === a.serial), (a, e) => a.serial !== undefined && e.serial === a.serial && e.profile === a.profile],
        ids: (a) => {
          const kind = a.profile ? this.ctx.registry.get(a.profile)?.kind : undefined;
          return [a.serial && kind ? idFromText(`${kind}-${a.serial}`) : undefined, discoveredDeviceId('http', a.host, a.port)];
        },
      },
      ctx.log,
    );
  }

  /** The HTTP profiles' match sections as probe fingerprints, most specific first. */
  fingerprints(): HttpFingerprint[] {
    const out: Array<HttpFingerprint & { weight: number }> = [];
    for (const p of this.ctx.registry.all('http')) {
      const m = p.match?.http;
      if (!m) continue;
      out.push({
        profile: p.id,
        kind: p.kind,
        weight: 1 + Object.keys(m.headers ?? {}).length + Object.keys(m.json ?? {}).length + (m.body !== undefined ? 1 : 0),
        rules: [
          {
            path: m.path,
            ...(m.status !== undefined ? { expectStatus: m.status } : {}),
            ...(m.headers ? { headerRegex: m.headers } : {}),
            ...(m.body !== undefined ? { bodyRegex: m.body } : {}),
            ...(m.json ? { json: m.json } : {}),
          },
        ],
      });
    }
    return out.sort((a, b) => b.weight - a.weight || (a.profile < b.profile ? -1 : 1)).map(({ weight: _w, ...f }) => f);
  }

  protected async sweep(): Promise<{ found: Array<Located & Partial<HttpFields>>; probed: number; notAllowed: number; errors: string[] }> {
    const fingerprints = this.fingerprints();
    const found: Array<Located & Partial<HttpFields>> = [];
    const errors: string[] = [];
    let probed = 0;
    let notAllowed = 0;
    if (fingerprints.length === 0) return { found, probed, notAllowed, errors: ['no HTTP device profile with a match section is loaded'] };
    for (const t of this.cfg.targets) {
      const report = await probeHttp({ hosts: t.hosts, ports: t.ports, fingerprints, isAllowed: this.ctx.allow, timeoutMs: this.cfg.timeoutMs, concurrency: this.cfg.concurrency });
      probed += report.scanned;
      for (const r of report.results) {
        if (r.status === 'not-allowed') {
          notAllowed++;
          errors.push(r.error);
        } else {
          if (r.status === 'error') errors.push(`${r.address}: ${r.error}`);
          found.push(this.answer(r));
        }
      }
    }
    return { found, probed, notAllowed, errors };
  }

  private answer(r: Exclude<HttpProbeResult, { status: 'not-allowed' }>): Located & Partial<HttpFields> {
    const fp = r.fingerprint;
    const attributes: Record<string, MetricValue> = {};
    for (const [k, v] of Object.entries(fp?.attributes ?? {})) attributes[k] = v;
    if (fp?.server) attributes.server = fp.server;
    for (const [p, a] of Object.entries(fp?.paths ?? {}).slice(0, 8)) {
      attributes[`${p}.status`.slice(0, 64)] = a.status;
      if (a.contentType) attributes[`${p}.contentType`.slice(0, 64)] = a.contentType;
      if (a.title) attributes[`${p}.title`.slice(0, 64)] = a.title;
    }
    if (r.status === 'error') attributes.error = `${r.reason}: ${r.error}`.slice(0, 1024);
    const a = fp?.attributes ?? {};
    return { host: r.host, port: r.port, address: r.address, vendor: a.vendor, model: a.model, serial: a.serial, firmware: a.firmware, profile: r.status === 'found' ? r.profile : undefined, attributes };
  }

  createPoller(id: string): SourcePoller | undefined {
    const e = this.book.get(id);
    if (!e) return undefined;
    const timeoutMs = this.cfg.timeoutMs;
    return new ResourcePoller(
      { id, host: e.host, port: e.port },
      this.profileOf(e),
      (groups, t) => pollHttpDevice({ id: t.id, host: t.host, port: t.port, metrics: toHttpMetrics(groups), timeoutMs }, { isAllowed: this.ctx.allow }),
      { timeoutMs, allow: this.ctx.allow },
    );
  }
  override updatePoller(id: string, poller: SourcePoller): void {
    const e = this.book.get(id);
    if (e && poller instanceof ResourcePoller) poller.follow(e, this.profileOf(e));
  }
}
