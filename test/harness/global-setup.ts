import { spawnSync } from 'node:child_process';

/** Whether a program is on PATH. */
function has(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs once before the suite: the integration tests need Debian's
 * nats-server. Where it is missing, root with apt installs it; anyone else
 * is told at once what to install, instead of every NATS test failing with
 * `spawn nats-server ENOENT`.
 */
export default function setup(): void {
  if (has('nats-server')) return;
  if (process.getuid?.() === 0 && has('apt-get')) {
    process.stderr.write('test setup: nats-server is missing; installing Debian\'s package (apt-get install nats-server)\n');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'nats-server'], { stdio: 'inherit', env }) : update;
    if (install.status === 0 && has('nats-server')) return;
  }
  throw new Error('the integration tests need nats-server on PATH: install Debian\'s package (sudo apt-get install nats-server), or run bash .ci/run, which installs everything');
}
