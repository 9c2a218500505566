/**
 * The MQTT topic tree, defined once. Every part (broker ACL, agent, collector) derives its topics
 * from here so that a change to the tree is one change.
 *
 *   campus/v1/{schoolCode}/{agentId}/{channel}
 */

export const TOPIC_ROOT = 'campus';
export const TOPIC_VERSION = 'v1';

/** Channels an agent publishes on. */
export const AGENT_CHANNELS = ['status', 'discovery', 'telemetry', 'event', 'cmd/ack'] as const;
/**
 * Channels the centre publishes on (agents subscribe): `cmd` for one-off commands (never
 * retained), `config` for the agent's standing instructions (retained, so a reconnecting agent
 * gets the latest at once).
 */
export const CENTRE_CHANNELS = ['cmd', 'config'] as const;
export const CHANNELS = [...AGENT_CHANNELS, ...CENTRE_CHANNELS] as const;

export type AgentChannel = (typeof AGENT_CHANNELS)[number];
export type CentreChannel = (typeof CENTRE_CHANNELS)[number];
export type Channel = (typeof CHANNELS)[number];

/** 学校标识码: the Ministry of Education's 10-digit school identifier. */
export const SCHOOL_CODE_PATTERN = '^[0-9]{10}$';
/** Agent ids are short, lower-case, and safe as one MQTT topic level and as an InfluxDB tag. */
export const AGENT_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

const schoolCodeRe = new RegExp(SCHOOL_CODE_PATTERN);
const agentIdRe = new RegExp(AGENT_ID_PATTERN);

export function isSchoolCode(s: string): boolean {
  return schoolCodeRe.test(s);
}
export function isAgentId(s: string): boolean {
  return agentIdRe.test(s);
}

export interface AgentAddress {
  schoolCode: string;
  agentId: string;
}

export function agentTopic(addr: AgentAddress, channel: Channel): string {
  if (!isSchoolCode(addr.schoolCode)) throw new Error(`invalid school code ${JSON.stringify(addr.schoolCode)}`);
  if (!isAgentId(addr.agentId)) throw new Error(`invalid agent id ${JSON.stringify(addr.agentId)}`);
  return `${TOPIC_ROOT}/${TOPIC_VERSION}/${addr.schoolCode}/${addr.agentId}/${channel}`;
}

/** Prefix under which one agent may publish, e.g. `campus/v1/3715020001/gw-1/`. */
export function agentPrefix(addr: AgentAddress): string {
  return `${TOPIC_ROOT}/${TOPIC_VERSION}/${addr.schoolCode}/${addr.agentId}/`;
}

/** What the collector subscribes to: every agent channel of every school (or one school). */
export function collectorSubscriptions(schoolCode = '+'): string[] {
  return AGENT_CHANNELS.map((c) => `${TOPIC_ROOT}/${TOPIC_VERSION}/${schoolCode}/+/${c}`);
}

export interface ParsedTopic extends AgentAddress {
  channel: Channel;
}

/** Parses a concrete topic; returns null for anything that is not exactly one of ours. */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts.length < 5 || parts[0] !== TOPIC_ROOT || parts[1] !== TOPIC_VERSION) return null;
  const [, , schoolCode, agentId, ...rest] = parts as [string, string, string, string, ...string[]];
  const channel = rest.join('/');
  if (!isSchoolCode(schoolCode) || !isAgentId(agentId)) return null;
  if (!(CHANNELS as readonly string[]).includes(channel)) return null;
  return { schoolCode, agentId, channel: channel as Channel };
}

/**
 * MQTT identity of an agent. The username names the agent, the client id is fixed so that a
 * persistent session belongs to exactly one agent and nobody else can take it over.
 */
export function agentUsername(addr: AgentAddress): string {
  return `${addr.schoolCode}/${addr.agentId}`;
}
export function agentClientId(addr: AgentAddress): string {
  return `agent-${addr.schoolCode}-${addr.agentId}`;
}
export function parseAgentUsername(username: string): AgentAddress | null {
  const m = /^([^/]+)\/([^/]+)$/.exec(username);
  if (!m) return null;
  const [, schoolCode, agentId] = m as unknown as [string, string, string];
  return isSchoolCode(schoolCode) && isAgentId(agentId) ? { schoolCode, agentId } : null;
}
