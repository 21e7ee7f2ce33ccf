import { describe, expect, it } from 'vitest';
import { decidePlacements } from '../../../coordinator/scheduler/decide';
import { alignShards, planGroupedShards, planShards } from '../../../coordinator/scheduler/shard-planner';
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

describe('grouped shard planner (ratings: a user stays on one rank)', () => {
  it('cuts only between groups, at the group start nearest an even split', () => {
    expect(planGroupedShards([0, 0, 0, 1, 2, 2], 2)).toEqual([{ begin: 0, end: 3 }, { begin: 3, end: 6 }]);
    expect(planGroupedShards([0, 1, 1, 1, 1, 2], 2)).toEqual([{ begin: 0, end: 1 }, { begin: 1, end: 6 }]);
    // A group larger than a share leaves a rank with no rows rather than splitting it.
    expect(planGroupedShards([0, 0, 0, 0], 2)).toEqual([{ begin: 0, end: 4 }, { begin: 4, end: 4 }]);
  });

  it('keeps every group whole and the shards within one group of even on real-sized groups', () => {
    const groups: number[] = [];
    for (let g = 0; g < 900; g++) for (let i = 0; i < 20 + (g * 37) % 150; i++) groups.push(g);
    const shards = planGroupedShards(groups, 4);
    expect(shards[0].begin).toBe(0);
    expect(shards[3].end).toBe(groups.length);
    for (let k = 1; k < 4; k++) {
      expect(shards[k].begin).toBe(shards[k - 1].end);
      expect(groups[shards[k].begin]).not.toBe(groups[shards[k].begin - 1]);
      expect(Math.abs(shards[k].begin - (k * groups.length) / 4)).toBeLessThanOrEqual(170);
    }
  });

  it("cuts a second table where the first's groups begin: a user's test rows go to the rank holding its training rows", () => {
    const train = [0, 0, 1, 1, 2, 3, 3];
    const test = [0, 1, 1, 3, 4, 5];
    const shards = planGroupedShards(train, 2);
    expect(shards).toEqual([{ begin: 0, end: 4 }, { begin: 4, end: 7 }]);
    // Users 4 and 5 never trained: the last rank takes them.
    expect(alignShards(shards, train, test)).toEqual([{ begin: 0, end: 3 }, { begin: 3, end: 6 }]);
  });
});

describe('placement', () => {
  it('places the oldest job that fits and lets a smaller one use what is left', () => {
    const placements = decidePlacements([{ id: 'big', workers: 3 }, { id: 'small', workers: 1 }, { id: 'two', workers: 2 }], ['w1', 'w2']);
    expect(placements).toEqual([{ jobId: 'small', workerIds: ['w1'] }]);
  });
});
