import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { runCli } from '../harness/processes';

describe('the CLI itself', () => {
  it('prints its version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-V', 'version']) {
      const res = await runCli([flag]);
      expect(res.code).toBe(0);
      expect(res.stdout).toBe(`tfleet ${version}`);
    }
  });

  it('takes -h on every command, and prints no empty defaults', async () => {
    for (const command of ['coordinator', 'worker', 'up', 'submit', 'watch', 'jobs', 'status', 'cancel', 'predict', 'recommend', 'demo']) {
      const res = await runCli([command, '-h']);
      expect(res.code, `${command}: ${res.stderr}`).toBe(0);
      expect(res.stdout.startsWith(`usage: tfleet ${command}`)).toBe(true);
      expect(res.stdout).not.toMatch(/\(default ;|default \)/);
    }
  });
});
