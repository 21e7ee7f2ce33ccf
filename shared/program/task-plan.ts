import { tfleet } from '../../proto/generated/tfleet';
import { ArgumentError } from '../errors';
import { DataInfo } from '../families/types';

/** A contiguous range of rows [begin, end). */
export interface RowRange {
  begin: number;
  end: number;
}

/** One rank's part of a running job, as the coordinator assigned it. */
export interface TaskPlan {
  jobId: string;
  /** The validated spec, defaults filled in, as JSON. */
  specJson: string;
  rank: number;
  worldSize: number;
  /** This rank's rows of the training and test sets. */
  train: RowRange;
  test: RowRange;
  /** Training rows of every rank, by rank. */
  trainShardRows: number[];
  /** What the coordinator learnt of the whole data set. */
  info: DataInfo;
  /** host:port of the parameter server. */
  psAddress: string;
  /** host:port of the parameter server's tensor port; empty: bucketed steps use gRPC. */
  tensorAddress: string;
  /** The attempt of the job this task is part of, and its parameter table there. */
  attempt: number;
  psJob: string;
  /** Set when the attempt resumes from a checkpoint. */
  resume: ResumePoint | null;
  /** Evaluation and export together must end within this (ms; 0: no limit). */
  finishTimeoutMs: number;
}

/** Where a resumed attempt starts: the first round to run, and the checkpoint's rank states. */
export interface ResumePoint {
  round: number;
  /** Each rank's saved part, by the ranks of the attempt that saved it (their number may differ from now). */
  states: Uint8Array[];
}

export function dataInfoToWire(info: DataInfo): tfleet.coordinator.IDataDescription {
  return {
    featureNames: [...info.featureNames], sampleShape: [...info.sampleShape], labelName: info.labelName,
    classes: info.classes ?? [], minValue: info.valueRange[0], maxValue: info.valueRange[1], missingValues: info.missingValues,
    ...(info.ratings ? { users: [...info.ratings.users], items: [...info.ratings.items], ratingScale: [...info.ratings.scale] } : {}),
    ...(info.text ? { textField: info.text.field } : {}),
    ...(info.classNames ? { classNames: [...info.classNames] } : {}),
    trainRows: info.trainRows ?? 0,
  };
}

export function dataInfoFromWire(d: tfleet.coordinator.IDataDescription): DataInfo {
  const sampleShape = d.sampleShape ?? [];
  return {
    numFeatures: sampleShape.reduce((a, b) => a * b, 1), featureNames: d.featureNames ?? [], sampleShape, labelName: d.labelName ?? '',
    classes: d.classes && d.classes.length > 0 ? d.classes : null, valueRange: [d.minValue ?? 0, d.maxValue ?? 0],
    missingValues: d.missingValues ?? 0,
    ...(d.textField ? { text: { field: d.textField } } : {}),
    ...(d.classNames && d.classNames.length > 0 ? { classNames: d.classNames } : {}),
    ...(d.trainRows ? { trainRows: d.trainRows } : {}),
    ...(d.ratingScale && d.ratingScale.length === 2 ? { ratings: { users: d.users ?? [], items: d.items ?? [], scale: [d.ratingScale[0], d.ratingScale[1]] as [number, number] } } : {}),
  };
}

export function taskPlanToWire(p: TaskPlan): tfleet.coordinator.ITask {
  return {
    jobId: p.jobId, specJson: p.specJson, rank: p.rank, worldSize: p.worldSize,
    trainBegin: p.train.begin, trainEnd: p.train.end, testBegin: p.test.begin, testEnd: p.test.end,
    trainShardRows: p.trainShardRows, description: dataInfoToWire(p.info), psAddress: p.psAddress, tensorAddress: p.tensorAddress,
    attempt: p.attempt, psJob: p.psJob, finishTimeoutMs: p.finishTimeoutMs,
    ...(p.resume ? { resume: true, resumeRound: p.resume.round, resumeStates: p.resume.states } : {}),
  };
}

/**
 * Reads an assignment once into the domain type, checking what a program
 * relies on.
 *
 * @throws ArgumentError naming the field that is missing or inconsistent.
 */
export function taskPlanFromWire(t: tfleet.coordinator.ITask): TaskPlan {
  const need = (v: string | null | undefined, field: string): string => {
    if (!v) throw new ArgumentError(`task: '${field}' is required`);
    return v;
  };
  const worldSize = t.worldSize ?? 0;
  const rank = t.rank ?? 0;
  const shardRows = t.trainShardRows ?? [];
  if (worldSize < 1 || rank >= worldSize) throw new ArgumentError(`task: rank ${rank} of world size ${worldSize}`);
  if (shardRows.length !== worldSize) throw new ArgumentError(`task: ${shardRows.length} shard sizes for world size ${worldSize}`);
  const train = { begin: t.trainBegin ?? 0, end: t.trainEnd ?? 0 };
  const test = { begin: t.testBegin ?? 0, end: t.testEnd ?? 0 };
  if (train.end < train.begin || test.end < test.begin) throw new ArgumentError('task: a row range ends before it begins');
  if (train.end - train.begin !== shardRows[rank]) throw new ArgumentError(`task: rank ${rank}'s range holds ${train.end - train.begin} rows, its shard size says ${shardRows[rank]}`);
  if (!t.description) throw new ArgumentError("task: 'description' is required");
  const jobId = need(t.jobId, 'job_id');
  return {
    jobId, specJson: need(t.specJson, 'spec_json'), rank, worldSize, train, test,
    trainShardRows: [...shardRows], info: dataInfoFromWire(t.description), psAddress: need(t.psAddress, 'ps_address'), tensorAddress: t.tensorAddress ?? '',
    attempt: t.attempt ?? 0, psJob: t.psJob || jobId, finishTimeoutMs: t.finishTimeoutMs ?? 0,
    resume: t.resume ? { round: t.resumeRound ?? 0, states: (t.resumeStates ?? []).map((b) => new Uint8Array(b)) } : null,
  };
}
