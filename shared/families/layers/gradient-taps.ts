import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { HostTensor } from '../../codec/host-tensor';

/**
 * Per-weight gradient hooks on a tfjs layers network, the role autograd
 * hooks play in PyTorch DDP: tfjs hands out gradients only once the whole
 * backward pass is done, so each trainable weight's `read()` is wrapped in
 * an identity op whose gradient function sees the weight's gradient the
 * moment the backward pass reaches it. A weight read once per forward pass
 * has its complete gradient there; a weight read several times (a
 * recurrent kernel, once per time step) is left to the end of the pass.
 *
 * @example
 * const taps = new GradientTaps(model.trainableWeights);
 * taps.arm((index, grad) => send(index, grad));
 * tf.variableGrads(loss, vars); // send() runs during the backward pass
 * const tapped = taps.disarm();  // weights whose gradient was sent
 */
export class GradientTaps {
  private readonly reads: Int32Array;
  private readonly sent: boolean[];
  private onGradient: ((index: number, grad: HostTensor) => void) | null = null;

  constructor(weights: readonly tfl.LayerVariable[]) {
    this.reads = new Int32Array(weights.length);
    this.sent = weights.map(() => false);
    weights.forEach((w, i) => {
      const read = w.read.bind(w);
      const tap = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
        value: (inputs[0] as tf.Tensor).clone(),
        gradFunc: (dy: tf.Tensor) => {
          this.arrived(i, dy);
          return dy.clone();
        },
      }));
      // Untapped outside a step: exports and weight writes read the variable itself.
      w.read = () => {
        if (!this.onGradient) return read();
        this.reads[i]++;
        return tap(read()) as tf.Tensor;
      };
    });
  }

  /** Starts a step: from now on each single-read weight's gradient goes to `onGradient`. */
  arm(onGradient: (index: number, grad: HostTensor) => void): void {
    this.reads.fill(0);
    this.onGradient = onGradient;
  }

  /** Ends a step; returns which weights' gradients were handed out (none when it was not armed). */
  disarm(): boolean[] {
    const sent = [...this.sent];
    this.sent.fill(false);
    this.onGradient = null;
    return sent;
  }

  private arrived(index: number, dy: tf.Tensor): void {
    if (!this.onGradient || this.reads[index] !== 1) return;
    // Read-only values: the cpu backend hands out its own storage, which tfjs never writes again.
    this.onGradient(index, { shape: dy.shape, data: dy.dataSync() as Float32Array });
    this.sent[index] = true;
  }
}
