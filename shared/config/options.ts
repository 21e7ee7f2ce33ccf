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
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(specs.map((s) => [s.flag, { type: s.type === 'boolean' ? 'boolean' : 'string', multiple: s.multiple ?? false }])),
    });
  } catch (err) {
    throw new ArgumentError(`${(err as Error).message.split('\n')[0]}; try --help`, { cause: err });
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
