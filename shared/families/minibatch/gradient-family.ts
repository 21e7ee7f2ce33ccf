import { TaskKind } from '../../data/dataset';
import { loadLayersPredictor } from '../layers/predictor';
import { DataInfo, ModelFamily } from '../types';
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
    createProgram: (spec, job) => MinibatchProgram.create(job, () => parts.createReplica(spec, job.info, job.spec.seed)),
    loadPredictor: loadLayersPredictor,
  };
}
