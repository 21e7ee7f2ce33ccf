import { isIP } from 'node:net';

/** The coordinator's default gRPC port (`tfleet coordinator --port`). */
export const COORDINATOR_PORT = 7070;

/**
 * A coordinator address as gRPC should dial it: a bare host name, IPv4 or
 * IPv6 address gets the coordinator's port (gRPC's own default is 443);
 * `host:port`, `[IPv6]:port` and scheme URIs (`dns:`, `unix:`) pass as given.
 *
 * @example
 * withCoordinatorPort('10.0.0.5'); // '10.0.0.5:7070'
 * withCoordinatorPort('::1');      // '[::1]:7070'
 */
export function withCoordinatorPort(address: string): string {
  if (isIP(address) === 6) return `[${address}]:${COORDINATOR_PORT}`;
  if (/^\[[^\]]+\]$/.test(address) || /^[^:/[\]]+$/.test(address)) return `${address}:${COORDINATOR_PORT}`;
  return address;
}

/** True for a failure to reach any server at all (refused, unresolvable), as opposed to one that answered. */
export function isConnectFailure(message: string): boolean {
  return /No connection established|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT/.test(message);
}
