import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths';

/** The deploy/ folder of the checkout. */
export const DEPLOY = join(ROOT, 'deploy');

/** Every .yaml and .yml file under `dir`, recursively. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(e.name) ? [path] : [];
  });
}
