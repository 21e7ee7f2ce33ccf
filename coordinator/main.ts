import * as grpc from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { EventBus, InProcessBus } from '../shared/events/bus';
import { NatsBus } from '../shared/events/nats-bus';
import { Logger } from '../shared/log';
import { MetricsServer, createRegistry, formatHost, serveMetrics } from '../shared/metrics';
import { FLOW_CONTROL_WINDOW_BYTES, channelOptions, coordinatorService, parameterServerService, widenServerWindows } from '../shared/rpc/services';
import { Coordinator } from './coordinator';
import { DEFAULT_STORE_LIMITS, ParameterStore, StoreLimits } from './ps/parameter-store';
import { PsMetrics, jobOfTable, parameterServer } from './ps/ps-service';
import { TensorPort, serveTensorPort } from './ps/tensor-port';
import { coordinatorHandlers } from './service';
import { PathPolicy, pathPolicy } from './security/confined-paths';
import { UploadStore } from './data/uploads';
import { maxDataBytes } from '../shared/data/files';
import { dashboardRoutes } from './dashboard/routes';
import { ArgumentError, TfleetError } from '../shared/errors';
import { ServerAuth, authInterceptor, isLoopback } from '../shared/rpc/security';

export interface CoordinatorConfig {
  /** Interface to listen on. @default '127.0.0.1' */
  host: string;
  /** gRPC port; 0 picks a free one. @default 7070 */
  port: number;
  /** Prometheus port; 0 picks a free one. @default 9464 */
  metricsPort: number;
  /** Job records live here. @default '.tfleet' */
  stateDir: string;
  /** Default parent folder of job outputs. @default 'runs' */
  runsDir: string;
  /** NATS server URL for events; empty for the in-process bus. */
  natsUrl: string;
  /** Worker lease in ms. @default 6000 */
  leaseMs: number;
  /** Largest gRPC message in bytes (and tensor-port request). */
  maxMessageBytes: number;
  /** Port of the parameter server's tensor port (0: any free one); null: none, bucketed steps use gRPC. @default 0 */
  tensorPort?: number | null;
  /** Host workers should dial; defaults to `host`, or this machine's name when `host` is a wildcard. */
  advertiseHost: string;
  /** A member this far behind the others at a step or a round's end is evicted; 0: automatic. @default 0 */
  stepTimeoutMs?: number;
  /** Time the other ranks have to finish (evaluate, export) after the first did. @default 600000 */
  finishTimeoutMs?: number;
  /** How long a job with fewer than its minWorkers waits for replacements. @default 60000 */
  rejoinTimeoutMs?: number;
  /** Bearer tokens every RPC must carry; none: no authentication (loopback only, unless `insecure`). */
  auth?: ServerAuth;
  /** TLS: the server's key and certificate, and the CA that must sign client certificates (mutual TLS) when given. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Listen beyond loopback without a token or data roots. @default false */
  insecure?: boolean;
  /** Most trainable parameters of a job's model. @default 100000000 */
  maxModelParams?: number;
  /** Most workers a job may ask for. @default 64 */
  maxWorkersPerJob?: number;
  /** How long a finished job's series stay on /metrics. @default 600000 */
  metricsRetentionMs?: number;
  /** Bounds on what a job may make the parameter server hold. */
  storeLimits?: Partial<StoreLimits>;
  /** Folders job data must resolve inside (then outputs must be inside `runsDir`); none: anywhere (loopback only, unless `insecure`). */
  dataRoots?: string[];
  log: Logger;
}

export interface RunningCoordinator {
  /** host:port of the gRPC server (coordinator and parameter server). */
  address: string;
  /** host:port of the parameter server's tensor port; empty: none. */
  tensorAddress: string;
  metrics: MetricsServer;
  coordinator: Coordinator;
  stop(): Promise<void>;
}

/** Starts the coordinator with its embedded parameter server and /metrics. */
export async function startCoordinator(config: CoordinatorConfig): Promise<RunningCoordinator> {
  if (!isLoopback(config.host) && !config.auth && !config.insecure) {
    throw new ArgumentError(`refusing to listen on ${config.host} without --auth-token-file: anyone who reaches the port could list and cancel jobs, read their specs and join as a worker; give a token, or --insecure to accept that`);
  }
  if (!isLoopback(config.host) && (config.dataRoots ?? []).length === 0 && !config.insecure) {
    throw new ArgumentError(`refusing to listen on ${config.host} without --data-root: a job could read any file the coordinator can and write its output anywhere; name the data folders, or --insecure to accept that`);
  }
  const registry = createRegistry('coordinator');
  const bus: EventBus = config.natsUrl ? await NatsBus.connect(config.natsUrl, config.log) : new InProcessBus();
  const psMetrics = new PsMetrics(registry);
  const store = new ParameterStore({ onUpdate: (job, _key, seconds) => psMetrics.updateSeconds.observe({ job_id: jobOfTable(job) }, seconds) },
    { ...DEFAULT_STORE_LIMITS, ...config.storeLimits });

  const paths = await pathPolicy(config.dataRoots ?? [], config.runsDir);
  // Uploads go where jobs may read: the first data root, else the state folder.
  const uploads = new UploadStore(uploadsDir(paths, resolve(config.stateDir)), maxDataBytes);
  const coordinator = new Coordinator(
    {
      stateDir: resolve(config.stateDir), runsDir: resolve(config.runsDir), leaseMs: config.leaseMs, log: config.log, registry, bus,
      stepTimeoutMs: config.stepTimeoutMs ?? 0, finishTimeoutMs: config.finishTimeoutMs ?? 600_000, rejoinTimeoutMs: config.rejoinTimeoutMs ?? 60_000,
      paths, maxModelParams: config.maxModelParams ?? 100_000_000,
      maxWorkersPerJob: config.maxWorkersPerJob ?? 64,
      metricsRetentionMs: config.metricsRetentionMs ?? 600_000, forgetJobSeries: (job) => psMetrics.forget(job),
    },
    store,
  );
  // Records and checkpoints load before the port opens: a client reconnecting
  // after a restart never meets a coordinator that does not know its job yet.
  await coordinator.start();
  const server = new grpc.Server({ ...channelOptions(config.maxMessageBytes), ...(config.auth ? { interceptors: [authInterceptor(config.auth)] } : {}) });
  const credentials = config.tls
    ? grpc.ServerCredentials.createSsl(config.tls.ca ?? null, [{ private_key: config.tls.key, cert_chain: config.tls.cert }], config.tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  server.addService(coordinatorService, coordinatorHandlers(coordinator, uploads));
  const ps = parameterServer(store, psMetrics);
  server.addService(parameterServerService, ps.handlers);
  const listenAt = `${formatHost(config.host)}:${config.port}`;
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync(listenAt, credentials, (err, p) => (err ? fail(listenError(listenAt, err)) : ok(p))),
  );
  widenServerWindows(server, FLOW_CONTROL_WINDOW_BYTES);
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  const advertised = config.advertiseHost || (wildcard ? hostname() : config.host);
  const address = `${formatHost(advertised)}:${port}`;
  let tensors: TensorPort | null = null;
  let metrics: MetricsServer;
  try {
    if (config.tensorPort !== null) {
      tensors = await serveTensorPort({
        host: config.host, port: config.tensorPort ?? 0, tls: config.tls, auth: config.auth, maxMessageBytes: config.maxMessageBytes, exchangeStep: ps.exchangeStep,
      });
    }
    coordinator.serveAt(address, tensors ? `${formatHost(advertised)}:${tensors.port}` : '');
    // The dashboard shares the metrics port; with tokens its API takes a client's.
    const clientTokens = (config.auth?.tokens ?? []).filter((t) => t.roles.includes('client')).map((t) => t.token);
    metrics = await serveMetrics(registry, config.host, config.metricsPort, dashboardRoutes({
      jobs: () => coordinator.list(), job: (id) => coordinator.find(id), workers: () => coordinator.workerViews(),
    }, clientTokens));
  } catch (err) {
    // A port that cannot be had stops what started before it, so an embedding process keeps nothing running.
    await coordinator.stop();
    server.forceShutdown();
    await tensors?.close();
    await bus.close();
    throw err;
  }
  const tensorAddress = tensors ? `${formatHost(advertised)}:${tensors.port}` : '';

  return {
    address,
    tensorAddress,
    metrics,
    coordinator,
    async stop() {
      await coordinator.stop();
      // Task and watch streams never end on their own: cut them.
      server.forceShutdown();
      await tensors?.close();
      await metrics.close();
      await bus.close();
    },
  };
}

/** The folder uploaded data files go to: `uploads/` in the first data root (so jobs may read them), else in the state folder. */
export function uploadsDir(paths: PathPolicy, stateDir: string): string {
  return join(paths.dataRoots[0] ?? stateDir, 'uploads');
}

/** grpc-js's bind failure ("No address added out of total 1 resolved errors: [listen EADDRINUSE: …]") as one plain sentence. */
function listenError(address: string, err: Error): TfleetError {
  const inner = /errors: \[(.*)\]$/s.exec(err.message)?.[1] ?? err.message;
  return new TfleetError('UNAVAILABLE', `cannot serve gRPC on ${address}: ${inner.replace(/^listen /, '')}`, { cause: err });
}
