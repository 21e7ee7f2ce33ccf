import { ArgumentError } from '../../shared/errors';
import { RowInit, TABLE_RULES, UpdateRuleSpec } from '../../shared/ps/rules';
import { fillNormal, mixSeed } from '../../shared/random';

/** A row table's state in a checkpoint. */
export interface RowTableState {
  value: Float32Array;
  /** 1 for each row created so far. */
  created: Uint8Array;
  squares: Float32Array | null;
}

/** Rows a step's slots start with; they grow by doubling. */
const INITIAL_SLOTS = 64;

/**
 * A parameter-server key that is a table of rows addressed by id (a
 * recommender's item factors). A step touches only the rows its pushes
 * name: their sums collect in per-step slots, and applying the step costs
 * the touched rows, never the table. A row is created on first touch (push
 * or read) from its id alone, so its first value is the same whoever
 * touched it first and whatever the order.
 *
 * @example
 * const t = new RowTable(1682, 101, { kind: 'normal', mean: 0, std: 0.1, seed: 7 }, { name: 'sgd', learningRate: 0.005 });
 * t.add(Uint32Array.of(3, 9), grads);   // rank 0's rows 3 and 9
 * t.add(Uint32Array.of(9), more);       // rank 1's row 9: summed
 * t.apply();                            // rows 3 and 9 step; no other row is read
 * t.read(Uint32Array.of(9, 40));        // row 40 is created now
 */
export class RowTable {
  readonly value: Float32Array;
  private readonly created: Uint8Array;
  /** AdaGrad's running squared-gradient sums, per element. */
  private readonly squares: Float32Array | null;
  /** Slot of each row touched this step, else -1. */
  private readonly slotOf: Int32Array;
  private touched = new Uint32Array(INITIAL_SLOTS);
  private sums = new Float64Array(INITIAL_SLOTS);
  private slots = 0;

  constructor(readonly rows: number, readonly width: number, private readonly init: RowInit, private readonly rule: UpdateRuleSpec) {
    if (!TABLE_RULES.includes(rule.name)) throw new ArgumentError(`a row table takes rule ${TABLE_RULES.map((r) => `'${r}'`).join(', ')}, got '${rule.name}'`);
    if (!(width >= 1)) throw new ArgumentError(`a row table's rows need at least 1 value, got ${width}`);
    this.value = new Float32Array(rows * width);
    this.created = new Uint8Array(rows);
    this.squares = rule.name === 'adagrad' ? new Float32Array(rows * width) : null;
    this.slotOf = new Int32Array(rows).fill(-1);
    this.sums = new Float64Array(INITIAL_SLOTS * width);
  }

  /** Rows touched by the step being collected. */
  get touchedRows(): number {
    return this.slots;
  }

  /**
   * Adds pushed rows into the step's sums.
   * @throws ArgumentError for a row outside the table (nothing is added then).
   */
  add(ids: Uint32Array, data: Float32Array | Float64Array): void {
    this.check(ids);
    const w = this.width;
    for (let i = 0; i < ids.length; i++) {
      const row = ids[i];
      let slot = this.slotOf[row];
      if (slot < 0) slot = this.newSlot(row);
      addRow(this.sums, slot * w, data, i * w, w);
    }
  }

  /** Applies the rule to every touched row, then starts an empty step. */
  apply(): void {
    const w = this.width;
    for (let s = 0; s < this.slots; s++) {
      const row = this.touched[s];
      this.ensure(row);
      const at = row * w;
      const from = s * w;
      switch (this.rule.name) {
        case 'sum':
          writeRow(this.value, at, this.sums, from, w);
          break;
        case 'sgd':
          sgdRow(this.value, at, this.sums, from, w, this.rule.learningRate);
          break;
        case 'adagrad':
          adagradRow(this.value, this.squares!, at, this.sums, from, w, this.rule.learningRate, this.rule.epsilon);
          break;
      }
      this.slotOf[row] = -1;
    }
    this.slots = 0;
  }

  /** Copies of the table's state (values, which rows exist, AdaGrad's sums), for a checkpoint; the step being collected is left out. */
  snapshot(): RowTableState {
    return { value: this.value.slice(), created: this.created.slice(), squares: this.squares?.slice() ?? null };
  }

  /** Takes back a {@link snapshot} of a table of the same shape and rule. @throws ArgumentError when it does not fit. */
  restore(state: RowTableState): void {
    if (state.value.length !== this.value.length || state.created.length !== this.created.length || (state.squares === null) !== (this.squares === null)) {
      throw new ArgumentError(`a checkpointed row table does not fit a table of ${this.rows} rows of ${this.width}`);
    }
    this.value.set(state.value);
    this.created.set(state.created);
    if (this.squares) this.squares.set(state.squares!);
  }

  /** Copies of the named rows, in the order named; rows not yet created are created. */
  read(ids: Uint32Array): Float32Array {
    this.check(ids);
    const w = this.width;
    const out = new Float32Array(ids.length * w);
    for (let i = 0; i < ids.length; i++) {
      const row = ids[i];
      this.ensure(row);
      out.set(this.value.subarray(row * w, (row + 1) * w), i * w);
    }
    return out;
  }

  /** The whole table, every row created. */
  readAll(): Float32Array {
    for (let row = 0; row < this.rows; row++) this.ensure(row);
    return this.value;
  }

  private check(ids: Uint32Array): void {
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] >= this.rows) throw new ArgumentError(`row ${ids[i]} is outside the table's ${this.rows} rows`);
    }
  }

  private newSlot(row: number): number {
    if (this.slots === this.touched.length) {
      const touched = new Uint32Array(this.touched.length * 2);
      touched.set(this.touched);
      this.touched = touched;
      const sums = new Float64Array(this.sums.length * 2);
      sums.set(this.sums);
      this.sums = sums;
    }
    const slot = this.slots++;
    this.touched[slot] = row;
    this.slotOf[row] = slot;
    this.sums.fill(0, slot * this.width, (slot + 1) * this.width);
    return slot;
  }

  /** Creates a row on first touch with the seeded initializer of its id. */
  private ensure(row: number): void {
    if (this.created[row]) return;
    this.created[row] = 1;
    const at = row * this.width;
    if (this.init.kind === 'normal') fillNormal(this.value, at, this.width, this.init.mean, this.init.std, mixSeed(this.init.seed, row));
    if (this.squares && this.rule.name === 'adagrad') this.squares.fill(this.rule.initialAccumulator, at, at + this.width);
  }
}

// Row loops as top-level functions over typed arrays, which V8 keeps optimized.
function addRow(sums: Float64Array, at: number, data: Float32Array | Float64Array, from: number, w: number): void {
  for (let j = 0; j < w; j++) sums[at + j] += data[from + j];
}

function writeRow(value: Float32Array, at: number, sums: Float64Array, from: number, w: number): void {
  for (let j = 0; j < w; j++) value[at + j] = sums[from + j];
}

function sgdRow(value: Float32Array, at: number, sums: Float64Array, from: number, w: number, lr: number): void {
  for (let j = 0; j < w; j++) value[at + j] -= lr * sums[from + j];
}

function adagradRow(value: Float32Array, squares: Float32Array, at: number, sums: Float64Array, from: number, w: number, lr: number, eps: number): void {
  for (let j = 0; j < w; j++) {
    const g = sums[from + j];
    const g2 = squares[at + j] + g * g;
    squares[at + j] = g2;
    value[at + j] -= (lr * g) / (Math.sqrt(g2) + eps);
  }
}
