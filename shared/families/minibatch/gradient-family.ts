import { TaskKind } from '../../data/dataset';
import { DataError } from '../../errors';
import { DataInfo, ModelFamily } from '../types';
import { TextProgram } from '../text/program';
import { TextFeatures } from '../text/featurize';
import { loadLinearOrLayersPredictor } from '../text/linear-predictor';
import { MinibatchProgram } from './program';
import { Replica } from './replica';

/** What a gradient family defines; the rest (program, rounds, predictor) is shared. */
export interface GradientFamilyParts<Spec> {
  name: string;
  taskOf(spec: Spec): TaskKind;
  parseSpec(model: Record<string, unknown>): Spec;
  checkData(spec: Spec, info: DataInfo): void;
  readsRawValues?(spec: Spec): boolean;
  /** The family's model on one rank, with seeded initial weights. */
  createReplica(spec: Spec, info: DataInfo, seed: number): Promise<Replica>;
  /** See {@link ModelFamily.parameterCount}. */
  parameterCount?(spec: Spec, info: DataInfo): number;
  /**
   * Families that read raw text: the representation, and (bag families) the
   * replica over bag-of-words rows; sequences go to `createReplica` as token ids.
   */
  text?: { representation: 'sequence' } | { representation: 'bag'; createReplica(spec: Spec, info: DataInfo, features: TextFeatures): Promise<Replica> };
}

/**
 * A tfjs family trained by the minibatch program: it takes a `training`
 * section, reports progress per epoch and exports a layers model.
 */
export type GradientFamily<Spec> = ModelFamily<Spec> & Pick<GradientFamilyParts<Spec>, 'createReplica'>;

/** Whether a family trains by the minibatch program (and so has a replica to test alone). */
export function isGradientFamily<Spec>(f: ModelFamily<Spec>): f is GradientFamily<Spec> {
  return 'createReplica' in f;
}

export function gradientFamily<Spec>(parts: GradientFamilyParts<Spec>): GradientFamily<Spec> {
  return {
    ...parts,
    training: 'required',
    rounds: (_spec, job) => job.training!.epochs,
    readsText: parts.text?.representation,
    createProgram: async (spec, job) => {
      const text = parts.text;
      if (!job.info.text) return MinibatchProgram.create(job, () => parts.createReplica(spec, job.info, job.spec.seed));
      // loadJobData refuses text for such a family at submit.
      if (!text) throw new DataError(`data.train.text: family '${parts.name}' does not read text`);
      return new TextProgram(job, text.representation, (inner, features) => MinibatchProgram.create(inner, () =>
        text.representation === 'bag' ? text.createReplica(spec, inner.info, features) : parts.createReplica(spec, inner.info, inner.spec.seed)));
    },
    loadPredictor: loadLinearOrLayersPredictor,
  };
}
