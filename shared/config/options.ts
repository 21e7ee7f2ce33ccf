import { parseArgs } from 'node:util';
import { ArgumentError } from '../errors';

/** One option of a command: its flag, env variable, type and default. */
export interface OptionSpec {
  /** Flag name without dashes, kebab-case: `metrics-port`. */
  flag: string;
  type: 'string' | 'integer' | 'boolean' | 'choice';
  /** Environment variable that sets it, e.g. `TFLEET_METRICS_PORT`. */
  env?: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** May be given more than once (collects a list). */
  multiple?: boolean;
  help: string;
}

export type OptionValues = Record<string, string | number | boolean | string[] | undefined>;

function convert(spec: OptionSpec, raw: string, source: string): string | number | boolean {
  switch (spec.type) {
    case 'integer': {
      const n = Number(raw);
      if (!Number.isInteger(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        const range = `${spec.min ?? '-∞'}..${spec.max ?? '∞'}`;
        throw new ArgumentError(`${source} must be an integer in ${range}, got '${raw}'`);
      }
      return n;
    }
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ArgumentError(`${source} must be true or false, got '${raw}'`);
    case 'choice':
      if (!spec.choices!.includes(raw)) throw new ArgumentError(`${source} must be one of ${spec.choices!.join(', ')}, got '${raw}'`);
      return raw;
    default:
      return raw;
  }
}

/**
 * Resolves a command's options: defaults < environment < flags. Unknown
 * flags and bad values fail naming the flag or variable. Only this module
 * reads the environment, through the `env` argument.
 *
 * @example
 * resolveOptions(COORDINATOR_OPTIONS, ['--port', '0'], process.env)
 */
export function resolveOptions(
  specs: readonly OptionSpec[],
  argv: readonly string[],
  env: Record<string, string | undefined>,
): { values: OptionValues; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  const args = joinNegativeValues(specs, argv);
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(specs.map((s) => [s.flag, { type: s.type === 'boolean' ? 'boolean' : 'string', multiple: s.multiple ?? false }])),
    });
  } catch (err) {
    throw new ArgumentError(`${parseFailure(err as Error & { code?: string }, specs)}; try --help`, { cause: err });
  }
  const values: OptionValues = {};
  for (const s of specs) {
    let value: OptionValues[string] = s.default;
    if (s.env && env[s.env] !== undefined && env[s.env] !== '') value = convert(s, env[s.env]!, `environment variable ${s.env}`);
    const flag = parsed.values[s.flag];
    if (flag !== undefined) {
      if (s.multiple) value = flag as string[];
      else value = typeof flag === 'boolean' ? flag : convert(s, flag as string, `--${s.flag}`);
    }
    values[s.flag] = value;
  }
  return { values, positionals: parsed.positionals };
}

/**
 * `--workers -1` as `--workers=-1`: parseArgs reads a value that starts
 * with '-' as another option, and the range check, which names the flag
 * and the value, never ran.
 */
function joinNegativeValues(specs: readonly OptionSpec[], argv: readonly string[]): string[] {
  const takesValue = new Set(specs.filter((s) => s.type !== 'boolean').map((s) => `--${s.flag}`));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    // After '--' every token is a positional, as parseArgs reads them.
    if (argv[i] === '--') return [...out, ...argv.slice(i)];
    if (takesValue.has(argv[i]) && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** parseArgs's refusal in our words: an unknown flag with the nearest known one. */
function parseFailure(err: Error & { code?: string }, specs: readonly OptionSpec[]): string {
  if (err.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return err.message.split('\n')[0];
  // parseArgs names the token it refused.
  const unknown = /^Unknown option '([^']+)'/.exec(err.message)?.[1];
  if (unknown === undefined) return err.message.split('\n')[0];
  const flags = specs.map((s) => s.flag);
  const name = unknown.replace(/^--?/, '');
  const near = flags.filter((f) => editDistance(f, name) <= 2).sort((a, b) => editDistance(a, name) - editDistance(b, name))[0];
  return `unknown option '${unknown.slice(0, 40)}'${near ? ` (did you mean --${near}?)` : ''}`;
}

/** Levenshtein distance, for suggesting a flag. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** `--help` text generated from the same specs. */
export function helpText(usage: string, specs: readonly OptionSpec[]): string {
  const lines = [`usage: ${usage}`, '', 'options:'];
  for (const s of specs) {
    const flag = `--${s.flag}${s.type === 'boolean' ? '' : ` ${s.type === 'choice' ? s.choices!.join('|') : s.type === 'integer' ? 'N' : 'VALUE'}`}`;
    // An empty default (a flag that is off unless given) says nothing worth printing.
    const shown = s.default !== undefined && s.default !== '' && !(Array.isArray(s.default) && s.default.length === 0);
    const extra = [shown ? `default ${s.default}` : '', s.env ? `env ${s.env}` : ''].filter(Boolean).join('; ');
    lines.push(`  ${flag.padEnd(34)} ${s.help}${extra ? ` (${extra})` : ''}`);
  }
  return lines.join('\n');
}
