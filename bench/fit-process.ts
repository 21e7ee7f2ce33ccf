/**
 * One `model.fit` process of cnn-train's host ceiling: `BACKEND NET IMAGES
 * EPOCHS`. Prints `ready` once its data and model are built, trains when a
 * line arrives on stdin, and prints its timed window as JSON.
 */
import { createInterface } from 'node:readline';
import { Backend, Net, fitWindow } from './model-fit';

async function main(): Promise<void> {
  const [backend, net, images, epochs] = process.argv.slice(2);
  const go = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const window = await fitWindow(backend as Backend, net as Net, Number(images), Number(epochs), async () => {
    process.stdout.write('ready\n');
    await go.next();
  });
  process.stdout.write(`${JSON.stringify(window)}\n`);
  process.exit(0);
}

void main();
