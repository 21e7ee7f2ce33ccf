/**
 * The parameter-server thread of a worker (Horovod's background thread):
 * it pushes each bucket of a step's statistic and pulls that bucket's new
 * values while the main thread goes on computing the rest of the step.
 * Messages are described in bucket-pipeline.ts.
 */
import { configureClients } from '../../shared/rpc/security';
import { parentPort, workerData } from 'node:worker_threads';
import { packTensors, packViews, unpackTensors } from '../../shared/codec/packed';
import { TfleetError } from '../../shared/errors';
import type { BucketReply, BucketRequest, BucketThreadData } from './bucket-pipeline';
import { Pulled, SplitExchange } from './stream';
import { TensorSocket } from './tensor-socket';

const port = parentPort!;
const { address, tensorAddress, jobId, workerId, security } = workerData as BucketThreadData;
configureClients(security);
const ps = tensorAddress ? new TensorSocket(tensorAddress, jobId, workerId, security) : new SplitExchange(address, jobId, workerId);

async function pushPullBucket(req: BucketRequest): Promise<BucketReply> {
  try {
    const { version, tensors, frame }: Pulled = await ps.pushPull(req.step, req.weight, unpackTensors(req.bucket));
    // Values that arrived as views of a frame of their own go to the main thread in it, uncopied.
    return { id: req.id, version, bucket: (frame && packViews(tensors, frame)) || packTensors(tensors) };
  } catch (err) {
    const code = err instanceof TfleetError ? err.code : 'INTERNAL';
    return { id: req.id, error: { code, message: err instanceof Error ? err.message : String(err) } };
  }
}

port.on('message', (req: BucketRequest | 'close') => {
  if (req === 'close') {
    ps.close();
    port.close();
    return;
  }
  void pushPullBucket(req).then((reply) => port.postMessage(reply, reply.bucket ? [reply.bucket.buffer] : []));
});
