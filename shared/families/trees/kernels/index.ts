/**
 * Numerical kernels of the tree families (gradient-boosted trees and random
 * forests): hashing, binning, histograms, split finding, row partitioning,
 * the tree format and boosting objectives. All pure and deterministic, so the
 * same job builds the same trees on any number of workers.
 */
export { hash32, unitUniform, poissonOne, sampleFeatures } from './hashing';
export { SKETCH_CELLS, localRanges, localSketch, cutsFromSketch, binColumns, binOf, cutsToJson, cutsFromJson } from './binning';
export type { BinCuts, BinCutsJson } from './binning';
export { layoutOf, buildGradHist, buildStatHist, buildClassHist, subtractHist } from './histogram';
export type { HistLayout, ClassIds } from './histogram';
export { bestGradSplit, gradLeafWeight, bestImpuritySplit, nodeStats } from './split';
export type { GradSplitParams, GradSplit, ImpurityCriterion, ImpuritySplit } from './split';
export { partitionRows } from './partition';
export { emptyTree, addNode, setSplit, leafOfBinned, leafOfRow, treeToJson, treeFromJson, featureGains } from './tree';
export type { Tree, TreeJson } from './tree';
export { gradients, lossSum, numProbabilities, probabilities, quantize, quantizationScale } from './objectives';
export type { ObjectiveName } from './objectives';
