/**
 * One `model.fit` process of cnn-train's host ceiling: `BACKEND NET IMAGES
 * EPOCHS`. Prints `ready` once its data and model are built, trains when a
 * line arrives on stdin (epochs 2..EPOCHS timed, then one untimed epoch),
 * and prints its window as JSON.
 */
import { createInterface } from 'node:readline';
import { Backend, Net, fitWindow } from './model-fit';

const BACKENDS: readonly string[] = ['native', 'wasm', 'cpu'];
const NETS: readonly string[] = ['cnn', 'mlp'];

async function main(): Promise<void> {
  const [backend, net, images, epochs] = process.argv.slice(2);
  if (!BACKENDS.includes(backend) || !NETS.includes(net) || !(Number(images) > 0) || !(Number(epochs) >= 2)) {
    throw new Error(`usage: fit-process ${BACKENDS.join('|')} ${NETS.join('|')} IMAGES EPOCHS≥2, got ${process.argv.slice(2).join(' ')}`);
  }
  const go = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const window = await fitWindow(backend as Backend, net as Net, Number(images), Number(epochs), async () => {
    process.stdout.write('ready\n');
    // The parent gone before the start line: nothing to train for.
    if ((await go.next()).done) process.exit(1);
  }, 1);
  process.stdout.write(`${JSON.stringify(window)}\n`);
  process.exit(0);
}

main().catch((err: Error) => {
  process.stderr.write(`fit-process: ${err.message}\n`);
  process.exit(1);
});
