export * from './table';
export * from './split';
export * from './moments';
export * from './dataset';
export { readTable } from './read';
export { parseCsv } from './csv';
export { parseJsonl } from './jsonl';
export { parseIdx, readIdxSamples } from './idx';
