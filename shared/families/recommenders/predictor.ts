import { parseRatings } from '../../data/ratings';
import { readText } from '../../data/files';
import { Table } from '../../data/table';
import { ModelMeta } from '../model-meta';
import { Prediction, Predictor } from '../types';
import { LoadedRecommender, readRecommender } from './model-files';

/**
 * Index of each id in the model's list; an id the model never saw gets an
 * index past the known ones (estimated from what is known).
 */
function indexer(known: readonly string[]): (id: string) => number {
  const index = new Map(known.map((id, i) => [id, i]));
  return (id) => {
    let i = index.get(id);
    if (i === undefined) index.set(id, (i = index.size));
    return i;
  };
}

/** `tfleet predict` for a recommender: estimated ratings of the (user, item) rows of a ratings file. */
class RecommenderPredictor implements Predictor {
  constructor(readonly meta: ModelMeta, private readonly loaded: LoadedRecommender) {}

  async readInput(file: string): Promise<Table> {
    const t = parseRatings(await readText(file), { ...this.meta.reader, format: 'ratings', path: file, label: 'rating' });
    const user = indexer(this.loaded.users);
    const item = indexer(this.loaded.items);
    const x = new Float32Array(t.rows * 2);
    for (let r = 0; r < t.rows; r++) {
      x[2 * r] = user(t.ids!.users[t.x[2 * r]]);
      x[2 * r + 1] = item(t.ids!.items[t.x[2 * r + 1]]);
    }
    return { ...t, x, ids: { users: this.loaded.users, items: this.loaded.items } };
  }

  predict(input: Table): Prediction[] {
    const out: Prediction[] = [];
    for (let r = 0; r < input.rows; r++) out.push({ value: this.loaded.model.estimate(input.x[2 * r], input.x[2 * r + 1]) });
    return out;
  }

  dispose(): void {
    // Typed arrays only.
  }
}

export async function loadRecommenderPredictor(dir: string, meta: ModelMeta): Promise<Predictor> {
  return new RecommenderPredictor(meta, await readRecommender(dir));
}
