import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The version in the package's manifest: one folder up from the sources, two from the compiled files. */
export function packageVersion(): string {
  for (const up of [['..'], ['..', '..']]) {
    try {
      const manifest = JSON.parse(readFileSync(join(__dirname, ...up, 'package.json'), 'utf8')) as { name?: string; version: string };
      if (manifest.name === 'tfleet') return manifest.version;
    } catch {
      // not there: try the next folder up
    }
  }
  return 'unknown';
}
