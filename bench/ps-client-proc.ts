/**
 * One benchmark worker process: `ADDRESS JOB WORKER SIZE ROUNDS MODE TENSOR_ADDRESS`.
 * Pushes a SIZE-float gradient and pulls the parameters back every round,
 * fused as one call (`pushpull`), as two calls (`push+pull`), as one
 * message each way on the worker's exchange stream (`stream`) or as one
 * frame each way on the coordinator's tensor port (`port`), and prints
 * per-round times in ms as JSON.
 */
import { hostTensor } from '../shared/codec/host-tensor';
import { PsClient } from '../worker/ps/client';
import { PsStream } from '../worker/ps/stream';
import { TensorSocket } from '../worker/ps/tensor-socket';

async function main(): Promise<void> {
  const [address, jobId, workerId, sizeText, roundsText, mode, tensorAddress] = process.argv.slice(2);
  const size = Number(sizeText);
  const ps = new PsClient(address, jobId, workerId);
  const stream = new PsStream(address, jobId, workerId);
  const port = new TensorSocket(tensorAddress, jobId, workerId);
  const grad = new Map([['w', hostTensor([size], new Float32Array(size).fill(0.001))]]);
  let version = (await ps.pull(['w'], 0)).version;
  const times: number[] = [];
  for (let r = 0; r < Number(roundsText); r++) {
    const t0 = process.hrtime.bigint();
    if (mode === 'pushpull') {
      version = (await ps.pushPull(version, 1, grad)).version;
    } else if (mode === 'stream') {
      version = (await stream.pushPull(version, 1, grad)).version;
    } else if (mode === 'port') {
      version = (await port.pushPull(version, 1, grad)).version;
    } else {
      await ps.push(version, 1, grad);
      version = (await ps.pull(['w'], version + 1)).version;
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ps.close();
  stream.close();
  port.close();
  process.stdout.write(JSON.stringify({ times }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
