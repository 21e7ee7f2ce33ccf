import { Table } from '../../data/table';
import { TfleetError } from '../../errors';
import { MetricSums } from '../../metric-sums';
import { ExportTarget, ProgramContext, ProgramJob, TrainingProgram } from '../../program/types';
import { baseMeta, writeModelMeta } from '../model-meta';
import { TreeEnsemble, evaluateEnsemble, writeEnsemble } from './tree-model';

/** What both tree programs share once their `run` has grown an ensemble: evaluation and export. */
export abstract class EnsembleProgram implements TrainingProgram {
  protected model: TreeEnsemble | null = null;

  constructor(protected readonly job: ProgramJob, private readonly family: 'gbdt' | 'forest') {}

  abstract run(ctx: ProgramContext): Promise<void>;

  evaluate(table: Table): Promise<MetricSums> {
    return evaluateEnsemble(this.trained(), table);
  }

  async export(target: ExportTarget): Promise<void> {
    const { info } = this.job;
    await writeEnsemble(target.dir, this.trained(), info.featureNames);
    await writeModelMeta(target.dir, baseMeta(this.family, info, target.source, null));
  }

  dispose(): void {
    this.model = null;
  }

  private trained(): TreeEnsemble {
    if (!this.model) throw new TfleetError('FAILED_PRECONDITION', 'the program has not run');
    return this.model;
  }
}
