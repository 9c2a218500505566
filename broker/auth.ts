/**
 * Who may connect, publish and subscribe: pure rules over a Principal, no I/O. The broker
 * (server.ts) asks these; an AuthBackend (http-auth.ts, or a fixture in tests) says who someone is.
 *
 * Spec references are to MQTT 3.1.1 (OASIS Standard, 29 October 2014), the only version aedes 1.x
 * speaks: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  AGENT_CHANNELS,
  AGENT_ID_PATTERN,
  SCHOOL_CODE_PATTERN,
  TOPIC_ROOT,
  TOPIC_VERSION,
  agentClientId,
  agentTopic,
  parseAgentUsername,
  parseTopic,
} from '../protocol/index.ts';

export const PrincipalSchema = Type.Union([
  Type.Object(
    { kind: Type.Literal('agent'), schoolCode: Type.String({ pattern: SCHOOL_CODE_PATTERN }), agentId: Type.String({ pattern: AGENT_ID_PATTERN }) },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('service'), name: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
]);
export type Principal = Static<typeof PrincipalSchema>;
export type AgentPrincipal = Extract<Principal, { kind: 'agent' }>;

export interface AuthBackend {
  /** null = unknown user or wrong password; throws when the backend itself cannot answer. */
  authenticate(username: string, password: string): Promise<Principal | null>;
}

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3, Table 3.1. */
export const ConnackCode = {
  accepted: 0,
  unacceptableProtocol: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;
export type ConnackCode = (typeof ConnackCode)[keyof typeof ConnackCode];

export type Decision = { ok: true } | { ok: false; reason: string };
export type ConnectDecision = { ok: true } | { ok: false; reason: string; returnCode: ConnackCode };

const ALLOW: Decision = { ok: true };
const deny = (reason: string): Decision => ({ ok: false, reason });

/** Everything of ours lives below this; a service may subscribe to it and to any filter under it. */
export const TREE_PREFIX = `${TOPIC_ROOT}/${TOPIC_VERSION}/`;
export const AGENT_CLIENT_ID_PREFIX = 'agent-';

export interface ConnectRequest {
  username: string;
  clientId: string;
  /** Topic of the last will, when the CONNECT carries one. */
  willTopic?: string;
}

/** Rules applied after the backend has said who the user is. */
export function checkConnect(principal: Principal, req: ConnectRequest): ConnectDecision {
  if (principal.kind === 'agent') {
    // Defence in depth: the backend answers for this username, so its answer must name the same agent.
    const named = parseAgentUsername(req.username);
    if (!named || named.schoolCode !== principal.schoolCode || named.agentId !== principal.agentId) {
      return { ok: false, reason: 'agent principal does not match username', returnCode: ConnackCode.notAuthorized };
    }
    // A fixed client id ties the persistent session to the agent: MQTT-3.1.4-2 lets a second
    // connection with the same client id take the session over, so only the agent may use its id.
    // Refused with 0x02 "Identifier rejected", MQTT-3.1.3-9.
    const expected = agentClientId(principal);
    if (req.clientId !== expected) {
      return { ok: false, reason: `agent must use client id ${expected}`, returnCode: ConnackCode.identifierRejected };
    }
    if (req.willTopic !== undefined && req.willTopic !== agentTopic(principal, 'status')) {
      return { ok: false, reason: 'last will must be on the agent\'s own status topic', returnCode: ConnackCode.notAuthorized };
    }
    return { ok: true };
  }
  if (req.clientId.startsWith(AGENT_CLIENT_ID_PREFIX)) {
    return { ok: false, reason: 'agent-* client ids are reserved for agents', returnCode: ConnackCode.identifierRejected };
  }
  if (req.willTopic !== undefined) {
    return { ok: false, reason: 'service accounts may not set a last will', returnCode: ConnackCode.notAuthorized };
  }
  return { ok: true };
}

export interface PublishRequest {
  topic: string;
  retain: boolean;
}

export function checkPublish(principal: Principal, req: PublishRequest): Decision {
  if (principal.kind === 'agent') {
    for (const channel of AGENT_CHANNELS) if (req.topic === agentTopic(principal, channel)) return ALLOW;
    return deny('agent may publish only on its own agent channels');
  }
  const parsed = parseTopic(req.topic);
  if (parsed?.channel === 'config') return ALLOW; // standing instructions: retained on purpose
  if (!parsed || parsed.channel !== 'cmd') return deny('service may publish only on .../cmd and .../config topics');
  // A retained command would be replayed to the agent on every resubscribe (MQTT-3.3.1-6).
  if (req.retain) return deny('commands must not be retained');
  return ALLOW;
}

/**
 * A will that aedes publishes after the client is gone (client === null, from persistence). It was
 * checked at CONNECT; this re-check only keeps a tampered store from publishing elsewhere.
 */
export function checkOrphanWill(topic: string): Decision {
  return parseTopic(topic)?.channel === 'status' ? ALLOW : deny('orphan will not on a status topic');
}

export function checkSubscribe(principal: Principal, filter: string): Decision {
  if (principal.kind === 'agent') {
    // Exactly its own cmd and config topics: no wildcards, so an agent never sees another school's traffic.
    return filter === agentTopic(principal, 'cmd') || filter === agentTopic(principal, 'config') ? ALLOW : deny('agent may subscribe only to its own cmd and config topics');
  }
  // Filters starting with '$' ($SYS, $share) are not ours; anything else must stay inside our tree.
  // 'campus/v1/#' also matches the parent 'campus/v1' (§4.7.1.2), which is harmless.
  return filter.startsWith(TREE_PREFIX) ? ALLOW : deny(`service may subscribe only below ${TREE_PREFIX}`);
}

/** For log lines: who this is, without secrets. */
export function describePrincipal(p: Principal): string {
  return p.kind === 'agent' ? `agent ${p.schoolCode}/${p.agentId}` : `service ${p.name}`;
}
