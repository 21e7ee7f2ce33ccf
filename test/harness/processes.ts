import { ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { CLI } from './paths';

/** A spawned process with its captured output. */
export interface Proc {
  proc: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Emits ('stdout' | 'stderr', line) for every line. */
  lines: EventEmitter;
  /** Resolves with the exit code (or signal) once it exits. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();

/** Kills every process the harness started; call from afterAll/afterEach. */
export async function killAll(): Promise<void> {
  const waits = [...live].map((p) => new Promise<void>((r) => { if (p.exitCode !== null || p.signalCode !== null) r(); else { p.once('exit', () => r()); p.kill('SIGKILL'); } }));
  await Promise.all(waits);
  live.clear();
}

export function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(proc);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lines = new EventEmitter();
  createInterface({ input: proc.stdout! }).on('line', (l) => { stdout.push(l); lines.emit('line', 'stdout', l); });
  createInterface({ input: proc.stderr! }).on('line', (l) => { stderr.push(l); lines.emit('line', 'stderr', l); });
  // 'close' comes after the output streams ended, so every line has been seen.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('close', (code, signal) => { live.delete(proc); resolve({ code, signal }); }));
  return { proc, stdout, stderr, lines, exit };
}

/**
 * Waits until a line of the process's output satisfies `match`, racing its
 * exit and a timeout; the failure message carries the process's stderr.
 */
export function waitForLine(p: Proc, stream: 'stdout' | 'stderr', match: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const lines = p[stream];
  const found = lines.find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    let settled = false;
    const onLine = (which: string, l: string): void => { if (which === stream && match(l)) done(() => resolve(l)); };
    const done = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      p.lines.off('line', onLine);
      fn();
    };
    const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms; stderr:\n${p.stderr.join('\n')}`))), timeoutMs);
    p.lines.on('line', onLine);
    p.exit.then(({ code, signal }) => done(() => reject(new Error(`process exited (code ${code}, signal ${signal}) before the line came; stderr:\n${p.stderr.join('\n')}`))));
  });
}

export interface Ready {
  pid: number;
  grpc?: string;
  tensors?: string;
  metrics: string;
  id?: string;
  name?: string;
  backend?: string;
}

/** Starts `tfleet ARGS` and waits for its readiness line. */
export async function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc & { ready: Ready }> {
  const p = start(process.execPath, [CLI, ...args], env);
  const line = await waitForLine(p, 'stdout', (l) => l.startsWith('{') && l.includes('"event":"ready"'));
  return { ...p, ready: JSON.parse(line) as Ready };
}

/** Runs `tfleet ARGS` to completion. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(process.execPath, [CLI, ...args], env);
  const { code } = await p.exit;
  return { code, stdout: p.stdout.join('\n'), stderr: p.stderr.join('\n') };
}

/** Starts a real nats-server on a free loopback port. */
export async function startNats(): Promise<Proc & { url: string }> {
  const p = start('nats-server', ['-a', '127.0.0.1', '-p', '-1']);
  const line = await waitForLine(p, 'stderr', (l) => l.includes('Listening for client connections on'));
  await waitForLine(p, 'stderr', (l) => l.includes('Server is ready'));
  const addr = line.split('Listening for client connections on ')[1].trim();
  return { ...p, url: `nats://${addr}` };
}

/**
 * A coordinator and `workers` worker processes of the real CLI, state under
 * `dir`; resolves with the coordinator's gRPC address. `killAll` stops them.
 */
export async function startCliFleet(dir: string, workers: number, backend: 'cpu' | 'wasm'): Promise<string> {
  const coordinator = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs')]);
  const addr = coordinator.ready.grpc!;
  await Promise.all(Array.from({ length: workers }, (_, i) => startCli(['worker', '--coordinator', addr, '--metrics-port', '0', '--backend', backend, '--name', `w${i + 1}`])));
  return addr;
}

/** A loopback port nothing listens on now (for a process that must come back on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
