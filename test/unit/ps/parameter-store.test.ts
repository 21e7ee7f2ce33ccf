import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { TensorMap, hostTensor } from '../../../shared/codec/host-tensor';
import { ParameterStore } from '../../../coordinator/ps/parameter-store';
import { createUpdateRule } from '../../../coordinator/ps/update-rules';
import { OptimizerSpec } from '../../../shared/config/job-spec';

const one = (key: string, values: number[]): TensorMap => new Map([[key, hostTensor([values.length], Float32Array.from(values))]]);
const sgd = (learningRate: number): OptimizerSpec => ({ name: 'sgd', learningRate, momentum: 0, beta1: 0, beta2: 0, epsilon: 0 });

describe('ParameterStore', () => {
  it('applies the sample-weighted mean of all members’ pushes once all have pushed', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', one('w', [1, 1]), sgd(0.5));
    // Gradients are sums over each worker's rows: the server divides by the total rows (3 + 1).
    expect(ps.push('j', 'a', 0, 3, one('w', [6, 3]))).toBe(0);
    const pending = ps.pull('j', ['w'], 1);
    let settled = false;
    void pending.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    expect(ps.push('j', 'b', 0, 1, one('w', [2, 1]))).toBe(1);
    const { version, tensors } = await pending;
    expect(version).toBe(1);
    expect([...tensors.get('w')!.data]).toEqual([1 - 0.5 * 2, 1 - 0.5 * 1]);
  });

  it('counts a retried push once', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', one('s', [0]), { name: 'sum' });
    ps.push('j', 'a', 0, 1, one('s', [5]));
    ps.push('j', 'a', 0, 1, one('s', [5]));
    ps.push('j', 'b', 0, 1, one('s', [1]));
    ps.push('j', 'b', 0, 1, one('s', [1])); // a retry after the step was applied
    const { tensors } = await ps.pull('j', ['s'], 1);
    expect(tensors.get('s')!.data[0]).toBe(6);
  });

  it('reduces each step from its own pushes only', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', one('s', [0, 0]), { name: 'sum' });
    ps.init('j', one('m', [0]), { name: 'average' });
    const steps = [
      { a: [1, 2], b: [10, 20], ma: 4, mb: 8 },
      { a: [-3, 0.5], b: [0, 0], ma: 2, mb: 6 },
    ];
    for (const [t, s] of steps.entries()) {
      // 'average' pushes are values times the push's weight (1 and 3 rows).
      ps.push('j', 'a', t, 1, new Map([...one('s', s.a), ...one('m', [1 * s.ma])]));
      ps.push('j', 'b', t, 3, new Map([...one('s', s.b), ...one('m', [3 * s.mb])]));
      const { tensors } = await ps.pull('j', ['s', 'm'], t + 1);
      expect([...tensors.get('s')!.data]).toEqual([s.a[0] + s.b[0], s.a[1] + s.b[1]]);
      expect(tensors.get('m')!.data[0]).toBeCloseTo((1 * s.ma + 3 * s.mb) / 4, 6);
    }
  });

  it('rejects a push ahead of the server, a wrong shape and a stranger', () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a']);
    ps.init('j', one('w', [0, 0]), sgd(1));
    expect(() => ps.push('j', 'a', 3, 1, one('w', [1, 1]))).toThrow("push of 'w' for step 3 is ahead of the server's step 0");
    expect(() => ps.push('j', 'a', 0, 1, one('w', [1]))).toThrow("pushed 'w' has shape [1], the server holds [2]");
    expect(() => ps.push('j', 'x', 0, 1, one('w', [1, 1]))).toThrow("worker 'x' is not a member of job 'j'");
    expect(() => ps.push('j', 'a', 0, 1, one('nope', [1]))).toThrow("job 'j' has no parameter 'nope'");
  });

  it('keeps the first init of a key', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a']);
    expect(ps.init('j', one('w', [1]), sgd(1))).toEqual(['w']);
    expect(ps.init('j', one('w', [9]), sgd(1))).toEqual([]);
    expect((await ps.pull('j', ['w'], 0)).tensors.get('w')!.data[0]).toBe(1);
  });

  it('fails waiting pulls when the job closes', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', one('w', [1]), sgd(1));
    const pending = ps.pull('j', ['w'], 1);
    ps.closeJob('j', "worker 'b' lost");
    await expect(pending).rejects.toThrow("job 'j': worker 'b' lost");
  });

  it('tells a request that comes just after the close the same reason as the waiting ones', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', one('w', [1]), sgd(1));
    // b poisons the step before a has pushed: a's push and pull arrive after the close.
    await expect(async () => ps.push('j', 'b', 0, 1, one('w', [NaN]))).rejects.toThrow("worker 'b' pushed NaN or infinite values in 'w' at step 0");
    expect(() => ps.push('j', 'a', 0, 1, one('w', [1]))).toThrow("job 'j': worker 'b' pushed NaN or infinite values in 'w' at step 0");
    await expect(async () => ps.pull('j', ['w'], 1)).rejects.toThrow("job 'j': worker 'b' pushed NaN or infinite values in 'w' at step 0");
    // A table opened again under the same name is a new one.
    ps.openJob('j', ['a']);
    expect(ps.init('j', one('w', [2]), sgd(1))).toEqual(['w']);
    expect(() => new ParameterStore().push('k', 'a', 0, 1, one('w', [1]))).toThrow("no parameter table for job 'k'");
  });
});

describe('server-side optimizers', () => {
  const grads = [[0.5, -1, 2], [0.1, 0.3, -0.7], [-2, 0.4, 0.05], [1, 1, 1]];
  const specs: OptimizerSpec[] = [
    { name: 'sgd', learningRate: 0.1, momentum: 0, beta1: 0, beta2: 0, epsilon: 0 },
    { name: 'momentum', learningRate: 0.05, momentum: 0.9, beta1: 0, beta2: 0, epsilon: 0 },
    { name: 'adam', learningRate: 0.01, momentum: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  ];
  it.each(specs)('$name matches the tfjs optimizer step by step', async (spec) => {
    await tf.setBackend('cpu');
    const start = [1, -0.5, 0.25];
    const ours = Float32Array.from(start);
    const rule = createUpdateRule(spec, 3);
    const v = tf.variable(tf.tensor1d(start));
    const opt = spec.name === 'sgd' ? tf.train.sgd(spec.learningRate)
      : spec.name === 'momentum' ? tf.train.momentum(spec.learningRate, spec.momentum)
      : tf.train.adam(spec.learningRate, spec.beta1, spec.beta2, spec.epsilon);
    for (const g of grads) {
      rule.apply(ours, Float64Array.from(g), 1);
      opt.applyGradients({ [v.name]: tf.tensor1d(g) });
    }
    const theirs = v.dataSync();
    for (let i = 0; i < 3; i++) expect(ours[i]).toBeCloseTo(theirs[i], 6);
    opt.dispose();
    v.dispose();
  });
});
