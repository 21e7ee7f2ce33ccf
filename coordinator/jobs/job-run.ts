import { TaskKind } from '../../shared/data/dataset';
import { MetricSums, addSums, emptySums } from '../../shared/metric-sums';
import { JobRecord } from './job-record';

/** A finished rank's report. */
export interface RankResult {
  train: MetricSums;
  test: MetricSums;
  output: string;
}

/**
 * The coordinator's bookkeeping for one running attempt of a job: its
 * members by rank, per-epoch loss sums and final results as they arrive.
 */
export class JobRun {
  private readonly epochSums = new Map<number, { ranks: Set<string>; sums: MetricSums }>();
  private readonly results = new Map<string, RankResult>();

  /** `task` says which metrics the final sums become. */
  constructor(readonly record: JobRecord, readonly memberIds: readonly string[], readonly task: TaskKind) {}

  isMember(workerId: string): boolean {
    return this.memberIds.includes(workerId);
  }

  /**
   * Adds one rank's training sums for an epoch.
   * @returns the epoch's summed sums once every rank has reported it, else null.
   */
  addEpoch(workerId: string, epoch: number, sums: MetricSums): MetricSums | null {
    let entry = this.epochSums.get(epoch);
    if (!entry) this.epochSums.set(epoch, (entry = { ranks: new Set(), sums: emptySums() }));
    if (entry.ranks.has(workerId)) return null;
    entry.ranks.add(workerId);
    entry.sums = addSums(entry.sums, sums);
    if (entry.ranks.size < this.memberIds.length) return null;
    this.epochSums.delete(epoch);
    return entry.sums;
  }

  /** @returns every rank's results summed, once all ranks finished; else null. */
  addResult(workerId: string, result: RankResult): { train: MetricSums; test: MetricSums } | null {
    this.results.set(workerId, result);
    if (this.results.size < this.memberIds.length) return null;
    let train = emptySums();
    let test = emptySums();
    for (const r of this.results.values()) {
      train = addSums(train, r.train);
      test = addSums(test, r.test);
    }
    return { train, test };
  }
}
