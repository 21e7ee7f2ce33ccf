import * as grpc from '@grpc/grpc-js';
import { Logger } from '../log';

/**
 * Sends grpc-js's own log lines (by default only its errors, such as a
 * failed bind) through a component's logger: they take its format and
 * level instead of a bare "E …" line between its JSON lines on stderr.
 */
export function routeGrpcLogs(log: Logger): void {
  const grpcLog = log.child('grpc');
  const line = (level: 'debug' | 'info' | 'warn') => (message: unknown, ...rest: unknown[]): void =>
    grpcLog[level]([message, ...rest].map(String).join(' ').slice(0, 500));
  grpc.setLogger({ error: line('warn'), info: line('info'), debug: line('debug') });
}
