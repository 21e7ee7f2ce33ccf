import { Table } from '../../data/table';

/** A rank's ratings as parallel arrays of user index, item index and rating. */
export interface Ratings {
  readonly n: number;
  readonly users: Int32Array;
  readonly items: Int32Array;
  readonly values: Float32Array;
}

/** The ratings of a ratings table (features: user and item index; label: rating). */
export function ratingsOf(t: Table): Ratings {
  const users = new Int32Array(t.rows);
  const items = new Int32Array(t.rows);
  for (let r = 0; r < t.rows; r++) {
    users[r] = t.x[2 * r];
    items[r] = t.x[2 * r + 1];
  }
  return { n: t.rows, users, items, values: t.y };
}

/**
 * Ratings grouped by one side (compressed rows): `others[offsets[g] ..
 * offsets[g+1])` are the items a user `g` rated (or the users of an item),
 * with their ratings, in the order the ratings came.
 */
export interface Csr {
  readonly offsets: Uint32Array;
  readonly others: Int32Array;
  readonly values: Float32Array;
}

/**
 * Groups ratings by user (`by` 'user') or by item, for `groups` groups;
 * ratings whose group index is outside [0, groups) are left out.
 */
export function csrOf(r: Ratings, by: 'user' | 'item', groups: number): Csr {
  const key = by === 'user' ? r.users : r.items;
  const other = by === 'user' ? r.items : r.users;
  const offsets = new Uint32Array(groups + 1);
  for (let i = 0; i < r.n; i++) if (key[i] >= 0 && key[i] < groups) offsets[key[i] + 1]++;
  for (let g = 0; g < groups; g++) offsets[g + 1] += offsets[g];
  const fill = offsets.slice(0, groups);
  const others = new Int32Array(offsets[groups]);
  const values = new Float32Array(offsets[groups]);
  for (let i = 0; i < r.n; i++) {
    const g = key[i];
    if (g < 0 || g >= groups) continue;
    const at = fill[g]++;
    others[at] = other[i];
    values[at] = r.values[i];
  }
  return { offsets, others, values };
}

/** Ratings per index of one side: how many ratings each user (or item) has among `r`. */
export function countsOf(r: Ratings, by: 'user' | 'item', groups: number): Float64Array {
  const key = by === 'user' ? r.users : r.items;
  const out = new Float64Array(groups);
  for (let i = 0; i < r.n; i++) if (key[i] < groups) out[key[i]]++;
  return out;
}
