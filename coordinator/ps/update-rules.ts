import { HostData } from '../../shared/codec/host-tensor';
import { ArgumentError } from '../../shared/errors';
import { UpdateRuleSpec } from '../../shared/ps/rules';
import { NATIVE_LOOP_MIN, nativeLoops } from './native-loops';

/**
 * A server-side update: turns the reduced statistic of one step into the
 * key's new value, in place. The statistic arrives as the sum of the
 * pushes and a `scale`: optimizers and 'average' get 1 / (sum of the push
 * weights), so they see the sample-weighted mean; 'sum' gets 1. Scaling
 * inside the rule's loop saves the store a pass over the key.
 */
export interface UpdateRule {
  /** How the step's pushes are combined before `apply`: added, or element-wise maximum ('max'). */
  readonly reduce: 'mean' | 'sum' | 'max';
  apply(value: HostData, sum: Float64Array, scale: number): void;
  /** Copies of the optimizer's state (slots and step count), for a checkpoint. */
  snapshot(): RuleState;
  /** Takes back a {@link snapshot} of a rule of the same spec and size. @throws ArgumentError when it does not fit. */
  restore(state: RuleState): void;
}

/** An update rule's state: its slot arrays in a fixed order and its step count (Adam's t). */
export interface RuleState {
  slots: (Float32Array | Float64Array)[];
  step: number;
}

/** Copies `from` into `to`, refusing a checkpoint whose slots do not fit the rule. */
function restoreSlots(to: readonly (Float32Array | Float64Array)[], from: RuleState): void {
  if (from.slots.length !== to.length) throw new ArgumentError(`a checkpointed rule has ${from.slots.length} slots, this rule keeps ${to.length}`);
  to.forEach((slot, i) => {
    const s = from.slots[i];
    if (s.length !== slot.length || s.constructor !== slot.constructor) throw new ArgumentError(`a checkpointed rule slot of ${s.length} values does not fit one of ${slot.length}`);
    slot.set(s);
  });
}

const NO_STATE = (): RuleState => ({ slots: [], step: 0 });

// The element loops are top-level functions over typed-array arguments, not
// closures over a rule's state: V8 keeps them optimized, where the closure
// form ran 10× slower inside the server (deoptimized on leaving the loop).

function writeScaled32(value: Float32Array, sum: Float64Array, scale: number): void {
  for (let i = 0; i < value.length; i++) value[i] = sum[i] * scale;
}

/** int32 keys hold exact sums of integers; a sum past int32 would wrap, so it is refused. */
function writeInt32(value: Int32Array, sum: Float64Array): void {
  for (let i = 0; i < value.length; i++) {
    const v = sum[i];
    if (v > 2147483647 || v < -2147483648) throw new ArgumentError(`an int32 sum reached ${v}, outside the int32 range: push float64 for sums this large`);
    value[i] = v;
  }
}

/** float64 keys hold exact sums: copied as they are (a separate loop keeps each monomorphic). */
function writeScaled64(value: Float64Array, sum: Float64Array, scale: number): void {
  for (let i = 0; i < value.length; i++) value[i] = sum[i] * scale;
}

export function sgdStep(value: Float32Array, sum: Float64Array, scale: number, lr: number): void {
  for (let i = 0; i < value.length; i++) value[i] -= lr * (sum[i] * scale);
}

export function momentumStep(value: Float32Array, sum: Float64Array, scale: number, accum: Float64Array, lr: number, momentum: number): void {
  for (let i = 0; i < value.length; i++) {
    const a = momentum * accum[i] + sum[i] * scale;
    accum[i] = a;
    value[i] -= lr * a;
  }
}

/**
 * One Adam step with bias corrections `c1 = 1 - beta1^t`, `c2 = 1 - beta2^t`:
 * `lr·(m/c1) / (sqrt(v/c2) + eps)`, with the corrections hoisted out of the
 * loop so that each element costs one division and one square root.
 */
export function adamStep(value: Float32Array, sum: Float64Array, scale: number, m: Float64Array, v: Float64Array, lr: number, beta1: number, beta2: number, epsilon: number, c1: number, c2: number): void {
  const step = lr / c1;
  const invSqrtC2 = 1 / Math.sqrt(c2);
  for (let i = 0; i < value.length; i++) {
    const gi = sum[i] * scale;
    const mi = beta1 * m[i] + (1 - beta1) * gi;
    const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    value[i] -= (step * mi) / (Math.sqrt(vi) * invSqrtC2 + epsilon);
  }
}

/** One AdaGrad step: `G += g²`, `value -= lr·g / (sqrt(G) + eps)`. */
export function adagradStep(value: Float32Array, sum: Float64Array, scale: number, squares: Float32Array, lr: number, epsilon: number): void {
  for (let i = 0; i < value.length; i++) {
    const gi = sum[i] * scale;
    const g2 = squares[i] + gi * gi;
    squares[i] = g2;
    value[i] -= (lr * gi) / (Math.sqrt(g2) + epsilon);
  }
}

/** 'sum', 'average' and 'max': the value becomes the reduced pushes. */
class ReductionRule implements UpdateRule {
  readonly snapshot = NO_STATE;
  constructor(readonly reduce: 'mean' | 'sum' | 'max') {}
  restore(state: RuleState): void {
    restoreSlots([], state);
  }
  apply(value: HostData, sum: Float64Array, scale: number): void {
    if (value instanceof Float64Array) writeScaled64(value, sum, scale);
    else if (value instanceof Int32Array) writeInt32(value, sum);
    else writeScaled32(value, sum, scale);
  }
}

const SGD_PARAMS = new Float64Array(3);

/** The native SGD loop's parameters (one array reused: the call reads it at once). */
function sgdParams(scale: number, lr: number, momentum: number): Float64Array {
  SGD_PARAMS[0] = scale;
  SGD_PARAMS[1] = lr;
  SGD_PARAMS[2] = momentum;
  return SGD_PARAMS;
}

class SgdRule implements UpdateRule {
  readonly reduce = 'mean';
  readonly snapshot = NO_STATE;
  constructor(private readonly lr: number) {}
  restore(state: RuleState): void {
    restoreSlots([], state);
  }
  apply(value: HostData, sum: Float64Array, scale: number): void {
    if (nativeLoops && value.length >= NATIVE_LOOP_MIN) nativeLoops.sgdStep(value as Float32Array, sum, null, sgdParams(scale, this.lr, 0));
    else sgdStep(value as Float32Array, sum, scale, this.lr);
  }
}

class MomentumRule implements UpdateRule {
  readonly reduce = 'mean';
  private readonly accum: Float64Array;
  constructor(size: number, private readonly lr: number, private readonly momentum: number) {
    this.accum = new Float64Array(size);
  }
  apply(value: HostData, sum: Float64Array, scale: number): void {
    if (nativeLoops && value.length >= NATIVE_LOOP_MIN) nativeLoops.sgdStep(value as Float32Array, sum, this.accum, sgdParams(scale, this.lr, this.momentum));
    else momentumStep(value as Float32Array, sum, scale, this.accum, this.lr, this.momentum);
  }
  snapshot(): RuleState {
    return { slots: [this.accum.slice()], step: 0 };
  }
  restore(state: RuleState): void {
    restoreSlots([this.accum], state);
  }
}

/** [scale, lr, beta1, beta2, epsilon, c1, c2] for the native Adam loop. */
const ADAM_PARAMS = new Float64Array(7);

class AdamRule implements UpdateRule {
  readonly reduce = 'mean';
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(size: number, private readonly lr: number, private readonly beta1: number, private readonly beta2: number, private readonly epsilon: number) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }
  apply(value: HostData, sum: Float64Array, scale: number): void {
    this.t++;
    const c1 = 1 - Math.pow(this.beta1, this.t);
    const c2 = 1 - Math.pow(this.beta2, this.t);
    if (nativeLoops && value.length >= NATIVE_LOOP_MIN) {
      const p = ADAM_PARAMS;
      p[0] = scale; p[1] = this.lr; p[2] = this.beta1; p[3] = this.beta2; p[4] = this.epsilon; p[5] = c1; p[6] = c2;
      nativeLoops.adamStep(value as Float32Array, sum, this.m, this.v, p);
    } else {
      adamStep(value as Float32Array, sum, scale, this.m, this.v, this.lr, this.beta1, this.beta2, this.epsilon, c1, c2);
    }
  }
  snapshot(): RuleState {
    return { slots: [this.m.slice(), this.v.slice()], step: this.t };
  }
  restore(state: RuleState): void {
    restoreSlots([this.m, this.v], state);
    this.t = state.step;
  }
}

class AdagradRule implements UpdateRule {
  readonly reduce = 'mean';
  private readonly squares: Float32Array;
  constructor(size: number, private readonly lr: number, initialAccumulator: number, private readonly epsilon: number) {
    this.squares = new Float32Array(size).fill(initialAccumulator);
  }
  apply(value: HostData, sum: Float64Array, scale: number): void {
    adagradStep(value as Float32Array, sum, scale, this.squares, this.lr, this.epsilon);
  }
  snapshot(): RuleState {
    return { slots: [this.squares.slice()], step: 0 };
  }
  restore(state: RuleState): void {
    restoreSlots([this.squares], state);
  }
}

/**
 * Builds the rule's state for one key of `size` elements. Optimizers match
 * tfjs's and run on float32 keys only (the store refuses them on float64).
 */
export function createUpdateRule(spec: UpdateRuleSpec, size: number): UpdateRule {
  switch (spec.name) {
    case 'sum':
      return new ReductionRule('sum');
    case 'average':
      return new ReductionRule('mean');
    case 'max':
      return new ReductionRule('max');
    case 'sgd':
      return new SgdRule(spec.learningRate);
    case 'momentum':
      return new MomentumRule(size, spec.learningRate, spec.momentum);
    case 'adam':
      return new AdamRule(size, spec.learningRate, spec.beta1, spec.beta2, spec.epsilon);
    case 'adagrad':
      return new AdagradRule(size, spec.learningRate, spec.initialAccumulator, spec.epsilon);
  }
}
