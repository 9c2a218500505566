import { useEffect, useState } from 'react';
import { ApiFailure, devicePath, get, SERIES_RANGES, seriesPath, type DeviceChange, type DeviceDetail as Dev, type SeriesRange, type SeriesResult } from '../api';
import type { Gate } from '../auth/permissions';
import { date, deviceStateName, kindName, num, type MessageKey } from '../i18n/index';
import type { T } from '../App';

/** What a device kind charts: one or two lines from one measurement (null: no chart). */
interface ChartSpec { title: MessageKey; measurement: string; lines: { field: string; label?: MessageKey; colour: string }[]; pickUplink?: boolean }
function chartOf(kind: string): ChartSpec | null {
  if (kind === 'switch' || kind === 'router')
    return { title: 'chart.uplink', measurement: 'interface', pickUplink: true, lines: [{ field: 'inOctets', label: 'chart.in', colour: '#2563eb' }, { field: 'outOctets', label: 'chart.out', colour: '#16a34a' }] };
  if (kind === 'ups') return { title: 'chart.battery', measurement: 'ups', lines: [{ field: 'batteryPercent', colour: '#16a34a' }] };
  if (kind === 'sensor') return { title: 'chart.temperature', measurement: 'env', lines: [{ field: 'temperature', colour: '#dc2626' }] };
  return null;
}

type Line = { label?: MessageKey; colour: string; points: [number, number][] };
type ChartState = { status: 'loading' } | { status: 'no-influx' } | { status: 'error'; message: string } | { status: 'ok'; lines: Line[]; ifName?: string };

/** Of an interface query split by ifName: the series whose ifName says uplink, else the busiest. */
function pickSeries(r: SeriesResult, ifName?: string): { points: [number, number][]; ifName?: string } {
  const clean = r.series.map((s) => ({ ifName: s.tags.ifName, points: s.points.filter((p): p is [number, number] => p[1] != null) }));
  if (!clean.length) return { points: [] };
  const chosen =
    (ifName && clean.find((s) => s.ifName === ifName)) ||
    clean.find((s) => s.ifName && /uplink/i.test(s.ifName)) ||
    clean.reduce((a, b) => (Math.max(0, ...b.points.map((p) => p[1])) > Math.max(0, ...a.points.map((p) => p[1])) ? b : a));
  return { points: chosen.points, ...(chosen.ifName ? { ifName: chosen.ifName } : {}) };
}

export function TelemetryChart({ school, device, t }: { school: string; device: Dev; t: T }) {
  const spec = chartOf(device.kind);
  const [range, setRange] = useState<SeriesRange>('24h');
  const [state, setState] = useState<ChartState>({ status: 'loading' });
  useEffect(() => {
    if (!spec) return;
    const ac = new AbortController();
    setState({ status: 'loading' });
    void (async () => {
      try {
        const lines: Line[] = [];
        let ifName: string | undefined;
        for (const l of spec.lines) {
          const r = await get<SeriesResult>(seriesPath(school, device.agentId, device.deviceId, { measurement: spec.measurement, field: l.field, range }), ac.signal);
          const picked = pickSeries(r, ifName);
          if (spec.pickUplink && picked.ifName) ifName = picked.ifName;
          lines.push({ ...(l.label ? { label: l.label } : {}), colour: l.colour, points: picked.points });
        }
        setState({ status: 'ok', lines, ...(ifName ? { ifName } : {}) });
      } catch (err) {
        if (ac.signal.aborted) return;
        if (err instanceof ApiFailure && err.status === 503) setState({ status: 'no-influx' });
        else setState({ status: 'error', message: (err as Error).message });
      }
    })();
    return () => ac.abort();
    // spec is derived from device.kind
  }, [school, device.agentId, device.deviceId, device.kind, range]);
  if (!spec) return null;
  return (
    <div data-testid="telemetry" data-state={state.status}>
      <h3>
        {t('telemetry')} · {t(spec.title)}
        {state.status === 'ok' && state.ifName ? <small> · {state.ifName}</small> : null}
      </h3>
      <div role="group" aria-label={t('range')} className="ranges">
        {SERIES_RANGES.map((r) => (
          <button key={r} data-range={r} className={r === range ? 'on' : ''} aria-pressed={r === range} onClick={() => setRange(r)}>{r}</button>
        ))}
      </div>
      {state.status === 'loading' && <p>{t('loading')}</p>}
      {state.status === 'no-influx' && <p className="unknown" data-testid="no-influx">{t('noInflux')}</p>}
      {state.status === 'error' && <p className="error">{state.message}</p>}
      {state.status === 'ok' && (state.lines.some((l) => l.points.length) ? <Chart lines={state.lines} t={t} /> : <p className="unknown" data-testid="chart-no-data">{t('chartNoData')}</p>)}
    </div>
  );
}

/** A small line chart as inline SVG: time on x, value on y (from 0 unless negative), min/max labels. */
function Chart({ lines, t }: { lines: Line[]; t: T }) {
  const W = 300, H = 120, L = 34, R = 6, TOP = 8, B = 18;
  const all = lines.flatMap((l) => l.points);
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const vmax = Math.max(...all.map((p) => p[1])), vmin = Math.min(0, ...all.map((p) => p[1]));
  const top = vmax > vmin ? vmax : vmin + 1;
  const x = (t: number) => L + (t1 > t0 ? ((t - t0) / (t1 - t0)) * (W - L - R) : (W - L - R) / 2);
  const y = (v: number) => TOP + (1 - (v - vmin) / (top - vmin)) * (H - TOP - B);
  const hhmm = (t: number) => new Intl.DateTimeFormat('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Shanghai' }).format(new Date(t));
  return (
    <svg data-testid="chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" style={{ maxWidth: W, background: '#fff', border: '1px solid #e5e7eb' }}>
      <line x1={L} y1={y(vmin)} x2={W - R} y2={y(vmin)} stroke="#9ca3af" />
      <line x1={L} y1={TOP} x2={W - R} y2={TOP} stroke="#e5e7eb" strokeDasharray="2 2" />
      <text x={L - 3} y={TOP + 4} fontSize="9" textAnchor="end">{num(top)}</text>
      <text x={L - 3} y={y(vmin)} fontSize="9" textAnchor="end">{num(vmin)}</text>
      <text x={L} y={H - 4} fontSize="9">{hhmm(t0)}</text>
      <text x={W - R} y={H - 4} fontSize="9" textAnchor="end">{hhmm(t1)}</text>
      {lines.map((l, i) =>
        l.points.length === 1 ? (
          <circle key={i} className="chart-line" cx={x(l.points[0]![0])} cy={y(l.points[0]![1])} r={2.5} fill={l.colour} />
        ) : (
          <polyline key={i} className="chart-line" fill="none" stroke={l.colour} strokeWidth={1.5} points={l.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')} />
        ),
      )}
      {lines.filter((l) => l.label).map((l, i) => (
        <text key={`k${i}`} x={L + 4 + i * 40} y={TOP + 10} fontSize="9" fill={l.colour}>{t(l.label!)}</text>
      ))}
    </svg>
  );
}

/** The camera health ladder: five steps, the current one highlighted (null: no health data). */
export function HealthLadder({ step, t }: { step: number | null; t: T }) {
  return (
    <div data-testid="ladder" data-step={step ?? ''}>
      <h3>{t('healthLadder')}</h3>
      {step == null && <p className="unknown">{t('ladderUnknown')}</p>}
      <ol className="ladder">
        {[0, 1, 2, 3, 4].map((s) => (
          <li key={s} data-step={s} data-current={String(s === step)} className={s === step ? `current ${s === 4 ? 'pass' : 'fail'}` : step != null && s < step ? 'reached' : ''} aria-current={s === step ? 'step' : undefined}>
            {t(`ladder.${s}` as MessageKey)}
          </li>
        ))}
      </ol>
    </div>
  );
}

/** Who made a change: the user's display name when the collector gives one, else the recorded actor (`admin-token/张老师`, `system`). */
export const actorLabel = (e: { actor: string; actorName?: string | null }): string => e.actorName || e.actor;

/** The device's state changes, newest first, with who made them. */
function DeviceHistory({ school, device, t }: { school: string; device: Dev; t: T }) {
  const [changes, setChanges] = useState<DeviceChange[] | null>(null);
  useEffect(() => {
    let alive = true;
    get<DeviceChange[]>(`${devicePath(school, device.agentId, device.deviceId)}/history`)
      .then((h) => alive && setChanges([...h].reverse()))
      .catch(() => alive && setChanges(null));
    return () => {
      alive = false;
    };
  }, [school, device.agentId, device.deviceId, device.state]);
  if (!changes) return null;
  return (
    <>
      <h3>{t('history')}</h3>
      {changes.length === 0 && <p className="muted">{t('historyEmpty')}</p>}
      {changes.length > 0 && (
        <table data-testid="device-history">
          <tbody>
            {changes.map((c, i) => (
              <tr key={i} data-to={c.toState}>
                <td><small>{date(c.at)}</small></td>
                <td>{deviceStateName(t, c.toState)}</td>
                <td data-testid="history-actor">{actorLabel(c)}</td>
                <td>{c.note ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

interface Neighbour {
  localPort: string;
  remoteSysName: string;
  remotePortId: string | null;
  remotePortDesc: string | null;
  seenAt: string;
  device: { agentId: string; deviceId: string; kind: string; state: string; name?: string } | null;
}

/** Which devices hang off which port of a switch (LLDP, last 24 h); a neighbour the school has opens on click. */
function Neighbours({ school, device, onSelectDevice, t }: { school: string; device: Dev; onSelectDevice?: (deviceId: string) => void; t: T }) {
  const [list, setList] = useState<Neighbour[] | 'no-influx' | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    get<{ neighbours: Neighbour[] }>(`${devicePath(school, device.agentId, device.deviceId)}/neighbours`, ac.signal)
      .then((r) => setList(r.neighbours))
      .catch((err) => !ac.signal.aborted && setList(err instanceof ApiFailure && err.status === 503 ? 'no-influx' : null));
    return () => ac.abort();
  }, [school, device.agentId, device.deviceId]);
  if (list === null || list === 'no-influx') return null;
  return (
    <>
      <h3>{t('neighbours')}</h3>
      {list.length === 0 && <p className="muted" data-testid="neighbours-empty">{t('neighboursEmpty')}</p>}
      {list.length > 0 && (
        <table data-testid="neighbours">
          <thead>
            <tr><th>{t('neighbours.localPort')}</th><th>{t('neighbours.remote')}</th><th>{t('neighbours.remotePort')}</th><th>{t('neighbours.seen')}</th></tr>
          </thead>
          <tbody>
            {list.map((n) => (
              <tr key={`${n.localPort}|${n.remoteSysName}`} data-port={n.localPort} data-remote={n.remoteSysName}>
                <td>{n.localPort}</td>
                <td>
                  {n.device && onSelectDevice && n.device.agentId === device.agentId ? (
                    <button className="link" data-testid="neighbour-device" data-device={n.device.deviceId} onClick={() => onSelectDevice(n.device!.deviceId)}>
                      {n.remoteSysName}
                    </button>
                  ) : (
                    n.remoteSysName
                  )}
                  {n.device && <small> · {kindName(t, n.device.kind)}</small>}
                </td>
                <td>{n.remotePortDesc && n.remotePortDesc !== n.remotePortId ? `${n.remotePortId ?? ''} (${n.remotePortDesc})` : n.remotePortId ?? '—'}</td>
                <td><small>{date(n.seenAt)}</small></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** `onMove`: starts moving the device on the map (an enrolled one; absent: no move button), offered as `moveGate` says. */
export function DevicePanel({ school, device, step, onClose, onMove, moveGate, onSelectDevice, t }: { school: string; device: Dev; step: number | null; onClose: () => void; onMove?: () => void; moveGate?: Gate; onSelectDevice?: (deviceId: string) => void; t: T }) {
  const attrs = Object.entries(device.attributes ?? {});
  return (
    <div className="device-panel" data-testid="device-detail" data-device={device.deviceId} data-kind={device.kind}>
      <h2>
        {t('deviceDetail')}：{device.deviceId} <button data-testid="close-detail" onClick={onClose} aria-label={t('close')}>×</button>
      </h2>
      {onMove && (
        <p className="edit-only">
          <button data-testid="move-device" disabled={moveGate?.disabled} title={moveGate?.title} onClick={onMove}>{t('move')}</button>
        </p>
      )}
      <table>
        <tbody>
          <tr><th>{t('kind')}</th><td>{kindName(t, device.kind)}</td></tr>
          <tr><th>{t('state')}</th><td data-testid="device-state" data-state={device.state}>{deviceStateName(t, device.state)}{device.goneAt ? ` · ${t('offline')}` : ''}</td></tr>
          <tr><th>{t('address')}</th><td>{device.address ?? '—'}</td></tr>
          {device.protocol && <tr><th>{t('protocol')}</th><td>{device.protocol}</td></tr>}
          {device.profile && <tr><th>{t('profile')}</th><td>{device.profile}</td></tr>}
          {device.firstSeen && <tr><th>{t('firstSeen')}</th><td>{date(device.firstSeen)}</td></tr>}
          <tr><th>{t('lastSeen')}</th><td>{date(device.lastSeen)}</td></tr>
        </tbody>
      </table>
      {device.kind === 'camera' && <HealthLadder step={step} t={t} />}
      {attrs.length > 0 && (
        <>
          <h3>{t('attributes')}</h3>
          <table data-testid="attributes">
            <tbody>
              {attrs.map(([k, v]) => (
                <tr key={k}><th>{k}</th><td>{String(v)}</td></tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <TelemetryChart school={school} device={device} t={t} />
      {(device.kind === 'switch' || device.kind === 'router') && <Neighbours school={school} device={device} onSelectDevice={onSelectDevice} t={t} />}
      <DeviceHistory school={school} device={device} t={t} />
    </div>
  );
}
