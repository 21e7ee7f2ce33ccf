import { describe, expect, it } from 'vitest';
import { Table } from '../../../shared/data/table';
import { NaiveBayesModel, classSums, denseRows } from '../../../shared/families/naive-bayes/model';
import { decodeStrings, encodeStrings } from '../../../shared/families/text/vocabulary';

const table = (x: number[][], y: number[]): Table => ({
  source: 'fixture', featureNames: [], sampleShape: [x[0].length], labelName: 'y', firstRowLine: 1,
  rows: x.length, cols: x[0].length, x: Float32Array.from(x.flat()), y: Float32Array.from(y),
});

describe('naive Bayes estimates (the formulas scikit-learn uses)', () => {
  // Counts of 3 words in 4 documents of 2 classes.
  const t = table([[2, 1, 0], [1, 0, 0], [0, 1, 3], [0, 0, 1]], [0, 0, 1, 1]);

  it('multinomial: log P(word | class) = log((N_cw + α) / (N_c + α·V)), priors from class counts', () => {
    const sums = classSums('multinomial', t, denseRows, 2, 3);
    expect([...sums.first]).toEqual([3, 1, 0, 0, 1, 4]);
    const m = NaiveBayesModel.fit('multinomial', sums, [0, 1], 3, 1, 0);
    expect(m.a[0]).toBeCloseTo(Math.log(4 / 7), 12);
    expect(m.a[5]).toBeCloseTo(Math.log(5 / 8), 12);
    expect(m.logPrior[0]).toBeCloseTo(Math.log(0.5), 12);
    const p = m.predict(table([[3, 0, 0], [0, 0, 2]], [0, 0]), denseRows);
    expect(p.map((q) => ('label' in q ? q.label : -1))).toEqual([0, 1]);
  });

  it('bernoulli: p = (docs of the class with the word + α) / (docs of the class + 2α), absent words count', () => {
    const sums = classSums('bernoulli', t, denseRows, 2, 3);
    expect([...sums.first]).toEqual([2, 1, 0, 0, 1, 2]);
    const m = NaiveBayesModel.fit('bernoulli', sums, [0, 1], 3, 1, 0);
    expect(m.a[0]).toBeCloseTo(Math.log(3 / 4), 12);
    expect(m.b[2]).toBeCloseTo(Math.log(1 - 1 / 4), 12);
  });

  it('gaussian: per-class means and variances, grown by varSmoothing × the largest variance', () => {
    const g = table([[1, 10], [3, 10], [10, 0], [12, 2]], [0, 0, 1, 1]);
    const m = NaiveBayesModel.fit('gaussian', classSums('gaussian', g, denseRows, 2, 2), [0, 1], 2, 1, 0.1);
    expect(m.a[0]).toBe(2);
    expect(m.a[3]).toBe(1);
    // Largest overall variance: feature 0, values 1, 3, 10, 12: 21.25; so ε = 2.125.
    expect(m.b[0]).toBeCloseTo(1 + 2.125, 9);
    expect(m.evaluate(g, denseRows).correct).toBe(4);
  });

  it('refuses a negative count for multinomial, naming the row', () => {
    expect(() => classSums('multinomial', table([[1, -2]], [0]), denseRows, 1, 2)).toThrow('fixture row 1: feature 1 is -2');
  });
});

describe('vocabulary strings on the parameter server', () => {
  it('packs UTF-8 six bytes to a float64 and back', () => {
    const words = ['café', 'naïve bayes', "don't", '日本語', 'a'];
    expect(decodeStrings(encodeStrings(words))).toEqual(words);
    expect(decodeStrings(encodeStrings([]))).toEqual([]);
  });
});
