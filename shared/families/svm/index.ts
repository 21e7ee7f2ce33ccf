import { DataError, SpecError } from '../../errors';
import { gradientFamily } from '../minibatch/gradient-family';
import { SpecFields } from '../spec-fields';
import { DataInfo } from '../types';
import { SparseLinear, SparseLinearReplica } from '../text/sparse-linear';

/** `svm`: a linear support-vector machine, one-vs-rest beyond two classes. */
export interface SvmSpec {
  family: 'svm';
  loss: 'hinge' | 'squared-hinge';
  /** scikit-learn's C: the objective is ½‖W‖² + C·Σ loss; null when `l2` is given. */
  C: number | null;
  /** The L2 weight on the mean loss's scale: ½·l2·‖W‖² + mean loss; null when `C` is given. */
  l2: number | null;
}

/** @throws SpecError naming the field. */
export function parseSvmSpec(model: Record<string, unknown>): SvmSpec {
  const f = new SpecFields(model, 'model');
  f.only(['family', 'loss', 'C', 'l2'], "family 'svm'");
  if (model.C !== undefined && model.l2 !== undefined) throw new SpecError('model.l2', "cannot be given with 'C': both set the regularization");
  const positive = (key: string): number | null => {
    const v = model[key];
    if (v === undefined) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || !(key === 'C' ? v > 0 : v >= 0)) throw new SpecError(`model.${key}`, `must be a number ${key === 'C' ? '> 0' : '≥ 0'}, got ${JSON.stringify(v)}`);
    return v;
  };
  const C = positive('C');
  const l2 = positive('l2');
  return { family: 'svm', loss: f.oneOf('loss', ['hinge', 'squared-hinge'] as const, 'squared-hinge'), C: C === null && l2 === null ? 1 : C, l2 };
}

/** The L2 weight on the mean loss: 1 / (C · rows) for C (the same objective divided by C · rows). */
export function svmL2(spec: SvmSpec, info: DataInfo): number {
  if (spec.l2 !== null) return spec.l2;
  if (!info.trainRows) throw new DataError('svm: the number of training rows is unknown, give model.l2 instead of C');
  return 1 / (spec.C! * info.trainRows);
}

export const svmFamily = gradientFamily<SvmSpec>({
  name: 'svm',
  taskOf: () => 'classifier',
  parseSpec: parseSvmSpec,
  checkData: () => undefined,
  createReplica: async (spec, info) =>
    new SparseLinearReplica(SparseLinear.for(spec.loss, info.numFeatures, info.classes!.length, 'dense'), svmL2(spec, info), info.classes!, 'svm'),
  text: {
    representation: 'bag',
    createReplica: async (spec, info, features) =>
      new SparseLinearReplica(SparseLinear.for(spec.loss, features.size, info.classes!.length), svmL2(spec, info), info.classes!, 'svm'),
  },
});
