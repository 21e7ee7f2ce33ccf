import { SpecFields } from '../spec-fields';

export type Cell = 'lstm' | 'gru' | 'simpleRnn';

export interface RnnSpec {
  family: 'rnn';
  cell: Cell;
  /** Widths of the stacked recurrent layers. */
  hidden: number[];
  bidirectional: boolean;
  /** Token sequences: ids in [0, vocabulary) embedded in `dim` dimensions. Null for numeric sequences. */
  embedding: { vocabulary: number; dim: number } | null;
  dropout: number;
  l2: number;
}

/** @throws SpecError naming the field, e.g. 'model.embedding.vocabulary'. */
export function parseRnnSpec(model: Record<string, unknown>): RnnSpec {
  const f = new SpecFields(model, 'model');
  f.only(['family', 'cell', 'hidden', 'bidirectional', 'embedding', 'dropout', 'l2'], "family 'rnn'");
  const e = f.object('embedding');
  e?.only(['vocabulary', 'dim'], 'an embedding');
  return {
    family: 'rnn',
    cell: f.oneOf('cell', ['lstm', 'gru', 'simpleRnn'], 'lstm'),
    // The schema checked 'hidden' (integers ≥ 1) for every family.
    hidden: (model.hidden as number[] | undefined) ?? [64],
    bidirectional: f.bool('bidirectional', false),
    embedding: e ? { vocabulary: e.int('vocabulary', { min: 2, max: 10_000_000 }), dim: e.int('dim', { min: 1, max: 4096, default: 32 }) } : null,
    dropout: f.fraction('dropout', 0),
    l2: (model.l2 as number | undefined) ?? 0,
  };
}
