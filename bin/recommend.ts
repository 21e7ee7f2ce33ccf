import { readItemTitles } from '../shared/data/item-titles';
import { ArgumentError } from '../shared/errors';
import { readRecommender, topItems } from '../shared/families/recommenders';

/** What `tfleet recommend` prints with --json. */
export interface RecommendationsJson {
  user: string;
  items: { item: string; score: number; title?: string }[];
  /** Set when training never saw the user: the items are the most rated ones. */
  note?: string;
}

/**
 * The `n` items a model recommends to a user it was trained with: those
 * the user has not rated, best estimate first; for an unknown user, the
 * most rated items and a note saying so. `itemsFile` adds titles.
 *
 * @throws DataError naming the model folder or items file; ArgumentError for a bad count.
 */
export async function recommend(modelDir: string, user: string, n: number, itemsFile?: string): Promise<RecommendationsJson> {
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`--top must be an integer ≥ 1, got ${n}`);
  const loaded = await readRecommender(modelDir);
  const titles = itemsFile ? await readItemTitles(itemsFile) : null;
  const index = loaded.users.indexOf(user);
  const { items, popular } = topItems(loaded.model, loaded.byUser, index < 0 ? loaded.users.length : index, n);
  return {
    user,
    items: items.map(({ item, score }) => {
      const id = loaded.items[item];
      const title = titles?.get(id);
      return { item: id, score, ...(title !== undefined ? { title } : {}) };
    }),
    ...(popular ? { note: `user '${user}' is not in the training data: these are the ${n} most rated items` } : {}),
  };
}

/** The text form: one item per line, `rank. id  score  title` (for an unknown user, `N ratings` in place of the score). */
export function recommendationsText(r: RecommendationsJson): string {
  const lines = r.note ? [`note: ${r.note}`] : [];
  // An unknown user's items are ranked by how often they were rated: the score is that count.
  const score = (s: number): string => (r.note ? `${Math.round(s)} ratings` : s.toFixed(3));
  r.items.forEach((it, k) => lines.push(`${k + 1}. ${it.item}\t${score(it.score)}${it.title !== undefined ? `\t${it.title}` : ''}`));
  return lines.join('\n') + '\n';
}
