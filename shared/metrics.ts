import { IncomingMessage, ServerResponse, createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { packageVersion } from './version';

/**
 * A metrics registry for one process (no global registry), with the default
 * process metrics and a `component` label on every series.
 */
export function createRegistry(component: string, labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component, ...labels });
  collectDefaultMetrics({ register: registry });
  new Gauge({ name: 'tfleet_build_info', help: 'The tfleet version and Node.js version this process runs (value 1).', labelNames: ['version', 'node'], registers: [registry] })
    .set({ version: packageVersion(), node: process.version }, 1);
  return registry;
}


export interface MetricsServer {
  /** The port it listens on (useful when asked for port 0). */
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text) and `/healthz` over HTTP.
 *
 * @example
 * const server = await serveMetrics(registry, '127.0.0.1', 9464);
 * // curl -s http://127.0.0.1:9464/metrics
 */
/** Serves other paths on the same port (the coordinator's dashboard); returns false for a path it does not serve. */
export type ExtraRoutes = (path: string, req: IncomingMessage, res: ServerResponse) => boolean;

export async function serveMetrics(registry: Registry, host: string, port: number, extra?: ExtraRoutes): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path !== '/metrics' && path !== '/healthz' && extra?.(path, req, res)) return;
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://${formatHost(host)}:${actual}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Brackets an IPv6 literal for use in an address. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
