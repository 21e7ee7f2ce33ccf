import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../../shared/errors';
import { binColumns, cutsFromSketch, localRanges, localSketch } from '../../../shared/families/trees/kernels/binning';
import {
  Tree, addNode, emptyTree, featureGains, leafOfBinned, leafOfRow, setSplit, treeFromJson, treeToJson,
} from '../../../shared/families/trees/kernels/tree';
import { seededRandom } from '../../../shared/random';

/** A stump on feature 2 (bin 3) with a second split on feature 0 under its right child. */
function smallTree(): Tree {
  const t = emptyTree(1);
  const root = addNode(t, [0]);
  const l = addNode(t, [-1]);
  const r = addNode(t, [1]);
  setSplit(t, root, 2, 3, 0.5, true, 10, l, r);
  const rl = addNode(t, [2]);
  const rr = addNode(t, [3]);
  setSplit(t, r, 0, 1, -0.25, false, 4, rl, rr);
  return t;
}

describe('tree', () => {
  it('sends rows to the same leaf from bin codes and from raw values, NaNs included', () => {
    const rows = 3000;
    const cols = 6;
    const rand = seededRandom(21);
    const x = Float32Array.from({ length: rows * cols }, (_, i) => {
      if (rand() < 0.1) return NaN;
      return i % cols === 3 ? Math.floor(rand() * 5) : rand() * 4 - 2;
    });
    const ranges = localRanges(x, rows, cols);
    const cuts = cutsFromSketch(localSketch(x, rows, cols, ranges), ranges, cols, 32);
    const bins = binColumns(x, rows, cols, cuts);
    // A random complete tree of depth 6 on the cuts.
    const t = emptyTree(1);
    addNode(t, [0]);
    for (let node = 0; node < 63; node++) {
      const f = Math.floor(rand() * cols);
      const k = cuts.thresholds[f].length + 1;
      if (k < 2) continue;
      const bin = 1 + Math.floor(rand() * (k - 1));
      const l = addNode(t, [node * 2]);
      const r = addNode(t, [node * 2 + 1]);
      setSplit(t, node, f, bin, cuts.thresholds[f][bin - 1], rand() < 0.5, 1, l, r);
    }
    let leaves = 0;
    const seen = new Set<number>();
    for (let r = 0; r < rows; r++) {
      const a = leafOfBinned(t, bins, rows, r);
      const b = leafOfRow(t, x, cols, r);
      if (a !== b) throw new Error(`row ${r}: binned leaf ${a}, raw leaf ${b}`);
      if (!seen.has(a)) leaves++;
      seen.add(a);
    }
    expect(leaves).toBeGreaterThan(10);
  });

  it('follows missingLeft for NaN and code 0', () => {
    const t = smallTree();
    expect(leafOfRow(t, Float32Array.from([0, 0, NaN]), 3, 0)).toBe(1);
    expect(leafOfRow(t, Float32Array.from([-0.3, 0, 0.5]), 3, 0)).toBe(3);
    expect(leafOfRow(t, Float32Array.from([NaN, 0, 0.5]), 3, 0)).toBe(4);
    // Column blocks of one row: feature 0 code 0, feature 2 code 4.
    expect(leafOfBinned(t, Uint8Array.from([0, 1, 4]), 1, 0)).toBe(4);
  });

  it('round-trips through JSON', () => {
    const t = smallTree();
    expect(treeFromJson(JSON.parse(JSON.stringify(treeToJson(t))), 3)).toEqual(t);
  });

  it('rejects a child index out of range naming the field', () => {
    const o = treeToJson(smallTree());
    o.right[2] = 9;
    expect(() => treeFromJson(o, 3)).toThrow(ArgumentError);
    expect(() => treeFromJson(o, 3)).toThrow(/tree\.right\[2\]/);
  });

  it('rejects a child that is not after its parent, a shared child and a feature out of range', () => {
    const back = treeToJson(smallTree());
    back.left[2] = 1;
    expect(() => treeFromJson(back, 3)).toThrow(/tree\.left\[2\]/);
    const shared = treeToJson(smallTree());
    shared.left[2] = 4;
    expect(() => treeFromJson(shared, 3)).toThrow(/tree\.right\[2\]/);
    expect(() => treeFromJson(treeToJson(smallTree()), 2)).toThrow(/tree\.feature\[0\]/);
    const short = treeToJson(smallTree());
    short.value.pop();
    expect(() => treeFromJson(short, 3)).toThrow(/tree\.value/);
  });

  it('sums split gains per feature', () => {
    expect(Array.from(featureGains([smallTree(), smallTree()], 4))).toEqual([8, 0, 20, 0]);
  });

  it('refuses to split a node into children that come before it', () => {
    const t = emptyTree(2);
    addNode(t, [0, 1]);
    expect(() => setSplit(t, 0, 0, 1, 0, false, 1, 0, 0)).toThrow(/'left'/);
    expect(() => addNode(t, [1])).toThrow(/'value'/);
  });
});
