import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../../shared/codec/host-tensor';
import { ParameterStore } from '../../../coordinator/ps/parameter-store';

const limits = { maxKeysPerJob: 3, maxValuesPerJob: 100, maxWaitingPulls: 2 };

describe('ParameterStore: what a job may make the server hold', () => {
  it('refuses keys past the per-job count and values past the per-job total, naming the limit, creating none of them', () => {
    const ps = new ParameterStore({}, limits);
    ps.openJob('j', ['a']);
    ps.init('j', new Map([['k0', hostTensor([10])], ['k1', hostTensor([10])]]), { name: 'sum' });
    expect(() => ps.init('j', new Map([['k2', hostTensor([1])], ['k3', hostTensor([1])]]), { name: 'sum' }))
      .toThrow("job 'j' would hold 4 parameter keys; at most 3 (--max-keys-per-job)");
    expect(ps.keyCount('j')).toBe(2);
    expect(() => ps.init('j', new Map([['big', hostTensor([81])]]), { name: 'sum' })).toThrow("job 'j' would hold 101 parameter values; at most 100 (--max-job-values)");
    expect(() => ps.initTables('j', [{ key: 't', shape: [9, 10], dtype: 'float32' }], { name: 'sum' }, { kind: 'zeros' })).toThrow('at most 100 (--max-job-values)');
    // A key that exists already costs nothing (first init wins).
    ps.init('j', new Map([['k0', hostTensor([10])]]), { name: 'sum' });
  });

  it('refuses pulls past the number that may wait at once', async () => {
    const ps = new ParameterStore({}, limits);
    ps.openJob('j', ['a', 'b']);
    ps.init('j', new Map([['w', hostTensor([1])]]), { name: 'sum' });
    const waiting = [ps.pull('j', ['w'], 1), ps.pull('j', ['w'], 1)];
    await expect(ps.pull('j', ['w'], 1)).rejects.toThrow("job 'j' has 2 pulls waiting; at most 2 may");
    ps.closeJob('j', 'test over');
    for (const w of waiting) await expect(w).rejects.toThrow('test over');
  });
});
