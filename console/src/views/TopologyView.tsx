import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { createPortal } from 'react-dom';
import L from 'leaflet';
import { ApiFailure, get, schoolPath } from '../api';
import { kindName } from '../i18n/index';
import type { T } from '../App';

/** `GET /api/v1/schools/{code}/topology` (collector/api/topology-routes.ts). */
interface TopoNode { id: string; agentId: string | null; deviceId: string | null; kind: string; state: string | null; label: string; sysName: string | null; level: number | null; parent: string | null; unseen: boolean }
interface TopoLink { id: string; localDevice: string; localPort: string; remoteDevice: string | null; remoteSysName: string; remotePort: string | null; remoteNode: string; bothEnds: boolean; seenAt: string }
interface Topology { nodes: TopoNode[]; links: TopoLink[] }

type Loaded = { status: 'loading' } | { status: 'no-influx' } | { status: 'error'; message: string } | { status: 'ok'; topo: Topology };

// the drawing's grid: one slot per leaf, one row per level (room between rows for the port labels)
const BOX_W = 128, BOX_H = 38, SLOT = 144, ROW = 118, PAD = 16;

interface Placed { node: TopoNode; x: number; y: number }

/**
 * A layered tree: roots (level 0) on top, each device under its parent, children in the order of
 * the parent's ports; a parent centred over its children. Devices without links go in a last row.
 * Deterministic: the same answer draws the same picture.
 */
export function layout(topo: Topology): { placed: Map<string, Placed>; width: number; height: number } {
  const portOn = (a: string, b: string) => {
    const l = topo.links.find((x) => (x.localDevice === a && x.remoteNode === b) || (x.localDevice === b && x.remoteNode === a));
    return !l ? '' : l.localDevice === a ? l.localPort : l.remotePort ?? '';
  };
  const children = new Map<string, TopoNode[]>();
  for (const n of topo.nodes) if (n.parent) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);
  for (const [p, cs] of children) cs.sort((a, b) => portOn(p, a.id).localeCompare(portOn(p, b.id), 'en', { numeric: true }) || a.id.localeCompare(b.id));
  const placed = new Map<string, Placed>();
  let slot = 0, depth = 0;
  const place = (n: TopoNode, level: number): number => {
    depth = Math.max(depth, level);
    const cs = children.get(n.id) ?? [];
    const xs = cs.map((c) => place(c, level + 1));
    const x = xs.length ? (xs[0]! + xs[xs.length - 1]!) / 2 : PAD + BOX_W / 2 + SLOT * slot++;
    placed.set(n.id, { node: n, x, y: PAD + level * ROW });
    return x;
  };
  for (const root of topo.nodes.filter((n) => n.level === 0)) place(root, 0);
  const unlinked = topo.nodes.filter((n) => n.level === null);
  const linkedRows = placed.size ? depth + 1 : 0;
  unlinked.forEach((n, i) => placed.set(n.id, { node: n, x: PAD + BOX_W / 2 + SLOT * i, y: PAD + linkedRows * ROW }));
  const width = PAD * 2 + BOX_W + SLOT * (Math.max(slot, unlinked.length, 1) - 1);
  const height = PAD * 2 + BOX_H + ROW * (linkedRows + (unlinked.length ? 1 : 0) - 1);
  return { placed, width, height };
}

const fill = (online: boolean | null) => (online === null ? '#f3f4f6' : online ? '#dcfce7' : '#fee2e2');
const stroke = (online: boolean | null) => (online === null ? '#9ca3af' : online ? '#16a34a' : '#dc2626');
const short = (s: string, n = 16) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * 网络拓扑: the school's wiring from LLDP. The side panel holds a summary, what is unaccounted for
 * and a button; the drawing opens over the map (it needs the room) and stays open while a device's
 * panel is shown beside it. `onlineOf`: the school view's own idea of a device being online.
 */
export function TopologySection({ map, t, school, rev, selected, onlineOf, onSelect }: { map: L.Map; t: T; school: string; rev: number; selected: string; onlineOf: (deviceId: string) => boolean | null; onSelect: (deviceId: string) => void }) {
  const [loaded, setLoaded] = useState<Loaded>({ status: 'loading' });
  const [open, setOpen] = useState(false);
  // a device picked in the drawing: its panel opens at the top of the side panel, bring it into view
  const picked = useRef(false);
  useEffect(() => {
    if (!picked.current || !selected) return;
    picked.current = false;
    document.querySelector('[data-testid=device-detail]')?.scrollIntoView({ block: 'nearest' });
  }, [selected]);
  const pick = (deviceId: string) => {
    picked.current = true;
    onSelect(deviceId);
  };
  useEffect(() => {
    const ac = new AbortController();
    get<Topology>(`${schoolPath(school)}/topology`, ac.signal)
      .then((topo) => setLoaded({ status: 'ok', topo }))
      .catch((err) => {
        if (ac.signal.aborted) return;
        setLoaded(err instanceof ApiFailure && err.status === 503 ? { status: 'no-influx' } : { status: 'error', message: (err as Error).message });
      });
    return () => ac.abort();
  }, [school, rev]);

  const topo = loaded.status === 'ok' ? loaded.topo : null;
  const hasLinks = !!topo && topo.links.length > 0;
  const odd = topo?.nodes.filter((n) => n.state === null || n.unseen) ?? [];
  return (
    <section data-testid="topology" data-state={loaded.status} data-links={topo?.links.length ?? ''}>
      <h2>{t('topology')}</h2>
      {loaded.status === 'no-influx' && <p className="muted" data-testid="topology-no-influx">{t('topology.noInflux')}</p>}
      {loaded.status === 'error' && <p className="error">{loaded.message}</p>}
      {topo && !hasLinks && <p className="muted" data-testid="topology-empty">{t('topology.noData')}</p>}
      {topo && hasLinks && (
        <>
          <p>
            {topo.nodes.filter((n) => n.state !== null).length} {t('topology.summary.devices')} · {topo.links.length} {t('topology.summary.links')}{' '}
            <button data-testid="topology-open" aria-pressed={open} onClick={() => setOpen((o) => !o)}>{open ? t('close') : t('topology.open')}</button>
          </p>
          {odd.length > 0 && (
            <ul className="topology-odd" data-testid="topology-unaccounted" aria-label={t('topology.unaccounted')}>
              {odd.map((n) => (
                <li key={n.id} data-node={n.id}>
                  {n.label} · {n.state === null ? t('topology.unknown') : `${kindName(t, n.kind)} · ${t('topology.unseen')}`}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      {open && topo && hasLinks && <TopologyOverlay map={map} t={t} topo={topo} selected={selected} onlineOf={onlineOf} onSelect={pick} onClose={() => setOpen(false)} />}
    </section>
  );
}

/** The drawing, over the map's area (a portal into the map's container, kept from panning the map). */
function TopologyOverlay({ map, t, topo, selected, onlineOf, onSelect, onClose }: { map: L.Map; t: T; topo: Topology; selected: string; onlineOf: (deviceId: string) => boolean | null; onSelect: (deviceId: string) => void; onClose: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    L.DomEvent.disableClickPropagation(box.current);
    L.DomEvent.disableScrollPropagation(box.current);
  }, []);
  const { placed, width, height } = useMemo(() => layout(topo), [topo]);
  const onlineOfNode = (n: TopoNode) => (n.deviceId && n.state !== null ? onlineOf(n.deviceId) : null);
  return createPortal(
    <div className="topology-overlay" ref={box} data-testid="topology-overlay" role="dialog" aria-label={t('topology')}>
      <div className="topology-bar">
        <strong>{t('topology')}</strong>
        <span className="muted">{t('topology.hint')}</span>
        <span className="legend">
          <i style={{ background: fill(true), borderColor: stroke(true) }} />{t('online')}
          <i style={{ background: fill(false), borderColor: stroke(false) }} />{t('offline')}
          <i className="dashed" />{t('topology.unknown')}
        </span>
        <button data-testid="topology-close" onClick={onClose} aria-label={t('close')}>×</button>
      </div>
      <div className="topology-scroll">
        <svg data-testid="topology-svg" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={t('topology')}>
          {topo.links.map((l) => {
            const a = placed.get(l.localDevice), b = placed.get(l.remoteNode);
            if (!a || !b) return null;
            const [up, low] = a.y <= b.y ? [a, b] : [b, a];
            const upPort = up === a ? l.localPort : l.remotePort ?? '?';
            const lowPort = up === a ? l.remotePort ?? '?' : l.localPort;
            const x1 = up.x, y1 = up.y + BOX_H, x2 = low.x, y2 = low.y;
            const same = y1 > y2; // both on one row (a link between two roots): join their sides
            const path = same ? `M${Math.min(a.x, b.x) + BOX_W / 2},${a.y + BOX_H / 2} L${Math.max(a.x, b.x) - BOX_W / 2},${b.y + BOX_H / 2}` : `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`;
            const unknown = low.node.state === null || up.node.state === null;
            return (
              <g key={l.id} className="topology-link" data-link={l.id} data-local={l.localDevice} data-local-port={l.localPort} data-remote={l.remoteNode} data-remote-port={l.remotePort ?? ''} data-both-ends={String(l.bothEnds)}>
                <title>{`${up.node.label} ${upPort} — ${low.node.label} ${lowPort} · ${l.bothEnds ? t('topology.bothEnds') : t('topology.oneEnd')}`}</title>
                <path d={path} fill="none" stroke={unknown ? '#9ca3af' : '#475569'} strokeWidth={1.5} strokeDasharray={unknown ? '5 4' : l.bothEnds ? undefined : '2 3'} />
                {!same && (
                  <>
                    {/* the upper port halfway down: siblings' links have fanned out there, so their labels do not collide */}
                    <text className="port halo" data-port-of={up.node.id} x={(x1 + x2) / 2} y={(y1 + y2) / 2 + 3} textAnchor="middle">{short(upPort, 12)}</text>
                    <text className="port" data-port-of={low.node.id} x={x2 + 4} y={y2 - 5}>{short(lowPort, 14)}</text>
                  </>
                )}
              </g>
            );
          })}
          {[...placed.values()].map(({ node: n, x, y }) => {
            const online = onlineOfNode(n);
            const unknown = n.state === null;
            const clickable = !unknown && !!n.deviceId;
            const open = () => clickable && onSelect(n.deviceId!);
            return (
              <g
                key={n.id}
                className={`topology-node${clickable ? ' clickable' : ''}${n.deviceId && n.deviceId === selected ? ' selected' : ''}`}
                data-node={n.id}
                data-device={n.deviceId ?? ''}
                data-kind={n.kind}
                data-level={n.level ?? ''}
                data-online={online === null ? '' : String(online)}
                data-unknown={String(unknown)}
                data-unseen={String(n.unseen)}
                transform={`translate(${x - BOX_W / 2},${y})`}
                {...(clickable ? { role: 'button', tabIndex: 0, onClick: open, onKeyDown: (e: KeyboardEvent) => (e.key === 'Enter' || e.key === ' ') && open() } : {})}
              >
                <title>{`${n.label}${n.sysName && n.sysName !== n.label ? ` (${n.sysName})` : ''} · ${unknown ? t('topology.unknown') : kindName(t, n.kind)}${n.unseen ? ` · ${t('topology.unseen')}` : ''}`}</title>
                <rect width={BOX_W} height={BOX_H} rx={4} fill={unknown ? '#fff' : fill(online)} stroke={unknown ? '#6b7280' : stroke(online)} strokeWidth={n.deviceId === selected && !unknown ? 3 : 1.5} strokeDasharray={unknown ? '5 3' : undefined} />
                <text x={BOX_W / 2} y={15} textAnchor="middle" className="name">{short(n.label)}</text>
                <text x={BOX_W / 2} y={30} textAnchor="middle" className="sub">
                  {unknown ? t('topology.unknown') : n.level === null ? `${kindName(t, n.kind)} · ${t('topology.unlinked')}` : n.unseen ? `${kindName(t, n.kind)} · ${t('topology.unaccounted')}` : kindName(t, n.kind)}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
    </div>,
    map.getContainer(),
  );
}
