import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ArgumentError, TfleetError } from '../errors';

/** Who may call a method: users' clients (submit, upload, list, cancel) or workers (join, report, push, pull). */
export type Role = 'client' | 'worker';

/** The coordinator service's methods users call; every other method (and the parameter server) is a worker's. */
const CLIENT_METHODS = new Set(['Submit', 'GetJob', 'ListJobs', 'CancelJob', 'WatchJob', 'Upload']);

/** The role a method needs, from its path (`/tfleet.coordinator.Coordinator/Submit`). */
export function roleOf(path: string): Role {
  return CLIENT_METHODS.has(path.slice(path.lastIndexOf('/') + 1)) ? 'client' : 'worker';
}

/** Shortest token accepted: a guessable token is no lock. */
const MIN_TOKEN_LENGTH = 16;

/**
 * Reads a token from a file (surrounding whitespace dropped).
 * @throws ArgumentError naming the file (never its content) when it cannot be read or is too short.
 */
export function readToken(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ArgumentError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return checkToken(text.trim(), `${flag} ${path}`);
}

/** @throws ArgumentError when a token is shorter than 16 characters or spans lines. */
export function checkToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH) throw new ArgumentError(`${where}: a token needs at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`);
  if (/[\r\n]/.test(token)) throw new ArgumentError(`${where}: a token is one line`);
  return token;
}

/** Tokens the coordinator accepts, each with the roles it grants. */
export interface ServerAuth {
  tokens: { token: string; roles: readonly Role[] }[];
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Known tokens and their roles. A presented token is compared as a SHA-256
 * digest with `timingSafeEqual` against every known one, matched or not,
 * so neither its length nor which token matched shows in the time taken.
 */
export class TokenSet {
  private readonly known: { digest: Buffer; roles: readonly Role[] }[];

  constructor(tokens: readonly { token: string; roles: readonly Role[] }[]) {
    this.known = tokens.map((t) => ({ digest: digest(t.token), roles: t.roles }));
  }

  get size(): number {
    return this.known.length;
  }

  /** The roles `header` (`Bearer TOKEN`) grants; null for no token or an unknown one, 'missing' without the header. */
  rolesOf(header: unknown): readonly Role[] | null | 'missing' {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return 'missing';
    const presented = digest(header.slice('Bearer '.length));
    let roles: readonly Role[] | null = null;
    for (const k of this.known) if (timingSafeEqual(k.digest, presented)) roles = k.roles;
    return roles;
  }
}

/**
 * One server-side interceptor for every RPC of both services: the caller's
 * `authorization: Bearer TOKEN` must match a token ({@link TokenSet})
 * whose roles include the method's. Refusals are UNAUTHENTICATED (no
 * token, or not one of ours) and PERMISSION_DENIED (a client token on a
 * worker's method, or the reverse), saying what is missing; no token is
 * ever echoed.
 */
export function authInterceptor(auth: ServerAuth): grpc.ServerInterceptor {
  const known = new TokenSet(auth.tokens);
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next(new grpc.ServerListenerBuilder().withOnReceiveMetadata((metadata, proceed) => {
          const refusal = refuse(known, method.path, metadata);
          if (refusal) call.sendStatus({ ...refusal, metadata: new grpc.Metadata() });
          else proceed(metadata);
        }).build());
      },
    });
}

function refuse(known: TokenSet, path: string, metadata: grpc.Metadata): { code: grpc.status; details: string } | null {
  const refusal = roleRefusal(known, path.slice(path.lastIndexOf('/') + 1), metadata.get('authorization')[0], roleOf(path));
  if (!refusal) return null;
  return { code: refusal.code === 'UNAUTHENTICATED' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED, details: refusal.message };
}

/**
 * Why `header` (`Bearer TOKEN`) may not call `name`, which needs role
 * `needed`; null when it may. The gRPC interceptor and the tensor port
 * refuse in the same words.
 */
export function roleRefusal(known: TokenSet, name: string, header: unknown, needed: Role): TfleetError | null {
  const roles = known.rolesOf(header);
  if (roles === 'missing') return new TfleetError('UNAUTHENTICATED', `${name} needs a bearer token: set TFLEET_AUTH_TOKEN or --auth-token-file`);
  if (!roles) return new TfleetError('UNAUTHENTICATED', `${name}: the bearer token is not one this coordinator accepts`);
  if (!roles.includes(needed)) return new TfleetError('PERMISSION_DENIED', `${name} is a ${needed}'s call; this token is for ${roles.join(' and ')} calls only`);
  return null;
}

/** A client interceptor that sends `token` as a bearer token on every call. */
export function bearerInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/** PEM material of TLS: the CA that signs the peer's certificate, and this side's own key and certificate. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** How this process's clients reach the coordinator: a token, TLS, both or neither. */
export interface ClientSecurity {
  token?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

let clientSecurity: ClientSecurity = {};

/** Sets how every client this process makes (coordinator, parameter server, the bucket thread's) connects. */
export function configureClients(s: ClientSecurity): void {
  clientSecurity = s;
}

export function currentClientSecurity(): ClientSecurity {
  return clientSecurity;
}

/** Channel credentials and interceptors of a client: `own`, or this process's. */
export function clientCredentials(own?: ClientSecurity): { credentials: grpc.ChannelCredentials; interceptors: grpc.Interceptor[] } {
  const { token, tls } = own ?? clientSecurity;
  // A thread's copy of the buffers arrives as plain Uint8Arrays; grpc-js wants Buffers.
  const buf = (b: Uint8Array | undefined): Buffer | null => (b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : null);
  const credentials = tls ? grpc.credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert)) : grpc.credentials.createInsecure();
  return { credentials, interceptors: token ? [bearerInterceptor(token)] : [] };
}

/**
 * Reads TLS files into buffers.
 * @throws ArgumentError naming the flag and file that cannot be read.
 */
export function readTls(files: TlsFiles, flags: { ca: string; cert: string; key: string }): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (path: string | undefined, flag: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ArgumentError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  if ((files.cert === undefined) !== (files.key === undefined)) throw new ArgumentError(`${flags.cert} and ${flags.key} go together`);
  return { ca: read(files.ca, flags.ca), cert: read(files.cert, flags.cert), key: read(files.key, flags.key) };
}

/** True for addresses only this host can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
