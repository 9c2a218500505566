/**
 * A school's network topology (网络拓扑) from LLDP: which access switch hangs off which port of the
 * core, which APs off which access port, and what is unaccounted for — a neighbour the inventory does
 * not know (by sysName), a switch no other switch sees.
 *
 * The switches' `neighbours` profile group stores one `lldp_neighbour` row per (local port, remote
 * sysName) every poll; one InfluxQL query takes the newest row of every such series of the school,
 * and `buildTopology` (pure) turns those rows and the inventory into nodes and links: a link seen from
 * both ends becomes one, and every connected device gets a level and a parent for a layered drawing.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { lit } from '../compliance/telemetry-facts.ts';
import type { Device, Inventory } from '../store/index.ts';
import type { InfluxConnection } from '../telemetry/influx-http.ts';
import type { Series } from '../telemetry/influx-query.ts';
import { telemetryQuery } from './telemetry-query.ts';
import { ApiError } from './errors.ts';
import * as S from './schemas.ts';

/** How far back an LLDP row still counts (the profile reads neighbours every 15 minutes). */
export const TOPOLOGY_WINDOW_MS = 24 * 3600_000;

/** The kinds drawn even without LLDP data: the network gear itself. */
const NETWORK_KINDS = new Set(['router', 'switch', 'ap-controller', 'ap']);
/** Devices whose LLDP tables describe the wiring (their neighbours hang off their ports). */
const SWITCHING_KINDS = new Set(['router', 'switch']);
/** A port whose name says it leads up (uplink, 上联): the device it belongs to hangs below the other end. */
const UPLINK_PORT = /up-?link|上联/i;

/** The newest `lldp_neighbour` row of one (device, local port, remote sysName) series. */
export interface LldpRow {
  agent: string;
  device: string;
  localPort: string;
  remoteSysName: string;
  remotePortId: string | null;
  remotePortDesc: string | null;
  seenAt: number;
}

export interface TopologyNode {
  /** `agent/device` for the school's devices, `?<sysname>` (lower case) for an unknown neighbour */
  id: string;
  agentId: string | null;
  deviceId: string | null;
  /** device kind; `unknown` for a neighbour the inventory does not know */
  kind: string;
  /** inventory state (enrolled, discovered, seen); null: not in the inventory (未登记) */
  state: string | null;
  label: string;
  sysName: string | null;
  /** 0 = a root (core), 1 below it…; null: no link seen (drawn apart) */
  level: number | null;
  parent: string | null;
  /** a switch or router that no other switch lists as a neighbour while the school has several (unaccounted for) */
  unseen: boolean;
}

export interface TopologyLink {
  id: string;
  /** the device whose LLDP table reported the link; of a link seen from both ends, the upper one */
  localDevice: string;
  localPort: string;
  /** the neighbour as one of the school's devices (`agent/device`), or null (see remoteSysName) */
  remoteDevice: string | null;
  remoteSysName: string;
  /** the neighbour's port: its own name when it reported the link too, else as the local side heard it */
  remotePort: string | null;
  /** the node drawn at the remote end (remoteDevice, or the unknown neighbour's node) */
  remoteNode: string;
  bothEnds: boolean;
  seenAt: string;
}

export interface Topology {
  nodes: TopologyNode[];
  links: TopologyLink[];
  /** LLDP rows older than the window, or of devices the school no longer has, left out */
  ignoredRows: number;
}

type Dev = Pick<Device, 'agentId' | 'deviceId' | 'kind' | 'state' | 'attributes'>;

const keyOf = (d: { agentId: string; deviceId: string }) => `${d.agentId}/${d.deviceId}`;
const RANK: Record<string, number> = { router: 0, switch: 1, 'ap-controller': 2, ap: 4, unknown: 5 };
const rankOf = (kind: string) => RANK[kind] ?? 3;
const portOrder = (a: string | null, b: string | null) => (a ?? '').localeCompare(b ?? '', 'en', { numeric: true });
const samePort = (own: string, heard: (string | null)[]) => heard.some((h) => h !== null && h.toLowerCase() === own.toLowerCase());

/**
 * The school's devices by lower-cased sysName, as LLDP names its neighbours: when several carry one
 * (a switch discovered again after a move), the enrolled one, else the first by agent/device id.
 * Retired devices are left out. Also used by the device panel's neighbours route.
 */
export function devicesBySysName<D extends Pick<Dev, 'agentId' | 'deviceId' | 'state' | 'attributes'>>(devices: readonly D[]): Map<string, D> {
  const bySysName = new Map<string, D>();
  for (const d of [...devices].sort((a, b) => keyOf(a).localeCompare(keyOf(b)))) {
    const s = d.attributes.sysName;
    if (d.state === 'retired' || typeof s !== 'string' || s === '') continue;
    const k = s.toLowerCase();
    if (!bySysName.has(k) || (d.state === 'enrolled' && bySysName.get(k)!.state !== 'enrolled')) bySysName.set(k, d);
  }
  return bySysName;
}

/** The inventory and the newest LLDP rows → nodes and links (see the file comment). `now` in epoch ms. */
export function buildTopology(devices: readonly Dev[], rows: readonly LldpRow[], now: number, windowMs = TOPOLOGY_WINDOW_MS): Topology {
  const live = devices.filter((d) => d.state !== 'retired');
  const byKey = new Map(live.map((d) => [keyOf(d), d]));
  const bySysName = devicesBySysName(live);

  const nodes = new Map<string, TopologyNode>();
  const addDevice = (d: Dev) => {
    const id = keyOf(d);
    if (nodes.has(id)) return id;
    const sysName = typeof d.attributes.sysName === 'string' && d.attributes.sysName !== '' ? d.attributes.sysName : null;
    const name = d.attributes.name;
    const label = typeof name === 'string' && name !== '' ? name : sysName ?? d.deviceId;
    nodes.set(id, { id, agentId: d.agentId, deviceId: d.deviceId, kind: d.kind, state: d.state, label, sysName, level: null, parent: null, unseen: false });
    return id;
  };
  for (const d of live) if (NETWORK_KINDS.has(d.kind)) addDevice(d);

  // the rows that count, resolved to nodes
  let ignoredRows = 0;
  interface Seen { row: LldpRow; local: string; remote: string; remoteDevice: Dev | null }
  const seen: Seen[] = [];
  for (const row of rows) {
    const local = byKey.get(`${row.agent}/${row.device}`);
    if (!local || now - row.seenAt > windowMs || !row.remoteSysName) {
      ignoredRows++;
      continue;
    }
    const remoteDevice = bySysName.get(row.remoteSysName.toLowerCase()) ?? null;
    let remote: string;
    if (remoteDevice) remote = addDevice(remoteDevice);
    else {
      remote = `?${row.remoteSysName.toLowerCase()}`;
      if (!nodes.has(remote)) nodes.set(remote, { id: remote, agentId: null, deviceId: null, kind: 'unknown', state: null, label: row.remoteSysName, sysName: row.remoteSysName, level: null, parent: null, unseen: false });
    }
    const localId = addDevice(local);
    if (remote === localId) continue; // a device hearing itself (a loop through a hub): nothing to draw
    seen.push({ row, local: localId, remote, remoteDevice });
  }

  // merge: rows of A about B with rows of B about A, first those whose port names agree, then a lone pair
  const links: TopologyLink[] = [];
  const used = new Set<Seen>();
  const fromBoth = (a: Seen, b: Seen) => {
    used.add(a).add(b);
    // the upper end reports; decided again below once directions are known
    links.push({
      id: '',
      localDevice: a.local,
      localPort: a.row.localPort,
      remoteDevice: b.local,
      remoteSysName: a.row.remoteSysName,
      remotePort: b.row.localPort,
      remoteNode: b.local,
      bothEnds: true,
      seenAt: new Date(Math.max(a.row.seenAt, b.row.seenAt)).toISOString(),
    });
  };
  const pairKey = (x: string, y: string) => (x < y ? `${x}|${y}` : `${y}|${x}`);
  const byPair = new Map<string, Seen[]>();
  for (const s of seen) if (s.remoteDevice) byPair.set(pairKey(s.local, s.remote), [...(byPair.get(pairKey(s.local, s.remote)) ?? []), s]);
  for (const group of byPair.values()) {
    const [first] = group;
    const ab = group.filter((s) => s.local === first!.local);
    const ba = group.filter((s) => s.local !== first!.local);
    for (const a of ab) {
      const b = ba.find((x) => !used.has(x) && samePort(a.row.localPort, [x.row.remotePortId, x.row.remotePortDesc]) && samePort(x.row.localPort, [a.row.remotePortId, a.row.remotePortDesc]));
      if (b) fromBoth(a, b);
    }
    const restA = ab.filter((s) => !used.has(s)), restB = ba.filter((s) => !used.has(s));
    if (restA.length === 1 && restB.length === 1) fromBoth(restA[0]!, restB[0]!);
  }
  for (const s of seen) {
    if (used.has(s)) continue;
    links.push({
      id: '',
      localDevice: s.local,
      localPort: s.row.localPort,
      remoteDevice: s.remoteDevice ? s.remote : null,
      remoteSysName: s.row.remoteSysName,
      remotePort: s.row.remotePortId ?? s.row.remotePortDesc,
      remoteNode: s.remote,
      bothEnds: false,
      seenAt: new Date(s.row.seenAt).toISOString(),
    });
  }

  // directions: an end whose own port says uplink hangs below; else the higher kind (router, switch…) is above
  const down = new Map<TopologyLink, { upper: string; lower: string } | null>();
  for (const l of links) {
    const localUp = UPLINK_PORT.test(l.localPort);
    const remoteUp = l.remotePort !== null && UPLINK_PORT.test(l.remotePort);
    const rl = rankOf(nodes.get(l.localDevice)!.kind), rr = rankOf(nodes.get(l.remoteNode)!.kind);
    if (localUp !== remoteUp) down.set(l, localUp ? { upper: l.remoteNode, lower: l.localDevice } : { upper: l.localDevice, lower: l.remoteNode });
    else if (rl !== rr) down.set(l, rl < rr ? { upper: l.localDevice, lower: l.remoteNode } : { upper: l.remoteNode, lower: l.localDevice });
    else down.set(l, null);
  }

  // levels: breadth first from the roots (nothing above them), best-ranked first; a node keeps its first parent
  const adjacent = new Map<string, { next: string; link: TopologyLink }[]>();
  const hasParent = new Set<string>();
  const switchLinks = new Map<string, number>();
  for (const l of links) {
    const d = down.get(l);
    const ends = d ? [[d.upper, d.lower]] : [[l.localDevice, l.remoteNode], [l.remoteNode, l.localDevice]];
    for (const [a, b] of ends) adjacent.set(a!, [...(adjacent.get(a!) ?? []), { next: b!, link: l }]);
    if (d) hasParent.add(d.lower);
    for (const [a, b] of [[l.localDevice, l.remoteNode], [l.remoteNode, l.localDevice]] as const)
      if (SWITCHING_KINDS.has(nodes.get(b)!.kind)) switchLinks.set(a, (switchLinks.get(a) ?? 0) + 1);
  }
  const linked = [...nodes.values()].filter((n) => links.some((l) => l.localDevice === n.id || l.remoteNode === n.id));
  const order = linked.sort((a, b) => rankOf(a.kind) - rankOf(b.kind) || (switchLinks.get(b.id) ?? 0) - (switchLinks.get(a.id) ?? 0) || a.label.localeCompare(b.label) || a.id.localeCompare(b.id));
  const walk = (root: TopologyNode) => {
    root.level = 0;
    const queue = [root];
    while (queue.length) {
      const n = queue.shift()!;
      const out = (adjacent.get(n.id) ?? []).sort((x, y) => portOrder(portAt(x.link, n.id), portAt(y.link, n.id)) || x.next.localeCompare(y.next));
      for (const { next } of out) {
        const m = nodes.get(next)!;
        if (m.level !== null) continue;
        m.level = n.level! + 1;
        m.parent = n.id;
        queue.push(m);
      }
    }
  };
  for (const n of order) if (n.level === null && !hasParent.has(n.id)) walk(n);
  for (const n of order) if (n.level === null) walk(n); // only a ring of "uplinks" is left: start at its best

  // a link reads top-down: the upper end is the local one
  for (const l of links) {
    const upperIsRemote = (nodes.get(l.remoteNode)!.level ?? 0) < (nodes.get(l.localDevice)!.level ?? 0) || nodes.get(l.localDevice)!.parent === l.remoteNode;
    if (l.bothEnds && upperIsRemote) {
      [l.localDevice, l.remoteNode] = [l.remoteNode, l.localDevice];
      l.remoteDevice = l.remoteNode;
      [l.localPort, l.remotePort] = [l.remotePort!, l.localPort];
      l.remoteSysName = nodes.get(l.remoteNode)!.sysName ?? l.remoteSysName;
    }
    l.id = `${l.localDevice}:${l.localPort}>${l.remoteNode}`;
  }
  links.sort((a, b) => a.localDevice.localeCompare(b.localDevice) || portOrder(a.localPort, b.localPort) || a.remoteNode.localeCompare(b.remoteNode));

  // unaccounted for: a switch no other switch lists, when there are others that could
  const switches = [...nodes.values()].filter((n) => n.state !== null && SWITCHING_KINDS.has(n.kind));
  if (switches.length > 1)
    for (const n of switches) n.unseen = !seen.some((s) => s.remote === n.id && SWITCHING_KINDS.has(nodes.get(s.local)!.kind));

  const list = [...nodes.values()].sort((a, b) => (a.level ?? Infinity) - (b.level ?? Infinity) || rankOf(a.kind) - rankOf(b.kind) || a.label.localeCompare(b.label) || a.id.localeCompare(b.id));
  return { nodes: list, links, ignoredRows };
}

/** The port of `node` on link `l` (for ordering children by the parent's port). */
function portAt(l: TopologyLink, node: string): string | null {
  return l.localDevice === node ? l.localPort : l.remotePort;
}

/** `lldp_neighbour` series (one newest row each, grouped by agent, device, localPort, remoteSysName) → rows. */
export function lldpRows(series: readonly Series[]): LldpRow[] {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return series.flatMap((s) => {
    const row = s.values[0];
    const tags = s.tags ?? {};
    if (!row || !tags.agent || !tags.device || !tags.remoteSysName) return [];
    const col = (name: string) => row[s.columns.indexOf(name)];
    return [{ agent: tags.agent, device: tags.device, localPort: tags.localPort ?? '', remoteSysName: tags.remoteSysName, remotePortId: text(col('remotePortId')), remotePortDesc: text(col('remotePortDesc')), seenAt: Number(col('time')) }];
  });
}

// ---------------------------------------------------------------- route

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const TopologyBody = Type.Object({
  nodes: Type.Array(
    Type.Object({
      id: Type.String({ description: '`agent/device`, or `?<sysname>` for a neighbour the inventory does not know' }),
      agentId: Nullable(Type.String()),
      deviceId: Nullable(Type.String()),
      kind: Type.String({ description: 'device kind; `unknown` for an unknown neighbour' }),
      state: Nullable(Type.String({ description: 'inventory state; null: not in the inventory (未登记)' })),
      label: Type.String(),
      sysName: Nullable(Type.String()),
      level: Type.Union([Type.Integer(), Type.Null()], { description: '0 = a root (core); null: no link seen' }),
      parent: Nullable(Type.String()),
      unseen: Type.Boolean({ description: 'a switch or router no other switch lists as a neighbour (when the school has several)' }),
    }),
  ),
  links: Type.Array(
    Type.Object({
      id: Type.String(),
      localDevice: Type.String({ description: 'the reporting device (`agent/device`); of a link seen from both ends, the upper one' }),
      localPort: Type.String(),
      remoteDevice: Nullable(Type.String()),
      remoteSysName: Type.String(),
      remotePort: Nullable(Type.String()),
      remoteNode: Type.String({ description: 'the node at the remote end: remoteDevice or the unknown neighbour' }),
      bothEnds: Type.Boolean({ description: 'both devices list each other: one link' }),
      seenAt: Type.String({ format: 'date-time' }),
    }),
  ),
  ignoredRows: Type.Integer({ description: 'LLDP rows left out: older than 24 h, or of a device the school no longer has' }),
});

export interface TopologyRouteDeps {
  inventory: Inventory;
  /** absent: 503 TELEMETRY_UNAVAILABLE */
  influx?: InfluxConnection;
  now?: () => number;
}

export function registerTopologyRoutes(app: FastifyInstance, deps: TopologyRouteDeps): void {
  const now = deps.now ?? Date.now;
  app.get(
    '/api/v1/schools/:code/topology',
    {
      schema: {
        summary: "The school's network topology from its switches' LLDP neighbours (last 24 h): devices, unknown neighbours, links merged when seen from both ends, a level per device for a layered drawing",
        params: S.SchoolCodeParams,
        response: { 200: TopologyBody, 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 502: { $ref: 'Error#' }, 503: { $ref: 'Error#' } },
      },
    },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      if (!(await deps.inventory.getSchool(code))) throw new ApiError('NOT_FOUND', `school ${code}`);
      if (!deps.influx) throw new ApiError('TELEMETRY_UNAVAILABLE');
      // one query for the school: the newest row of every (device, port, neighbour) series
      const stmt = `SELECT "remotePortId", "remotePortDesc" FROM "lldp_neighbour" WHERE "school" = ${lit(code)} AND time > now() - ${TOPOLOGY_WINDOW_MS / 1000}s GROUP BY "agent", "device", "localPort", "remoteSysName" ORDER BY time DESC LIMIT 1`;
      const [series, devices] = await Promise.all([telemetryQuery(deps.influx, stmt), deps.inventory.listDevices(code)]);
      return buildTopology(devices, lldpRows(series), now());
    },
  );
}
