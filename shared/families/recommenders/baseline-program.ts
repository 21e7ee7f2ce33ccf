import { ProgramContext, ProgramJob } from '../../program/types';
import { baselineAls } from './baseline-als';
import { FactorModel } from './model';
import { Exported, RecommenderProgram } from './program';
import { Ratings } from './ratings';
import { BaselineSpec } from './spec';

/** `baseline` with method 'als': Surprise's BaselineOnly, biases summed across ranks each half step. */
export class BaselineAlsProgram extends RecommenderProgram {
  constructor(job: ProgramJob, private readonly baseline: BaselineSpec) {
    super(job, baseline);
  }

  protected async fit(ctx: ProgramContext, local: Ratings, mu: number): Promise<{ model: FactorModel; exported: Exported | null }> {
    const { userBias, itemBias } = await baselineAls(ctx.ps, 'baseline', local, this.users, this.items, mu, this.baseline, ctx.signal, async (epoch, sums) => {
      ctx.metrics.loss(sums.lossSum / Math.max(1, sums.count));
      await ctx.progress(epoch, sums);
    });
    const none = new Float32Array(0);
    const model = new FactorModel(mu, userBias, itemBias, none, none, 0, this.ratings.scale);
    return { model, exported: ctx.rank === 0 ? { mu, factors: 0, arrays: { userBias, itemBias, userFactors: none, itemFactors: none } } : null };
  }
}
