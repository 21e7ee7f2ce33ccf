#!/usr/bin/env node
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingNodeFlags } from '../shared/node-flags';
import { OptionSpec, OptionValues, helpText, resolveOptions } from '../shared/config/options';
import { ArgumentError, TfleetError, errorMessage } from '../shared/errors';
import { LOG_FORMATS, LOG_LEVELS, LogFormat, LogLevel, createLogger } from '../shared/log';
import { Client } from '../shared/sdk';
import { packageVersion } from '../shared/version';
import { ServerAuth, checkToken, configureClients, readTls, readToken } from '../shared/rpc/security';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../shared/rpc/services';
import { routeGrpcLogs } from '../shared/rpc/grpc-log';
import { COORDINATOR_PORT, isConnectFailure, withCoordinatorPort } from '../shared/rpc/address';
import { BACKEND_CHOICES, BackendRequest } from '../worker/backends/names';
import { launchFleet } from './fleet';
import { JobJson, describeJob, jobsTable, metricLine, progressLine } from './format';
import { loadSpecFile } from './spec-file';

const LOG_LEVEL: OptionSpec = { flag: 'log-level', type: 'choice', choices: LOG_LEVELS, default: 'info', env: 'TFLEET_LOG_LEVEL', help: 'Log level of the lines on stderr.' };
const LOG_FORMAT: OptionSpec = { flag: 'log-format', type: 'choice', choices: LOG_FORMATS, default: 'auto', env: 'TFLEET_LOG_FORMAT', help: 'json: one JSON object a line; text: one short line for people; auto: text on a terminal, else json.' };
const COORDINATOR_ADDR: OptionSpec = { flag: 'coordinator', type: 'string', default: `127.0.0.1:${COORDINATOR_PORT}`, env: 'TFLEET_COORDINATOR', help: `Coordinator address host:port (a bare host: port ${COORDINATOR_PORT}).` };
/** How a client or worker proves itself to the coordinator, and reaches it over TLS. */
const CLIENT_SECURITY: OptionSpec[] = [
  { flag: 'auth-token-file', type: 'string', env: 'TFLEET_AUTH_TOKEN_FILE', help: 'File holding the bearer token to send (else the TFLEET_AUTH_TOKEN variable, if set).' },
  { flag: 'tls-ca', type: 'string', env: 'TFLEET_TLS_CA', help: "Dial over TLS, trusting the coordinator's certificate when this CA (PEM) signed it." },
  { flag: 'tls-cert', type: 'string', env: 'TFLEET_TLS_CERT', help: 'Client certificate (PEM) for mutual TLS; with --tls-key.' },
  { flag: 'tls-key', type: 'string', env: 'TFLEET_TLS_KEY', help: "The client certificate's private key (PEM)." },
];
const CLIENT_OPTIONS: OptionSpec[] = [COORDINATOR_ADDR, ...CLIENT_SECURITY];

/**
 * Sets how this process's clients connect, from the security flags: a
 * token from --auth-token-file or TFLEET_AUTH_TOKEN, TLS from --tls-*.
 */
function configureClientSecurity(v: OptionValues): void {
  const file = v['auth-token-file'] as string | undefined;
  const token = file ? readToken(file, '--auth-token-file') : process.env.TFLEET_AUTH_TOKEN ? checkToken(process.env.TFLEET_AUTH_TOKEN, 'TFLEET_AUTH_TOKEN') : undefined;
  const files = { ca: v['tls-ca'] as string | undefined, cert: v['tls-cert'] as string | undefined, key: v['tls-key'] as string | undefined };
  const tls = files.ca || files.cert ? readTls(files, { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' }) : undefined;
  configureClients({ ...(token ? { token } : {}), ...(tls ? { tls } : {}) });
}

/** --data-root flags, or TFLEET_DATA_ROOTS split at colons. */
function dataRootsOf(value: OptionValues[string]): string[] {
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? value.split(':').filter(Boolean) : [];
}

/** The coordinator's tokens and TLS from its flags. */
function serverSecurity(v: OptionValues): { auth?: ServerAuth; tls?: { cert: Buffer; key: Buffer; ca?: Buffer }; insecure: boolean } {
  const main = v['auth-token-file'] ? readToken(v['auth-token-file'] as string, '--auth-token-file') : undefined;
  const worker = v['worker-token-file'] ? readToken(v['worker-token-file'] as string, '--worker-token-file') : undefined;
  if (worker && !main) throw new ArgumentError('--worker-token-file needs --auth-token-file too (the clients\' token)');
  const tokens: ServerAuth['tokens'] = [];
  if (main) tokens.push({ token: main, roles: worker ? ['client'] : ['client', 'worker'] });
  if (worker) tokens.push({ token: worker, roles: ['worker'] });
  const files = { ca: v['tls-ca'] as string | undefined, cert: v['tls-cert'] as string | undefined, key: v['tls-key'] as string | undefined };
  if (files.ca && !files.cert) throw new ArgumentError('--tls-ca needs --tls-cert and --tls-key: the coordinator serves TLS to check client certificates');
  const tls = files.cert ? readTls(files, { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' }) : undefined;
  return {
    ...(tokens.length > 0 ? { auth: { tokens } } : {}),
    ...(tls ? { tls: { cert: tls.cert!, key: tls.key!, ...(tls.ca ? { ca: tls.ca } : {}) } } : {}),
    insecure: v.insecure === true,
  };
}

const JSON_FLAG: OptionSpec = { flag: 'json', type: 'boolean', help: 'Print JSON instead of text.' };
const HELP: OptionSpec = { flag: 'help', type: 'boolean', help: 'Show this help.' };
const THREADS: OptionSpec = { flag: 'threads', type: 'integer', min: 1, max: 1024, env: 'TFLEET_THREADS', help: "oneDNN threads of the native backend (default: this host's cores)." };
const FLEET_COMMON: OptionSpec[] = [
  { flag: 'port', type: 'integer', min: 0, max: 65535, default: COORDINATOR_PORT, env: 'TFLEET_PORT', help: 'gRPC port (0 picks a free one).' },
  { flag: 'metrics-port', type: 'integer', min: 0, max: 65535, default: 9464, env: 'TFLEET_METRICS_PORT', help: 'Prometheus /metrics port (0 picks a free one).' },
  { flag: 'state-dir', type: 'string', default: '.tfleet', env: 'TFLEET_STATE_DIR', help: 'Folder for job records; they survive a restart.' },
  { flag: 'nats', type: 'string', default: '', env: 'TFLEET_NATS_URL', help: 'NATS URL for job and worker events (e.g. nats://127.0.0.1:4222); empty: in-process bus.' },
];

interface Command {
  usage: string;
  summary: string;
  options: OptionSpec[];
  run(values: OptionValues, positionals: string[]): Promise<number>;
}

const logFor = (component: string, v: OptionValues) => createLogger(component, {
  level: v['log-level'] as LogLevel,
  ...(v['log-format'] === 'auto' || v['log-format'] === undefined ? {} : { format: v['log-format'] as LogFormat }),
});

/**
 * Resolves on SIGINT or SIGTERM. Servers call it before they print their
 * readiness line: whoever reads that line may signal at once, and a signal
 * with no listener yet would kill the process by default (`up` would leave
 * its children running).
 */
const untilSignal = (): Promise<string> =>
  new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

function printReady(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event: 'ready', pid: process.pid, ...fields }) + '\n');
}

/** The coordinator's --tensor-port: given, or beside --port (a free one when that is 0); null for -1, none. */
function tensorPortOf(v: OptionValues): number | null {
  if (v['tensor-port'] === -1) return null;
  if (v['tensor-port'] !== undefined) return v['tensor-port'] as number;
  const grpc = v.port as number;
  return grpc === 0 || grpc === 65535 ? 0 : grpc + 1;
}

/** --coordinator as gRPC dials it: a bare host gets the coordinator's port. */
function coordinatorAddress(v: OptionValues): string {
  return withCoordinatorPort(v.coordinator as string);
}

/** Runs `fn` with an SDK client of the coordinator named by --coordinator, closing it after. */
async function withCoordinator<T>(v: OptionValues, fn: (client: Client) => Promise<T>): Promise<T> {
  const address = coordinatorAddress(v);
  const client = new Client({
    address, reconnectWithinMs: WATCH_RECONNECT_MS,
    onReconnect: (err, delayMs) => process.stderr.write(`lost the coordinator (${err.message}); reconnecting in ${delayMs} ms\n`),
  });
  try {
    return await fn(client);
  } catch (err) {
    // Only where nothing answered: a coordinator that ended a stream or refused TLS is running.
    if (err instanceof TfleetError && err.code === 'UNAVAILABLE' && isConnectFailure(err.message)) {
      throw new TfleetError('UNAVAILABLE', `${err.message} (is a coordinator running at ${address}? 'tfleet up' starts one)`, { cause: err });
    }
    throw err;
  } finally {
    client.close();
  }
}

/** How long a watch keeps reconnecting to a coordinator that went away (a restart takes seconds). */
const WATCH_RECONNECT_MS = 120_000;

/**
 * Prints a job's progress on stderr until it ends, reconnecting with
 * backoff when the coordinator restarts; prints the final record and
 * returns the exit code of its outcome.
 */
async function followJob(client: Client, id: string, json: boolean): Promise<number> {
  // A terminal gets one line rewritten in place (with speed and time left); anything else a plain line per change.
  const live = process.stderr.isTTY === true;
  let last = '';
  let final: JobJson | null = null;
  for await (const j of client.watch(id)) {
    const line = progressLine(j, live);
    if (line !== last) process.stderr.write(live ? `\r\x1b[2K${line}` : `${line}\n`);
    last = line;
    final = j;
  }
  if (live && last) process.stderr.write('\n');
  final ??= await client.get(id);
  process.stdout.write(json ? JSON.stringify(final) + '\n' : describeJob(final) + '\n');
  return final.state === 'succeeded' ? 0 : 1;
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new ArgumentError(`expected exactly one ${what}, got ${positionals.length}`);
  return positionals[0];
}

const commands: Record<string, Command> = {
  coordinator: {
    usage: 'tfleet coordinator [--host H] [--port 7070] [--metrics-port 9464] [--state-dir DIR] [--nats URL]',
    summary: 'Run the coordinator with its embedded parameter server.',
    options: [
      { flag: 'host', type: 'string', default: '127.0.0.1', env: 'TFLEET_HOST', help: 'Interface to listen on.' },
      ...FLEET_COMMON,
      { flag: 'tensor-port', type: 'integer', min: -1, max: 65535, env: 'TFLEET_TENSOR_PORT', help: "Port where workers' bucketed steps reach the parameter server as framed TCP, with gRPC's token and TLS (default: --port + 1, a free one when --port is 0; -1: none, they use gRPC)." },
      { flag: 'advertise-host', type: 'string', default: '', env: 'TFLEET_ADVERTISE_HOST', help: 'Host name workers dial for the parameter server (default: --host).' },
      { flag: 'runs-dir', type: 'string', default: 'runs', env: 'TFLEET_RUNS_DIR', help: "Parent folder of job outputs: a spec without 'output' writes to <runs-dir>/<name>-<job id>." },
      { flag: 'lease-ms', type: 'integer', min: 100, max: 600_000, default: 6000, env: 'TFLEET_LEASE_MS', help: 'A worker silent for this long is lost; its job goes on without it from the last checkpoint.' },
      { flag: 'step-timeout-ms', type: 'integer', min: 0, max: 86_400_000, default: 0, env: 'TFLEET_STEP_TIMEOUT_MS', help: "A member this far behind the others at a step or a round's end is evicted as stalled; 0: the larger of 60 s and 20 times the job's median step." },
      { flag: 'finish-timeout-ms', type: 'integer', min: 100, max: 86_400_000, default: 600_000, env: 'TFLEET_FINISH_TIMEOUT_MS', help: 'Time the other ranks have to evaluate and export after the first finished; a rank past it is evicted.' },
      { flag: 'auth-token-file', type: 'string', env: 'TFLEET_AUTH_TOKEN_FILE', help: 'Accept only calls carrying this bearer token (a file of one line, at least 16 characters). Required to listen beyond loopback, unless --insecure.' },
      { flag: 'worker-token-file', type: 'string', env: 'TFLEET_WORKER_TOKEN_FILE', help: "A separate token for workers: then only it may join, report and push, and --auth-token-file's token only submit, list, watch and cancel." },
      { flag: 'tls-cert', type: 'string', env: 'TFLEET_TLS_CERT', help: "Serve over TLS with this certificate (PEM); with --tls-key." },
      { flag: 'tls-key', type: 'string', env: 'TFLEET_TLS_KEY', help: "The certificate's private key (PEM)." },
      { flag: 'tls-ca', type: 'string', env: 'TFLEET_TLS_CA', help: 'Require client certificates signed by this CA (PEM): mutual TLS.' },
      { flag: 'insecure', type: 'boolean', env: 'TFLEET_INSECURE', help: 'Listen beyond loopback without a token or data roots (anyone who reaches the port can submit, cancel, join, and read any file the coordinator can).' },
      { flag: 'max-model-params', type: 'integer', min: 1, max: 4_000_000_000, default: 100_000_000, env: 'TFLEET_MAX_MODEL_PARAMS', help: "Refuse at submit a job whose model has more trainable parameters (counted from the spec and the data's shape: dense, cnn, rnn and transformer families)." },
      { flag: 'max-workers-per-job', type: 'integer', min: 1, max: 256, default: 64, env: 'TFLEET_MAX_WORKERS_PER_JOB', help: 'Refuse at submit a job asking for more workers.' },
      { flag: 'metrics-retention-ms', type: 'integer', min: 0, max: 2_592_000_000, default: 600_000, env: 'TFLEET_METRICS_RETENTION_MS', help: "How long a finished job's series stay on /metrics." },
      { flag: 'max-keys-per-job', type: 'integer', min: 1, max: 10_000_000, default: 65_536, env: 'TFLEET_MAX_KEYS_PER_JOB', help: 'Parameter-server keys a job may hold at once.' },
      { flag: 'max-job-values', type: 'integer', min: 1, max: 2 ** 36, default: 2 ** 30, env: 'TFLEET_MAX_JOB_VALUES', help: "Values (floats) a job's parameter-server keys may hold together." },
      { flag: 'max-data-bytes', type: 'integer', min: 1, max: 2 ** 40, default: 2 ** 31, env: 'TFLEET_MAX_DATA_BYTES', help: 'Largest data file the coordinator reads, in bytes (workers read the TFLEET_MAX_DATA_BYTES variable, same default).' },
      { flag: 'data-root', type: 'string', multiple: true, env: 'TFLEET_DATA_ROOTS', help: "A folder job data must resolve inside, after symlinks (repeatable; the variable is colon-separated); then every 'output' must be inside --runs-dir. Required to listen beyond loopback, unless --insecure." },
      { flag: 'rejoin-timeout-ms', type: 'integer', min: 0, max: 86_400_000, default: 60_000, env: 'TFLEET_REJOIN_TIMEOUT_MS', help: "How long a job left with fewer than its minWorkers waits for replacements before it fails." },
      { flag: 'max-message-bytes', type: 'integer', min: 1024, max: 1 << 30, default: DEFAULT_MAX_MESSAGE_BYTES, env: 'TFLEET_MAX_MESSAGE_BYTES', help: 'Largest gRPC message accepted.' },
      LOG_LEVEL, LOG_FORMAT, HELP,
    ],
    async run(v) {
      const signalled = untilSignal();
      const log = logFor('coordinator', v);
      routeGrpcLogs(log);
      // The data readers take their limit from the environment, in this process as in workers.
      process.env.TFLEET_MAX_DATA_BYTES = String(v['max-data-bytes']);
      // Loaded on demand: client commands should not pay for tfjs and the server at start-up.
      const { startCoordinator } = await import('../coordinator/main');
      const co = await startCoordinator({
        host: v.host as string, port: v.port as number, metricsPort: v['metrics-port'] as number, stateDir: v['state-dir'] as string,
        runsDir: v['runs-dir'] as string, natsUrl: v.nats as string, leaseMs: v['lease-ms'] as number,
        maxMessageBytes: v['max-message-bytes'] as number, advertiseHost: v['advertise-host'] as string, log,
        tensorPort: tensorPortOf(v),
        stepTimeoutMs: v['step-timeout-ms'] as number, finishTimeoutMs: v['finish-timeout-ms'] as number, rejoinTimeoutMs: v['rejoin-timeout-ms'] as number,
        ...serverSecurity(v), dataRoots: dataRootsOf(v['data-root']), maxModelParams: v['max-model-params'] as number,
        maxWorkersPerJob: v['max-workers-per-job'] as number, metricsRetentionMs: v['metrics-retention-ms'] as number,
        storeLimits: { maxKeysPerJob: v['max-keys-per-job'] as number, maxValuesPerJob: v['max-job-values'] as number },
      });
      log.info('coordinator serving', { grpc: co.address, tensors: co.tensorAddress || 'over gRPC', metrics: co.metrics.url });
      const missing = missingNodeFlags();
      if (missing.length > 0) log.info('started without the recommended node flags: the parameter server will spend more time in garbage collection', { flags: missing.join(' ') });
      printReady({ component: 'coordinator', grpc: co.address, tensors: co.tensorAddress, metrics: co.metrics.url });
      const signal = await signalled;
      log.info('stopping', { signal });
      await co.stop();
      return 0;
    },
  },

  worker: {
    usage: 'tfleet worker --coordinator HOST:PORT [--metrics-port P] [--backend auto|tensorflow|native|wasm|cpu] [--threads N] [--name NAME]',
    summary: 'Run one worker: it registers with the coordinator and trains the shards it is given.',
    options: [
      ...CLIENT_OPTIONS,
      { flag: 'metrics-host', type: 'string', default: '127.0.0.1', env: 'TFLEET_METRICS_HOST', help: 'Interface for /metrics.' },
      { flag: 'metrics-port', type: 'integer', min: 0, max: 65535, default: 0, env: 'TFLEET_WORKER_METRICS_PORT', help: 'Prometheus /metrics port (0 picks a free one).' },
      { flag: 'backend', type: 'choice', choices: BACKEND_CHOICES, default: 'auto', env: 'TFLEET_BACKEND', help: 'tfjs backend; auto picks tensorflow, then native, then wasm, then cpu.' },
      THREADS,
      { flag: 'name', type: 'string', env: 'TFLEET_WORKER_NAME', help: 'Worker name (default <hostname>-<pid>).' },
      LOG_LEVEL, LOG_FORMAT, HELP,
    ],
    async run(v) {
      const signalled = untilSignal();
      const log = logFor('worker', v);
      routeGrpcLogs(log);
      const missing = missingNodeFlags();
      if (missing.length > 0) log.info('started without the recommended node flags: the worker will spend more time in garbage collection', { flags: missing.join(' ') });
      const { defaultWorkerName, startWorker } = await import('../worker/main');
      const worker = await startWorker({
        coordinator: coordinatorAddress(v), metricsHost: v['metrics-host'] as string, metricsPort: v['metrics-port'] as number,
        backend: v.backend as BackendRequest, threads: v.threads as number | undefined, name: (v.name as string | undefined) ?? defaultWorkerName(), log,
        onReady: (info) => printReady({ component: 'worker', id: info.id, name: info.name, backend: info.backend.name, metrics: info.metricsUrl }),
      });
      const ended = await Promise.race([signalled, worker.refused]);
      if (ended instanceof Error) {
        await worker.stop();
        throw ended;
      }
      log.info('stopping', { signal: ended });
      await worker.stop();
      return 0;
    },
  },

  up: {
    usage: 'tfleet up [--workers N] [--port 7070] [--metrics-port 9464] [--state-dir DIR] [--nats URL] [--log-level L] [--log-format json|text|auto]',
    summary: 'Start a coordinator and N workers on this host; SIGINT or SIGTERM stops them all.',
    options: [
      { flag: 'workers', type: 'integer', min: 1, max: 64, default: 3, help: 'Worker processes to start.' },
      ...FLEET_COMMON,
      { flag: 'backend', type: 'choice', choices: BACKEND_CHOICES, default: 'auto', env: 'TFLEET_BACKEND', help: "Workers' tfjs backend." },
      { ...THREADS, help: "Each worker's oneDNN threads (native backend; default: this host's cores but one, divided by --workers)." },
      { ...LOG_LEVEL, help: 'Log level of every process.' }, { ...LOG_FORMAT, help: `Every process's log lines: ${LOG_FORMAT.help}` },
      HELP,
    ],
    async run(v) {
      const signalled = untilSignal();
      const fleet = await launchFleet({
        workers: v.workers as number, port: v.port as number, metricsPort: v['metrics-port'] as number,
        stateDir: v['state-dir'] as string, natsUrl: v.nats as string, backend: v.backend as string,
        threads: v.threads as number | undefined, logLevel: v['log-level'] as string, logFormat: v['log-format'] as string,
      });
      const out = (s: string): boolean => process.stdout.write(s + '\n');
      out(`coordinator  grpc ${fleet.coordinator.ready.grpc}  metrics ${fleet.coordinator.ready.metrics}  pid ${fleet.coordinator.ready.pid}`);
      for (const w of fleet.workers) out(`worker       ${w.ready.name}  backend ${w.ready.backend}  metrics ${w.ready.metrics}  pid ${w.ready.pid}`);
      out(`ready: submit with  npx tfleet submit JOB.json --coordinator ${fleet.coordinator.ready.grpc} --wait`);
      const lost = new Promise<string>((resolve) => fleet.coordinator.proc.once('exit', () => resolve('coordinator exited')));
      const reason = await Promise.race([signalled, lost]);
      process.stderr.write(`tfleet up: stopping (${reason})\n`);
      await fleet.stop();
      return reason === 'coordinator exited' ? 1 : 0;
    },
  },

  submit: {
    usage: 'tfleet submit JOB.json [--coordinator HOST:PORT] [--set key.path=VALUE]... [--upload] [--queue-timeout S] [--wait] [--json]',
    summary: 'Submit a job; with --wait, follow it and exit 0 only if it succeeded.',
    options: [
      ...CLIENT_OPTIONS,
      { flag: 'set', type: 'string', multiple: true, help: 'Override one spec field; VALUE is parsed as JSON when it parses, else a string.' },
      { flag: 'wait', type: 'boolean', help: 'Follow progress on stderr until the job ends.' },
      { flag: 'upload', type: 'boolean', help: "Upload the spec's data files to the coordinator first (checked by SHA-256, kept once) and submit the spec naming them there: for a coordinator that cannot read this machine's files." },
      { flag: 'queue-timeout', type: 'integer', min: 1, max: 31_536_000, env: 'TFLEET_QUEUE_TIMEOUT', help: "Fail the job if it has not started after this many seconds in the queue (sets the spec's queueTimeoutSeconds)." },
      JSON_FLAG, HELP,
    ],
    async run(v, positionals) {
      const file = one(positionals, 'job spec file');
      const spec = loadSpecFile(file, (v.set as string[] | undefined) ?? [], process.cwd());
      if (v['queue-timeout'] !== undefined) (spec as Record<string, unknown>).queueTimeoutSeconds = v['queue-timeout'];
      return withCoordinator(v, async (client) => {
        const submitted = await client.submit(spec, {
          upload: v.upload === true,
          onUpload: (f) => process.stderr.write(`uploaded ${f.local} (${f.sizeBytes} bytes${f.stored ? '' : ', already there'}) as ${f.path}\n`),
        });
        if (!v.wait) {
          process.stdout.write(v.json ? JSON.stringify(submitted) + '\n' : `${submitted.id}\n`);
          return 0;
        }
        process.stderr.write(`submitted ${submitted.id} (${submitted.name})\n`);
        return followJob(client, submitted.id, v.json === true);
      });
    },
  },

  watch: {
    usage: 'tfleet watch ID [--coordinator HOST:PORT] [--json]',
    summary: "Follow a job's progress on stderr until it ends (across coordinator restarts); exit 0 only if it succeeded.",
    options: [...CLIENT_OPTIONS, JSON_FLAG, HELP],
    run: (v, positionals) => withCoordinator(v, (client) => followJob(client, one(positionals, 'job id'), v.json === true)),
  },

  jobs: {
    usage: 'tfleet jobs [--coordinator HOST:PORT] [--json]',
    summary: 'List jobs, oldest first.',
    options: [...CLIENT_OPTIONS, JSON_FLAG, HELP],
    run: (v) => withCoordinator(v, async (client) => {
      const jobs: JobJson[] = await client.list();
      process.stdout.write((v.json ? JSON.stringify(jobs) : jobsTable(jobs)) + '\n');
      return 0;
    }),
  },

  status: {
    usage: 'tfleet status JOB_ID [--coordinator HOST:PORT] [--json]',
    summary: "Show one job's state, progress and metrics.",
    options: [...CLIENT_OPTIONS, JSON_FLAG, HELP],
    run: (v, positionals) => withCoordinator(v, async (client) => {
      const job = await client.get(one(positionals, 'job id'));
      process.stdout.write((v.json ? JSON.stringify(job) : describeJob(job, 5)) + '\n');
      return 0;
    }),
  },

  cancel: {
    usage: 'tfleet cancel JOB_ID [--coordinator HOST:PORT] [--json]',
    summary: 'Cancel a queued or running job.',
    options: [...CLIENT_OPTIONS, JSON_FLAG, HELP],
    run: (v, positionals) => withCoordinator(v, async (client) => {
      const job = await client.cancel(one(positionals, 'job id'));
      const finished = job.state === 'succeeded' || job.state === 'failed' ? ' (it had already finished: nothing to cancel)' : '';
      process.stdout.write((v.json ? JSON.stringify(job) : `${job.id} ${job.state}${finished}`) + '\n');
      return 0;
    }),
  },

  predict: {
    usage: 'tfleet predict --model DIR --input FILE [--json] [--backend auto|tensorflow|native|wasm|cpu]',
    summary: "Predict the rows of a file with a trained model (read like the model's training data).",
    options: [
      { flag: 'model', type: 'string', help: "A trained model's folder (a job's output)." },
      { flag: 'input', type: 'string', help: 'Rows to predict: csv, jsonl, or an IDX images file, as the model was trained on.' },
      { flag: 'backend', type: 'choice', choices: BACKEND_CHOICES, default: 'auto', env: 'TFLEET_BACKEND', help: 'tfjs backend.' },
      JSON_FLAG, HELP,
    ],
    async run(v) {
      if (!v.model) throw new ArgumentError('--model DIR is required');
      if (!v.input) throw new ArgumentError('--input FILE is required');
      const [{ selectBackend }, { loadPredictor }] = await Promise.all([import('../worker/backends/select'), import('../shared/predict')]);
      await selectBackend(v.backend as BackendRequest);
      const predictor = await loadPredictor(v.model as string);
      let predictions;
      try {
        predictions = predictor.predict(await predictor.readInput(v.input as string));
      } finally {
        predictor.dispose();
      }
      // String labels print as their class names.
      const names = predictor.meta.classNames;
      const named = names ? predictions.map((p) => ('label' in p ? { ...p, label: names[p.label] } : p)) : predictions;
      if (v.json) {
        process.stdout.write(JSON.stringify({ model: v.model, input: v.input, rows: named.length, predictions: named }) + '\n');
      } else {
        process.stdout.write(named.map((p) => ('label' in p ? String(p.label) : String(p.value))).join('\n') + '\n');
      }
      return 0;
    },
  },

  recommend: {
    usage: 'tfleet recommend --model DIR --user ID [--top 10] [--items FILE] [--json]',
    summary: 'The top items a trained recommender (mf, baseline, knn) gives a user, leaving out what the user rated.',
    options: [
      { flag: 'model', type: 'string', help: "A trained recommender's folder (a job's output)." },
      { flag: 'user', type: 'string', help: 'The user id as the ratings file writes it.' },
      { flag: 'top', type: 'integer', min: 1, max: 100000, default: 10, help: 'How many items.' },
      { flag: 'items', type: 'string', default: '', help: "Item titles: MovieLens 'u.item', 'movies.csv' or 'movies.dat'." },
      JSON_FLAG, HELP,
    ],
    async run(v) {
      if (!v.model) throw new ArgumentError('--model DIR is required');
      if (!v.user) throw new ArgumentError('--user ID is required');
      const { recommend, recommendationsText } = await import('./recommend');
      const r = await recommend(v.model as string, v.user as string, v.top as number, (v.items as string) || undefined);
      process.stdout.write(v.json ? JSON.stringify(r) + '\n' : recommendationsText(r));
      return 0;
    },
  },

  demo: {
    usage: 'tfleet demo [--workers 3]',
    summary: 'Start a local fleet on free ports, train the wine softmax example on it, print its test metrics, stop.',
    options: [
      { flag: 'workers', type: 'integer', min: 1, max: 16, default: 3, help: 'Worker processes.' },
      { flag: 'example', type: 'string', default: join(__dirname, '..', '..', 'examples', 'wine-softmax.json'), help: 'Job spec to run.' },
      HELP,
    ],
    async run(v) {
      // The job runs on the demo's fleet, however many workers the example asks for; a demo run
      // again replaces the model the last one wrote (never a folder of anything else).
      // Read before any process starts: a mistyped --example fails at once.
      const spec = { ...loadSpecFile(v.example as string, [], process.cwd()), workers: v.workers as number, overwrite: true };
      // A fresh state folder: a demo never resumes jobs an earlier one left behind.
      const stateDir = mkdtempSync(join(tmpdir(), 'tfleet-demo-'));
      // Quiet children: the demo's output is its result.
      const fleet = await launchFleet({ workers: v.workers as number, port: 0, metricsPort: 0, stateDir, natsUrl: '', backend: 'auto', logLevel: 'warn' });
      const client = new Client({ address: fleet.coordinator.ready.grpc! });
      try {
        process.stderr.write(`demo fleet: coordinator ${fleet.coordinator.ready.grpc}, ${fleet.workers.length} workers (${fleet.workers.map((w) => w.ready.backend).join(', ')})\n`);
        const submitted = await client.submit(spec);
        let final = submitted;
        // One line rewritten in place on a terminal; nothing elsewhere (a log has no use for it).
        const live = process.stderr.isTTY === true;
        let shown = 0;
        for await (const r of client.watch(submitted.id)) {
          if (live && r.state === 'running' && r.epoch > shown) process.stderr.write(`\repoch ${(shown = r.epoch)}/${r.epochs}`);
          final = r;
        }
        if (live) process.stderr.write('\n');
        process.stdout.write(describeJob(final) + '\n');
        return final.state === 'succeeded' ? 0 : 1;
      } finally {
        client.close();
        await fleet.stop();
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  },
};

function usage(): string {
  const lines = ['usage: tfleet <command> [options]   (tfleet <command> -h for its options; tfleet --version)', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...given] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`tfleet ${packageVersion()}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) throw new ArgumentError(`unknown command '${name}' (commands: ${Object.keys(commands).join(', ')}; --version, --help)`);
  // -h is --help on every command.
  const rest = given.map((a) => (a === '-h' ? '--help' : a));
  const { values, positionals } = resolveOptions(command.options, rest, process.env);
  if (values.help) {
    process.stdout.write(helpText(command.usage, command.options) + '\n');
    return 0;
  }
  if (command.options.includes(COORDINATOR_ADDR)) configureClientSecurity(values);
  return command.run(values, positionals);
}

/** Exits once stdout has taken everything written: on a pipe, process.exit alone cuts a large output short. */
function exitAfterOutput(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (err) => {
    process.stderr.write(`tfleet: ${err instanceof TfleetError ? err.message : errorMessage(err)}\n`);
    exitAfterOutput(err instanceof ArgumentError ? 2 : 1);
  },
);
