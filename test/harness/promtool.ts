import { spawnSync } from 'node:child_process';

/**
 * Prometheus's own checker, from Debian's `prometheus` package (.ci/run
 * installs it). Tests that need it skip with {@link PROMTOOL_MISSING} as
 * their reason where it is absent.
 */
export const PROMTOOL_PRESENT = spawnSync('sh', ['-c', 'command -v promtool'], { stdio: 'ignore' }).status === 0;

export const PROMTOOL_MISSING = 'promtool is not on PATH (Debian\'s prometheus package provides it: apt-get install prometheus, or bash .ci/run)';

/** What one `promtool ARGS` run printed, and its exit status (0 ok, 1 error, 3 lint problems). */
export interface PromtoolResult {
  status: number | null;
  output: string;
}

/** Runs `promtool ARGS`, feeding `input` on stdin when given. */
export function promtool(args: string[], input?: string): PromtoolResult {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * The families of a Prometheus text exposition whose names start with
 * `prefix`: their `# HELP`/`# TYPE` lines and samples, in order.
 */
export function familiesWithPrefix(exposition: string, prefix: string): string {
  return exposition.split('\n').filter((line) => {
    const name = line.startsWith('# ') ? line.split(' ')[2] ?? '' : line;
    return name.startsWith(prefix);
  }).join('\n') + '\n';
}
