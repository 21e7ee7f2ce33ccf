import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSource } from '../../config/job-spec';
import { DataError } from '../../errors';
import { baseMeta, writeModelMeta } from '../model-meta';
import { DataInfo, RatingsInfo } from '../types';
import { FactorModel, KnnModel, Recommender } from './model';
import { Csr, csrOf } from './ratings';
import { KnnSpec, RecommenderSpec } from './spec';

/** The model's description: settings, ids and where each array lies in {@link ARRAYS_FILE}. */
export const RECOMMENDER_FILE = 'recommender.json';
/** The model's arrays, little-endian, one after another. */
export const ARRAYS_FILE = 'recommender.bin';
const FORMAT = 'tfleet-recommender/1';
/** Largest model folder a predictor reads: 4 GiB of arrays. */
const MAX_ARRAY_BYTES = 4 * 2 ** 30;

/** Named arrays of a model: biases, factors, similarities and the training ratings. */
export type ModelArrays = Record<string, Float32Array | Int32Array>;

interface ArrayEntry {
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

interface RecommenderJson {
  format: string;
  family: string;
  spec: RecommenderSpec;
  mu: number;
  factors: number;
  scale: [number, number];
  users: string[];
  items: string[];
  arrays: Record<string, ArrayEntry>;
}

/** What a recommender's rank 0 writes. */
export interface RecommenderExport {
  family: string;
  spec: RecommenderSpec;
  info: DataInfo;
  ratings: RatingsInfo;
  source: FileSource;
  mu: number;
  factors: number;
  arrays: ModelArrays;
}

/** Writes `recommender.json`, `recommender.bin` and `tfleet-model.json`. */
export async function writeRecommender(dir: string, m: RecommenderExport): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries: Record<string, ArrayEntry> = {};
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(m.arrays)) {
    entries[name] = { dtype: a instanceof Int32Array ? 'int32' : 'float32', offset, length: a.length };
    parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    offset += a.byteLength;
  }
  const json: RecommenderJson = {
    format: FORMAT, family: m.family, spec: m.spec, mu: m.mu, factors: m.factors, scale: m.ratings.scale,
    users: [...m.ratings.users], items: [...m.ratings.items], arrays: entries,
  };
  await writeFile(join(dir, ARRAYS_FILE), Buffer.concat(parts));
  await writeFile(join(dir, RECOMMENDER_FILE), JSON.stringify(json));
  await writeModelMeta(dir, baseMeta(m.family, m.info, m.source, null));
}

/** A loaded recommender with what `tfleet recommend` needs besides estimates. */
export interface LoadedRecommender {
  family: string;
  spec: RecommenderSpec;
  model: Recommender;
  users: readonly string[];
  items: readonly string[];
  /** Each user's training ratings. */
  byUser: Csr;
}

/** @throws DataError naming the folder and file when it is not a recommender folder or is damaged. */
export async function readRecommender(dir: string): Promise<LoadedRecommender> {
  const file = join(dir, RECOMMENDER_FILE);
  let json: RecommenderJson;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as RecommenderJson;
  } catch (err) {
    throw new DataError(`${dir}: cannot read ${RECOMMENDER_FILE} (${(err as Error).message})`, { cause: err });
  }
  if (json.format !== FORMAT) throw new DataError(`${file}: format '${String(json.format)}', expected '${FORMAT}'`);
  const spec = reparse(json, file);
  const binPath = join(dir, ARRAYS_FILE);
  const size = (await stat(binPath).catch((err) => { throw new DataError(`${dir}: cannot read ${ARRAYS_FILE} (${(err as Error).message})`, { cause: err }); })).size;
  if (size > MAX_ARRAY_BYTES) throw new DataError(`${binPath}: ${size} bytes, more than a model folder may hold (${MAX_ARRAY_BYTES})`);
  const bin = await readFile(binPath);
  const array = (name: string): Float32Array | Int32Array => {
    const e = json.arrays[name];
    if (!e || (e.dtype !== 'float32' && e.dtype !== 'int32') || !Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.offset % 4 !== 0 || e.offset + 4 * e.length > bin.length) {
      throw new DataError(`${file}: array '${name}' is missing or lies outside ${ARRAYS_FILE}`);
    }
    const bytes = new Uint8Array(bin.buffer, bin.byteOffset + e.offset, 4 * e.length).slice();
    return e.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
  };
  const f32 = (name: string) => array(name) as Float32Array;
  const users = json.users.length;
  const items = json.items.length;
  const ratings = { users: array('ratingUsers') as Int32Array, items: array('ratingItems') as Int32Array, values: f32('ratingValues') };
  const all = { n: ratings.users.length, ...ratings };
  for (let r = 0; r < all.n; r++) {
    if (!(all.users[r] >= 0 && all.users[r] < users && all.items[r] >= 0 && all.items[r] < items)) throw new DataError(`${file}: training rating ${r} names a user or item outside the model`);
  }
  const byUser = csrOf(all, 'user', users);
  let model: Recommender;
  if (spec.family === 'knn') {
    const n = spec.basedOn === 'user' ? users : items;
    const sims = f32('sims');
    if (sims.length !== n * n) throw new DataError(`${file}: 'sims' holds ${sims.length} values for ${n} × ${n}`);
    model = new KnnModel(spec as KnnSpec, {
      mu: json.mu, sims, neighbours: spec.basedOn === 'user' ? csrOf(all, 'item', items) : byUser,
      means: f32('means'), userBias: f32('userBias'), itemBias: f32('itemBias'), users, items, scale: json.scale,
    });
  } else {
    const k = json.factors;
    const [bu, bi, p, q] = [f32('userBias'), f32('itemBias'), f32('userFactors'), f32('itemFactors')];
    if (bu.length !== users || bi.length !== items || p.length !== users * k || q.length !== items * k) throw new DataError(`${file}: bias or factor arrays do not match ${users} users, ${items} items and ${k} factors`);
    model = new FactorModel(json.mu, bu, bi, p, q, k, json.scale);
  }
  return { family: json.family, spec, model, users: json.users, items: json.items, byUser };
}

/** The saved (filled-in) spec, with the fields estimates read checked. */
function reparse(json: RecommenderJson, file: string): RecommenderSpec {
  const spec = json.spec as RecommenderSpec;
  const bad = (what: string) => new DataError(`${file}: ${what}`);
  if (typeof spec !== 'object' || spec === null || !['mf', 'baseline', 'knn'].includes(spec.family)) throw bad(`family '${String(json.family)}' is not a recommender`);
  if (!Number.isInteger(json.factors) || json.factors < 0) throw bad(`'factors' must be an integer ≥ 0`);
  if (!Array.isArray(json.users) || !Array.isArray(json.items)) throw bad("'users' and 'items' must be lists of ids");
  if (spec.family === 'knn') {
    if (!['user', 'item'].includes(spec.basedOn) || !['basic', 'means', 'baseline'].includes(spec.prediction) || !(spec.k >= 1) || !(spec.minK >= 0)) {
      throw bad("the knn settings 'basedOn', 'prediction', 'k' or 'minK' are damaged");
    }
  }
  return spec;
}
