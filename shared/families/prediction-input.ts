import { applyNormalizer, parseCsv, parseJsonl, readIdxSamples } from '../data';
import { readText } from '../data/files';
import { Table } from '../data/table';
import { DataError } from '../errors';
import { ModelMeta } from './model-meta';

/**
 * Reads rows to predict the way the model's training data was read: same
 * format and fields (a label, if present, is ignored), same scaling, and
 * standardized with the saved normalizer. Every family's predictor reads
 * its input through this.
 *
 * @throws DataError naming the file, line and field of a bad row, or a sample shape the model does not take.
 */
export async function readPredictionInput(meta: ModelMeta, file: string): Promise<Table> {
  const source = { ...meta.reader, path: file };
  let table: Table;
  if (meta.reader.format === 'idx') {
    table = await readIdxSamples(file, typeof meta.reader.scale === 'number' ? meta.reader.scale : undefined);
  } else {
    const text = await readText(file);
    table = meta.reader.format === 'csv'
      ? parseCsv(text, { ...source, features: meta.features.length ? [...meta.features] : undefined })
      : parseJsonl(text, source);
  }
  if (table.sampleShape.join() !== meta.sampleShape.join()) {
    throw new DataError(`${file}: samples of shape [${table.sampleShape.join(', ')}]; the model takes [${meta.sampleShape.join(', ')}]`);
  }
  if (meta.normalizer) applyNormalizer(table, meta.normalizer);
  return table;
}
