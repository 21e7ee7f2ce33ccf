import { describe, expect, it } from 'vitest';
import { TaskPlan, taskPlanFromWire, taskPlanToWire } from '../../../shared/program/task-plan';

const plan = (): TaskPlan => ({
  jobId: 'j1', specJson: '{}', rank: 1, worldSize: 2, train: { begin: 5, end: 9 }, test: { begin: 2, end: 3 }, trainShardRows: [5, 4],
  info: { numFeatures: 2, featureNames: ['a', 'b'], sampleShape: [2], labelName: 'y', valueRange: [0, 1], classes: [0, 1], missingValues: 3 },
  psAddress: '127.0.0.1:7070', tensorAddress: '127.0.0.1:7071', attempt: 2, psJob: 'j1@2', resume: null, finishTimeoutMs: 1000,
});

describe('task plan: what a worker reads of its assignment', () => {
  it('round-trips through the wire message', () => {
    expect(taskPlanFromWire(taskPlanToWire(plan()))).toEqual(plan());
  });

  it('carries a resume point: the first round and every rank state of the checkpoint', () => {
    const resumed = { ...plan(), resume: { round: 4, states: [Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(9)] } };
    expect(taskPlanFromWire(taskPlanToWire(resumed))).toEqual(resumed);
  });

  it('refuses an assignment whose ranges, shard sizes or rank do not agree, naming what', () => {
    const wire = taskPlanToWire(plan());
    expect(() => taskPlanFromWire({ ...wire, trainShardRows: [5, 5] })).toThrow("task: rank 1's range holds 4 rows, its shard size says 5");
    expect(() => taskPlanFromWire({ ...wire, rank: 2 })).toThrow('task: rank 2 of world size 2');
    expect(() => taskPlanFromWire({ ...wire, trainShardRows: [9] })).toThrow('task: 1 shard sizes for world size 2');
    expect(() => taskPlanFromWire({ ...wire, psAddress: '' })).toThrow("task: 'ps_address' is required");
  });
});
