import { HostData, HostTensor } from '../codec/host-tensor';
import { PsHandle } from './handle';
import { UpdateRuleSpec } from './rules';

/**
 * Reduces one tensor across every rank through a key used once (an
 * allreduce over the parameter server): init, fused push-pull, release.
 * Every rank gets the same values. Use a float64 tensor with 'sum' when the
 * sum must not depend on the order of the ranks (integer-valued counts).
 *
 * @example
 * const total = await reduceOnce(ps, 'rows', hostTensor64([1], Float64Array.of(rows)), { name: 'sum' });
 */
export async function reduceOnce<D extends HostData>(ps: PsHandle, key: string, t: HostTensor<D>, rule: UpdateRuleSpec, weight = 1): Promise<D> {
  const zeros = { shape: t.shape, data: new (t.data.constructor as { new (n: number): D })(t.data.length) };
  await ps.init(new Map([[key, zeros]]), rule);
  const { tensors } = await ps.pushPull(0, weight, new Map([[key, t]]));
  await ps.release([key]);
  return tensors.get(key)!.data as D;
}
