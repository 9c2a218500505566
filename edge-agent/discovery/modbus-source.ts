/**
 * Modbus TCP as a discovery source: every configured host × port × unit id is asked for the
 * identification registers the Modbus profiles name (modbus/probe.ts), recognised by
 * `registry.matchModbus` over what it answered, and polled by its profile's resources
 * (modbus/poller.ts). A unit that answers only exceptions is reported as unknown with the
 * exception, never dropped; a silent unit id is no device.
 */
import * as path from 'node:path';
import type { ModbusDiscoveryConfig } from '../config.ts';
import { discoveredDeviceId } from '../http/targets.ts';
import { pollModbusDevice } from '../modbus/poller.ts';
import { probeModbus, type IdentRead, type ModbusProbeResult } from '../modbus/probe.ts';
import { DeviceBook, idFromText, type Located } from './book.ts';
import type { SourcePoller } from './health-tracker.ts';
import { ResourcePoller, toModbusPoints } from './resource-poller.ts';
import { BookSource, type Recognised, type SourceContext } from './source.ts';

type MetricValue = number | boolean | string;

export interface ModbusFields extends Recognised {
  unitId: number;
  vendor: string;
  model: string;
  serial: string;
  firmware: string;
}

export class ModbusSource extends BookSource<ModbusFields> {
  readonly protocol = 'modbus' as const;
  protected readonly book: DeviceBook<ModbusFields>;

  constructor(
    ctx: SourceContext,
    private readonly cfg: ModbusDiscoveryConfig,
    dataDir: string,
  ) {
    super(ctx, cfg);
    this.book = new DeviceBook<ModbusFields>(
      path.join(dataDir, 'modbus-discovered.json'),
      {
        fields: ['unitId', 'vendor', 'model', 'serial', 'firmware', 'profile', 'attributes'],
        news: ['vendor', 'model', 'serial', 'firmware', 'profile'],
        same: [(a, e) => e.address === a.address && e.unitId === a.unitId, (a, e) => a.serial !== undefined && e.serial === a.serial && e.profile === a.profile],
        ids: (a) => {
          const kind = a.profile ? this.ctx.registry.get(a.profile)?.kind : undefined;
          return [a.serial && kind ? idFromText(`${kind}-${a.serial}`) : undefined, discoveredDeviceId('modbus', a.host, a.port, a.unitId)];
        },
        valid: (e) => Number.isInteger(e.unitId),
      },
      ctx.log,
    );
  }

  /** The union of every Modbus profile's identification registers. */
  private identify(): IdentRead[] {
    const seen = new Set<string>();
    const out: IdentRead[] = [];
    for (const p of this.ctx.registry.all('modbus')) {
      for (const r of p.match?.modbus?.registers ?? []) {
        const read: IdentRead = { table: r.table ?? 'holding', address: r.address, type: r.type, ...(r.count !== undefined ? { count: r.count } : {}), ...(r.byteOrder ? { byteOrder: r.byteOrder } : {}), ...(r.bit !== undefined ? { bit: r.bit } : {}) };
        const key = JSON.stringify(read);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(read);
      }
    }
    return out;
  }

  protected async sweep(): Promise<{ found: Array<Located & Partial<ModbusFields>>; probed: number; notAllowed: number; errors: string[] }> {
    const report = await probeModbus({
      targets: this.cfg.targets,
      isAllowed: this.ctx.allow,
      identify: this.identify(),
      timeoutMs: this.cfg.timeoutMs,
      concurrency: this.cfg.concurrency,
    });
    const found: Array<Located & Partial<ModbusFields>> = [];
    const errors: string[] = [];
    let notAllowed = 0;
    for (const r of report.results) {
      if (r.status === 'found') found.push(await this.answer(r));
      else if (r.status === 'not-allowed') {
        notAllowed++;
        errors.push(r.error);
      } else if (r.reason === 'exception') {
        // someone answers at this unit id, with nothing a profile knows: unknown, with the reason
        errors.push(`unit ${r.unitId}: ${r.error}`);
        found.push({ host: r.host, port: r.port, address: r.address, unitId: r.unitId, attributes: { unitId: r.unitId, error: r.error.slice(0, 1024), ...(r.exceptionCode !== undefined ? { exceptionCode: r.exceptionCode } : {}) } });
      }
      // silence at a unit id: no device there
    }
    return { found, probed: report.scanned, notAllowed, errors };
  }

  private async answer(r: Extract<ModbusProbeResult, { status: 'found' }>): Promise<Located & Partial<ModbusFields>> {
    const fp = r.fingerprint;
    const profile = await this.ctx.registry.matchModbus(async ({ table, address, count }) => {
      const words = fp.registers[table];
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const w = words?.[address + i];
        if (w === undefined) throw new Error('not read');
        out.push(w);
      }
      return out;
    });
    const attributes: Record<string, MetricValue> = { unitId: fp.unitId };
    for (const k of ['vendor', 'model', 'serial', 'firmware'] as const) if (fp[k]) attributes[k] = fp[k]!.slice(0, 256);
    for (const [k, v] of Object.entries(fp.deviceId ?? {}).slice(0, 8)) attributes[`deviceId.${k}`.slice(0, 64)] = v.slice(0, 256);
    // the raw identification registers, as the profiles saw them
    let n = 0;
    for (const [table, words] of Object.entries(fp.registers)) {
      for (const [addr, w] of Object.entries(words ?? {})) if (n++ < 32) attributes[`${table}.${addr}`] = w;
    }
    if (fp.errors.length > 0) attributes.identifyErrors = fp.errors.join('; ').slice(0, 1024);
    return { host: r.host, port: r.port, address: r.address, unitId: fp.unitId, vendor: fp.vendor, model: fp.model, serial: fp.serial, firmware: fp.firmware, profile: profile?.id, attributes };
  }

  createPoller(id: string): SourcePoller | undefined {
    const e = this.book.get(id);
    if (!e || e.unitId === undefined) return undefined;
    const unitId = e.unitId;
    const timeoutMs = this.cfg.timeoutMs;
    return new ResourcePoller(
      { id, host: e.host, port: e.port },
      this.profileOf(e),
      (groups, t) => pollModbusDevice({ id: t.id, host: t.host, port: t.port, unitId, points: toModbusPoints(groups), timeoutMs }, { isAllowed: this.ctx.allow }),
      { timeoutMs, allow: this.ctx.allow },
    );
  }
  override updatePoller(id: string, poller: SourcePoller): void {
    const e = this.book.get(id);
    if (e && poller instanceof ResourcePoller) poller.follow(e, this.profileOf(e));
  }
}
