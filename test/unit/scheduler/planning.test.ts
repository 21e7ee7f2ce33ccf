import { describe, expect, it } from 'vitest';
import { decidePlacements } from '../../../coordinator/scheduler/decide';
import { planShards } from '../../../coordinator/scheduler/shard-planner';
import { stepsPerEpoch } from '../../../shared/families/minibatch/program';

describe('shard planner', () => {
  it.each([[10, 3], [178, 3], [2, 3], [1000, 7], [5, 5]])('splits %i rows into %i contiguous ranges within one row', (rows, parts) => {
    const shards = planShards(rows, parts);
    expect(shards).toHaveLength(parts);
    expect(shards[0].begin).toBe(0);
    expect(shards[parts - 1].end).toBe(rows);
    for (let i = 1; i < parts; i++) expect(shards[i].begin).toBe(shards[i - 1].end);
    const sizes = shards.map((s) => s.end - s.begin);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('runs every rank for as many steps as the largest shard needs', () => {
    const rows = (n: number, parts: number) => planShards(n, parts).map((s) => s.end - s.begin);
    expect(stepsPerEpoch(rows(97, 3), 32)).toBe(2);
    expect(stepsPerEpoch(rows(0, 2), 32)).toBe(1);
  });
});

describe('placement', () => {
  it('places the oldest job that fits and lets a smaller one use what is left', () => {
    const placements = decidePlacements([{ id: 'big', workers: 3 }, { id: 'small', workers: 1 }, { id: 'two', workers: 2 }], ['w1', 'w2']);
    expect(placements).toEqual([{ jobId: 'small', workerIds: ['w1'] }]);
  });
});
