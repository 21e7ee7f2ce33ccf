import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..');
/** The compiled CLI that integration tests spawn (`npm test` builds it first). */
export const CLI = join(ROOT, 'dist', 'bin', 'tfleet.js');
/** Data sets provided beside the checkout for tests and benchmarks. */
export const SHARED_DATA = resolve(ROOT, '..', 'shared', 'data');
export const SKLEARN = join(SHARED_DATA, 'sklearn');

export function requireFile(path: string): string {
  if (!existsSync(path)) throw new Error(`test data missing: ${path} (tests read ../shared/data beside the checkout)`);
  return path;
}

/** Fashion-MNIST in IDX (gzip): train-* and t10k-* images and labels. */
export const FASHION_MNIST = join(SHARED_DATA, 'fashion-mnist');

export function fashionMnist(split: 'train' | 't10k'): { images: string; labels: string } {
  return {
    images: requireFile(join(FASHION_MNIST, `${split}-images-idx3-ubyte.gz`)),
    labels: requireFile(join(FASHION_MNIST, `${split}-labels-idx1-ubyte.gz`)),
  };
}
