import * as tf from '@tensorflow/tfjs-core';
import { WasmBackend, disposeInfos, transposeInfo } from './primitives';

interface Attrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** The permutation that swaps a tensor's last two axes. */
function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

function size(info: tf.TensorInfo): number {
  return info.shape.reduce((a, b) => a * b, 1);
}

/**
 * Wraps the package's BatchMatMul so that a transposed operand never reaches
 * it: XNNPACK's product is fast only on untransposed inputs, and the weight
 * gradient `matMul(x, dy, transposeA)` and input gradient `matMul(dy, w,
 * transposeB)` of every dense layer otherwise take its slow path. Of the two
 * equivalent forms, `op(A)·op(B)` and `(op(B)ᵀ·op(A)ᵀ)ᵀ`, the one that moves
 * fewer elements through Transpose is used: for `dy·Wᵀ` with a large W it is
 * cheaper to transpose dy and the small output than W.
 * `bench/wasm-backward.ts` measures the package's kernel against this one.
 */
export function fastTransposedMatMul(original: tf.KernelConfig): tf.KernelConfig {
  const product = (backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo =>
    original.kernelFunc({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs;
    if (!transposeA && !transposeB) return original.kernelFunc(args as unknown as tf.KernelFunc['arguments']) as tf.TensorInfo;
    const a = inputs.a!;
    const b = inputs.b!;
    const m = transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
    const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const batch = Math.max(size(a) / (a.shape[a.shape.length - 1] * a.shape[a.shape.length - 2]), size(b) / (b.shape[b.shape.length - 1] * b.shape[b.shape.length - 2]));
    // Elements transposed by each form: inputs as flagged, or the other inputs plus the output.
    const direct = (transposeA ? size(a) : 0) + (transposeB ? size(b) : 0);
    const swapped = (transposeA ? 0 : size(a)) + (transposeB ? 0 : size(b)) + batch * m * n;
    const temps: tf.TensorInfo[] = [];
    const t = (x: tf.TensorInfo): tf.TensorInfo => {
      const y = transposeInfo(backend, x, swapLastTwo(x.shape.length));
      temps.push(y);
      return y;
    };
    let out: tf.TensorInfo;
    if (direct <= swapped) {
      out = product(backend, transposeA ? t(a) : a, transposeB ? t(b) : b);
    } else {
      const outT = product(backend, transposeB ? b : t(b), transposeA ? a : t(a));
      temps.push(outT);
      out = transposeInfo(backend, outT, swapLastTwo(outT.shape.length));
    }
    disposeInfos(backend, ...temps);
    return out;
  };
  return { ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
