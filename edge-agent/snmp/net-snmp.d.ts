// net-snmp ships no type declarations and there is no @types package: this covers what we use.
declare module 'net-snmp' {
  import type * as dgram from 'node:dgram';

  export interface Varbind {
    oid: string;
    type: number;
    value: unknown;
  }
  export interface SessionOptions {
    port?: number;
    retries?: number;
    timeout?: number;
    backoff?: number;
    transport?: 'udp4' | 'udp6';
    version?: number;
    idBitsSize?: 16 | 32;
  }
  export interface Session {
    get(oids: string[], cb: (error: Error | null, varbinds?: Varbind[]) => void): void;
    subtree(oid: string, maxRepetitions: number, feed: (varbinds: Varbind[]) => boolean | void, done: (error: Error | null) => void): void;
    close(): void;
    on(event: 'error' | 'close', cb: (err?: Error) => void): void;
  }
  export function createSession(target: string, community: string, options?: SessionOptions): Session;
  /** SNMPv3 (USM) user as net-snmp takes it: level from SecurityLevel, protocols from Auth/PrivProtocols. */
  export interface V3User {
    name: string;
    level: number;
    authProtocol?: number;
    authKey?: string;
    privProtocol?: number;
    privKey?: string;
  }
  export function createV3Session(target: string, user: V3User, options?: SessionOptions & { context?: string; engineID?: string }): Session;
  /** thrown for Report PDUs (usmStats*: "Unknown User Name", "Wrong Digest (…)", …), code ResponseInvalidCode.EAuthFailure */
  export class ResponseInvalidError extends Error {
    code: number;
  }
  export class RequestTimedOutError extends Error {}
  export const SecurityLevel: { noAuthNoPriv: number; authNoPriv: number; authPriv: number };
  export const AuthProtocols: { none: number; md5: number; sha: number; sha224: number; sha256: number; sha384: number; sha512: number };
  export const PrivProtocols: { none: number; des: number; aes: number; aes256b: number; aes256r: number };
  export function isVarbindError(varbind: Varbind): boolean;
  export function varbindError(varbind: Varbind): string;

  export const Version1: number;
  export const Version2c: number;
  export const ObjectType: Record<string, number> & {
    Integer: number; OctetString: number; OID: number; Counter32: number; Gauge32: number; TimeTicks: number; Counter64: number;
    NoSuchObject: number; NoSuchInstance: number; EndOfMibView: number;
  };
  export const MibProviderType: { Scalar: number; Table: number };
  export const MaxAccess: Record<string, number>;
  export const ErrorStatus: Record<string, number>;

  export interface MibRequest {
    oid: string;
    operation: number;
    instanceNode: { value: unknown; valueType?: number };
    done(error?: { errorStatus: number }): void;
  }
  export interface ProviderDefinition {
    name: string;
    type: number;
    oid: string;
    scalarType?: number;
    maxAccess: number;
    tableColumns?: Array<{ number: number; name: string; type: number; maxAccess: number }>;
    tableIndex?: Array<{ columnName: string }>;
    tableAugments?: string;
    handler?: (req: MibRequest) => void;
  }
  export interface Mib {
    registerProviders(defs: ProviderDefinition[]): void;
    setScalarValue(name: string, value: unknown): void;
    addTableRow(name: string, row: unknown[]): void;
  }
  export interface Agent {
    getMib(): Mib;
    getAuthorizer(): { addCommunity(community: string): void; addUser(user: V3User): void };
    close(cb?: () => void): void;
  }
  export interface AgentOptions {
    /** the agent's own authoritative engine ID (hex), for SNMPv3 */
    engineID?: string;
    port?: number;
    address?: string | null;
    transport?: 'udp4' | 'udp6';
    disableAuthorization?: boolean;
    dgramModule?: { createSocket(type: dgram.SocketType): dgram.Socket };
  }
  export function createAgent(options: AgentOptions, callback: (error: Error | null, data?: unknown) => void): Agent;

  const snmp: {
    createSession: typeof createSession;
    createV3Session: typeof createV3Session;
    SecurityLevel: typeof SecurityLevel;
    AuthProtocols: typeof AuthProtocols;
    PrivProtocols: typeof PrivProtocols;
    ResponseInvalidError: typeof ResponseInvalidError;
    RequestTimedOutError: typeof RequestTimedOutError;
    createAgent: typeof createAgent;
    isVarbindError: typeof isVarbindError;
    varbindError: typeof varbindError;
    Version1: number;
    Version2c: number;
    ObjectType: typeof ObjectType;
    MibProviderType: typeof MibProviderType;
    MaxAccess: typeof MaxAccess;
    ErrorStatus: typeof ErrorStatus;
  };
  export default snmp;
}
