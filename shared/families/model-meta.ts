import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSource } from '../config/job-spec';
import { Normalizer } from '../data/moments';
import { DataError } from '../errors';
import { DataInfo } from './types';

/** The file every exported model folder holds: which family wrote it and how to read input. */
export const MODEL_META = 'tfleet-model.json';

/** What `tfleet-model.json` holds, for every family; families add their own fields. */
export interface ModelMeta {
  family: string;
  features: readonly string[];
  sampleShape: readonly number[];
  label: string;
  classes: number[] | null;
  normalizer: Normalizer | null;
  /** How to read input rows: the training source's format and fields, without its paths or label. */
  reader: Omit<FileSource, 'path' | 'images' | 'labels' | 'label' | 'limit'>;
  /** String labels: the names of classes 0, 1, …; predictions print these. */
  classNames?: readonly string[];
  /** Set when the model reads raw text: the file describing its vocabulary and features. */
  text?: { file: string };
}

export function readerOf(source: FileSource): ModelMeta['reader'] {
  const { path: _path, images: _images, labels: _labels, label: _label, limit: _limit, ...reader } = source;
  return reader;
}

/** The common metadata of a model trained on `info` from `source`. */
export function baseMeta(family: string, info: DataInfo, source: FileSource, normalizer: Normalizer | null): ModelMeta {
  return {
    family, features: info.featureNames, sampleShape: info.sampleShape, label: info.labelName,
    classes: info.classes, normalizer, reader: readerOf(source), ...(info.classNames ? { classNames: info.classNames } : {}),
  };
}

export async function writeModelMeta(dir: string, meta: ModelMeta): Promise<void> {
  await writeFile(join(dir, MODEL_META), JSON.stringify(meta, null, 2));
}

/** @throws DataError naming the folder when it holds no readable model metadata. */
export async function readModelMeta(dir: string): Promise<ModelMeta> {
  let meta: ModelMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, MODEL_META), 'utf8')) as ModelMeta;
  } catch (err) {
    throw new DataError(`${dir}: not a tfleet model folder (cannot read ${MODEL_META}: ${(err as Error).message})`, { cause: err });
  }
  if (typeof meta !== 'object' || meta === null || typeof meta.family !== 'string') throw new DataError(`${dir}/${MODEL_META}: no 'family' field`);
  if (!meta.reader) throw new DataError(`${dir}/${MODEL_META}: written by a tfleet without input readers; retrain the model to predict with it`);
  return meta;
}
