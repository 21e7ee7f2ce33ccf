import { describe, expect, it } from 'vitest';
import { OptionSpec, resolveOptions } from '../../../shared/config/options';

const SPECS: OptionSpec[] = [
  { flag: 'workers', type: 'integer', min: 1, max: 64, default: 3, help: 'Workers.' },
  { flag: 'offset', type: 'integer', min: -10, max: 10, default: 0, help: 'An offset.' },
  { flag: 'wait', type: 'boolean', help: 'Wait.' },
];
const resolve = (argv: string[]) => resolveOptions(SPECS, argv, {});

describe('command-line options', () => {
  it('take a negative value after a space, checked against its range', () => {
    expect(resolve(['--offset', '-4']).values.offset).toBe(-4);
    expect(resolve(['--offset', '-4', '--wait']).values.wait).toBe(true);
    expect(() => resolve(['--workers', '-1'])).toThrow("--workers must be an integer in 1..64, got '-1'");
    expect(() => resolve(['--offset', '-.5'])).toThrow("--offset must be an integer in -10..10, got '-.5'");
  });

  it('leave every token after -- a positional', () => {
    expect(resolve(['--', '--offset', '-4']).positionals).toEqual(['--offset', '-4']);
  });

  it('name a mistyped flag with the nearest one, past a negative value', () => {
    expect(() => resolve(['--offset', '-4', '--wiat'])).toThrow("unknown option '--wiat' (did you mean --wait?); try --help");
    expect(() => resolve(['--workrs=2'])).toThrow("unknown option '--workrs' (did you mean --workers?); try --help");
    expect(() => resolve(['--zzzzzz'])).toThrow(/^unknown option '--zzzzzz'; try --help$/);
  });
});
