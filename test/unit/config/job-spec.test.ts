import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors';
import { validateJob, validateJobJson } from '../../../shared/job';

const base = () => ({
  name: 'wine',
  model: { family: 'softmax' },
  data: { train: { path: 'wine.csv', format: 'csv', label: 'target' }, test: { split: 0.2 } },
  training: { epochs: 40, batchSize: 32, optimizer: { name: 'adam', learningRate: 0.01 } },
  workers: 3,
  seed: 7,
  output: 'runs/wine',
});

type Spec = ReturnType<typeof base> & Record<string, any>;

/** Each malformed spec with the exact message it must produce. */
const cases: Array<[string, (s: Spec) => void, string]> = [
  ['a negative batch size', (s) => { s.training.batchSize = -4; }, "job spec: 'training.batchSize' must be an integer ≥ 1 and ≤ 1000000, got -4"],
  ['a fractional epoch count', (s) => { s.training.epochs = 2.5; }, "job spec: 'training.epochs' must be an integer ≥ 1 and ≤ 100000, got 2.5"],
  ['an unknown family', (s) => { s.model.family = 'word2vec'; }, "job spec: 'model.family' must be one of 'linear', 'logistic', 'softmax', 'mlp', 'cnn', 'rnn', 'transformer', 'keras', 'gbdt', 'forest', 'mf', 'baseline', 'knn', 'naive-bayes', 'svm', got \"word2vec\""],
  ['an unknown optimizer', (s) => { s.training.optimizer.name = 'rmsprop'; }, "job spec: 'training.optimizer.name' must be one of 'sgd', 'momentum', 'adam', got \"rmsprop\""],
  ['a zero learning rate', (s) => { s.training.optimizer.learningRate = 0; }, "job spec: 'training.optimizer.learningRate' must be a number > 0 and ≤ 100, got 0"],
  ['a holdout of 1.5', (s) => { s.data.test = { split: 1.5 }; }, "job spec: 'data.test.split' must be a number > 0 and < 1, got 1.5"],
  ['a missing label', (s) => { delete (s.data.train as Record<string, unknown>).label; }, "job spec: 'data.train.label' is required"],
  ['a missing training block', (s) => { delete (s as Record<string, unknown>).training; }, "job spec: 'training' is required"],
  ['a misspelt field', (s) => { (s.training as Record<string, unknown>).epoch = 3; }, "job spec: 'training.epoch' is not a known field (allowed here: epochs, batchSize, shuffle, evaluateEvery, optimizer)"],
  ['a negative evaluation interval', (s) => { (s.training as Record<string, unknown>).evaluateEvery = -1; }, "job spec: 'training.evaluateEvery' must be an integer ≥ 0 and ≤ 100000, got -1"],
  ['an overwrite that is not a boolean', (s) => { (s as Record<string, unknown>).overwrite = 'yes'; }, "job spec: 'overwrite' must be true or false, got \"yes\""],
  ['zero workers', (s) => { s.workers = 0; }, "job spec: 'workers' must be an integer ≥ 1 and ≤ 256, got 0"],
  ['a format that has no reader', (s) => { (s.data.train as Record<string, unknown>).format = 'parquet'; }, "job spec: 'data.train.format' must be one of 'csv', 'jsonl', 'idx', 'ratings', got \"parquet\""],
  ['a test block with both split and path', (s) => { s.data.test = { split: 0.2, path: 'x.csv' } as never; }, "job spec: 'data.test' needs either 'split' (a fraction in (0, 1)) or a file ('path', or 'images' and 'labels'), got both"],
  ['an idx source without its labels file', (s) => { s.data.train = { format: 'idx', images: 'i.gz' } as never; }, "job spec: 'data.train.labels' is required for format 'idx'"],
  ['a csv field on an idx source', (s) => { s.data.train = { format: 'idx', images: 'i.gz', labels: 'l.gz', label: 'y' } as never; }, "job spec: 'data.train.label' is not a field of format 'idx' (allowed: format, images, labels, scale, limit)"],
  ['a jsonl source with neither features nor input', (s) => { s.data.train = { format: 'jsonl', path: 'a.jsonl', label: 'y' } as never; }, "job spec: 'data.train.features' or 'input' or 'text' is required for format 'jsonl'"],
  ['hidden sizes on a linear model', (s) => { s.model = { family: 'linear', hidden: [8] } as never; }, "job spec: 'model.hidden' is not a field of family 'linear' (allowed: family, l2)"],
  ['a zero-width hidden layer', (s) => { s.model = { family: 'mlp', hidden: [16, 0] } as never; }, "job spec: 'model.hidden[1]' must be an integer ≥ 1 and ≤ 65536, got 0"],
  ['a string where a number belongs', (s) => { (s as Record<string, unknown>).seed = 'seven'; }, "job spec: 'seed' must be an integer ≥ 0 and ≤ 4294967295, got \"seven\""],
  ['a bad job name', (s) => { s.name = '../etc'; }, "job spec: 'name' must be a string matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, got \"../etc\""],
];

describe('job spec validation', () => {
  it.each(cases)('rejects %s with a message naming the field', (_what, mutate, message) => {
    const spec = base() as Spec;
    mutate(spec);
    expect(() => validateJob(spec)).toThrow(SpecError);
    expect(() => validateJob(spec)).toThrow(message);
  });

  it('rejects text that is not JSON, naming the spec', () => {
    expect(() => validateJobJson('{"model": ')).toThrow(/^job spec: '\(spec\)' is not valid JSON/);
  });

  it('rejects a spec larger than the size limit', () => {
    const spec = { ...base(), name: 'x', pad: 'y'.repeat(270_000) };
    expect(() => validateJobJson(JSON.stringify(spec))).toThrow("job spec: '(spec)' must be at most 262144 bytes");
  });

  it('fills in defaults', () => {
    const { spec } = validateJob({ model: { family: 'mlp' }, data: { train: { path: 'a.csv', label: 'y' } }, training: { epochs: 1, batchSize: 8 } });
    expect(spec.name).toBe('mlp');
    expect(spec.workers).toBe(1);
    expect(spec.data.normalize).toBe(true);
    expect(spec.data.train).toEqual({ path: 'a.csv', label: 'y', format: 'csv', delimiter: ',' });
    expect(spec.training.optimizer).toEqual({ name: 'adam', learningRate: 0.01, momentum: 0.9, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
  });

  it('gives a test file the training label by default', () => {
    const { spec } = validateJob({ ...base(), data: { train: { path: 'a.csv', label: 'y' }, test: { path: 'b.csv' } } });
    expect(spec.data.test).toEqual({ path: 'b.csv', label: 'y', format: 'csv', delimiter: ',' });
  });
});

describe('text sources and the tokenizer settings', () => {
  const yelp = { path: 'yelp.txt', delimiter: '\t', header: false, columns: ['text', 'label'], text: 'text', label: 'label' };
  const textSpec = (data: Record<string, unknown>) => ({ ...base(), data });
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['header false without columns', { train: { path: 'a.csv', label: 'y', header: false } }, "job spec: 'data.train.columns' is required when 'header' is false: the file has no header row to name its columns"],
    ['columns beside a header row', { train: { path: 'a.csv', label: 'y', columns: ['x', 'y'] } }, "job spec: 'data.train.columns' is used only with 'header': false (the header row names the columns)"],
    ['columns with header true', { train: { path: 'a.csv', label: 'y', header: true, columns: ['x', 'y'] } }, "job spec: 'data.train.columns' is used only with 'header': false"],
    ['a column named twice', { train: { ...yelp, columns: ['text', 'label', 'text'] } }, "job spec: 'data.train.columns' names column \"text\" twice"],
    ['a label that is not one of the columns', { train: { ...yelp, label: 'stars' } }, "job spec: 'data.train.label' must be one of the columns (text, label), got \"stars\""],
    ['a text column that is not one of the columns', { train: { ...yelp, text: 'review' } }, "job spec: 'data.train.text' must be one of the columns (text, label), got \"review\""],
    ['the label as the text', { train: { ...yelp, text: 'label' } }, "job spec: 'data.train.text' is the label column \"label\"; the text and the label must be different columns"],
    ['a text field on an idx source', { train: { format: 'idx', images: 'i.gz', labels: 'l.gz', text: 't' } }, "job spec: 'data.train.text' is not a field of format 'idx'"],
    ['header on a jsonl source', { train: { format: 'jsonl', path: 'a.jsonl', label: 'y', text: 't', header: false } }, "job spec: 'data.train.header' is not a field of format 'jsonl'"],
    ['a text section without a text field', { train: { path: 'a.csv', label: 'y' }, text: { ngrams: [1, 1] } }, "job spec: 'data.text' is given, but data.train has no text field: set 'data.train.text' to the column or field that holds the text"],
    ['n-grams from 2 to 1', { train: yelp, text: { ngrams: [2, 1] } }, "job spec: 'data.text.ngrams' must be [min, max] with 1 ≤ min ≤ max ≤ 3, got [2,1]"],
    ['4-grams', { train: yelp, text: { ngrams: [1, 4] } }, "job spec: 'data.text.ngrams[1]' must be an integer ≥ 1 and ≤ 3, got 4"],
    ['one n-gram size', { train: yelp, text: { ngrams: [2] } }, "job spec: 'data.text.ngrams' must be an array with at least 2 item(s) and with at most 2 items, got [2]"],
    ['an unknown stop-word list', { train: yelp, text: { stopWords: 'french' } }, "job spec: 'data.text.stopWords' must be 'none', 'english' or a list of words, got \"french\""],
    ['one hashing bucket', { train: yelp, text: { hashing: 1 } }, "job spec: 'data.text.hashing' must be null or an integer ≥ 2 and ≤ 16777216, got 1"],
    ['too many hashing buckets', { train: yelp, text: { hashing: 2 ** 24 + 1 } }, "job spec: 'data.text.hashing' must be null or an integer ≥ 2 and ≤ 16777216, got 16777217"],
    ['an unknown weighting', { train: yelp, text: { weighting: 'bm25' } }, "job spec: 'data.text.weighting' must be one of 'tfidf', 'count', 'binary', got \"bm25\""],
    ['an unknown tokenizer field', { train: yelp, text: { lowercased: false } }, "job spec: 'data.text.lowercased' is not a known field (allowed here: lowercase, ngrams, minCount, maxVocabulary, stopWords, hashing, weighting, length)"],
  ];
  it.each(cases)('rejects %s, naming the field', (_what, data, message) => {
    expect(() => validateJob(textSpec(data))).toThrow(SpecError);
    expect(() => validateJob(textSpec(data))).toThrow(message);
  });

  it('fills in the tokenizer defaults for a text source, does not standardize it, and adds no text section without one', () => {
    const { spec } = validateJob(textSpec({ train: yelp, test: { split: 0.2 } }));
    expect(spec.data.text).toEqual({ lowercase: true, ngrams: [1, 2], minCount: 1, maxVocabulary: 20000, stopWords: 'none', hashing: null, weighting: 'tfidf', length: 64 });
    expect(spec.data.normalize).toBe(false);
    expect(spec.data.train).toEqual({ ...yelp, format: 'csv' });
    const given = validateJob(textSpec({ train: yelp, text: { ngrams: [1, 1], stopWords: ['the', 'a'], hashing: 1000, weighting: 'binary' } })).spec.data.text;
    expect(given).toMatchObject({ ngrams: [1, 1], stopWords: ['the', 'a'], hashing: 1000, weighting: 'binary', lowercase: true });
    const plain = validateJob(base()).spec.data;
    expect('text' in plain).toBe(false);
    expect(plain.normalize).toBe(true);
  });

  it('takes a jsonl source with a text field and no numeric features', () => {
    const { spec } = validateJob(textSpec({ train: { format: 'jsonl', path: 'r.jsonl', label: 'stars', text: 'review' } }));
    expect(spec.data.train).toEqual({ format: 'jsonl', path: 'r.jsonl', label: 'stars', text: 'review', pad: 0 });
    expect(spec.data.normalize).toBe(false);
  });

  it('gives a test file the training text, header, columns and delimiter, unless it has its own header row', () => {
    const inherited = validateJob(textSpec({ train: yelp, test: { path: 'test.txt' } })).spec.data.test;
    expect(inherited).toEqual({ ...yelp, path: 'test.txt', format: 'csv' });
    const own = validateJob(textSpec({ train: yelp, test: { path: 'test.csv', header: true, delimiter: ',' } })).spec.data.test;
    expect(own).toEqual({ path: 'test.csv', format: 'csv', header: true, delimiter: ',', text: 'text', label: 'label' });
  });
});

describe('model specs of the network families', () => {
  const spec = (model: Record<string, unknown>) => ({ ...base(), model });
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a cnn layer of an unknown type', { family: 'cnn', layers: [{ type: 'conv3d' }] }, "job spec: 'model.layers[0].type' must be one of 'conv2d', 'maxPool2d'"],
    ['a conv layer without filters', { family: 'cnn', layers: [{ type: 'conv2d', kernelSize: 3 }] }, "job spec: 'model.layers[0].filters' is required"],
    ['a dense field on a pooling layer', { family: 'cnn', layers: [{ type: 'maxPool2d', units: 3 }] }, "job spec: 'model.layers[0].units' is not a field of a 'maxPool2d' layer (allowed: type, poolSize, strides)"],
    ['both a preset and layers', { family: 'cnn', preset: 'two-conv', layers: [{ type: 'flatten' }] }, "job spec: 'model.layers' cannot be given with 'preset'"],
    ['an unknown preset', { family: 'cnn', preset: 'resnet' }, "job spec: 'model.preset' must be one of 'two-conv', 'two-conv-bn', got \"resnet\""],
    ['an embedding without a vocabulary', { family: 'rnn', embedding: { dim: 8 } }, "job spec: 'model.embedding.vocabulary' is required"],
    ['a keras topology that is not one', { family: 'keras', topology: { class_name: 'Dense' } }, "job spec: 'model.topology' must be a Sequential or functional Model topology, got class_name \"Dense\""],
    ['a keras family without a topology', { family: 'keras' }, "job spec: 'model.topology' is required for family 'keras'"],
  ];
  it.each(cases)('rejects %s, naming the field', (_what, model, message) => {
    expect(() => validateJob(spec(model))).toThrow(message);
  });

  it('refuses standardized features for an rnn that reads token ids, and does not standardize them by default', () => {
    const explicit = spec({ family: 'rnn', embedding: { vocabulary: 100 } });
    (explicit.data as Record<string, unknown>).normalize = true;
    expect(() => validateJob(explicit)).toThrow("job spec: 'data.normalize' must be false for this 'rnn' model: it reads feature values as they are");
    expect(validateJob(spec({ family: 'rnn', embedding: { vocabulary: 100 } })).spec.data.normalize).toBe(false);
  });
});

describe('model specs of the tree families', () => {
  const trees = (model: Record<string, unknown>) => ({ model, data: { train: { path: 'x.csv', label: 'y' } } });
  it.each([
    ['a gradient family field on gbdt', { family: 'gbdt', hidden: [8] }, "job spec: 'model.hidden' is not a field of family 'gbdt' (allowed: family, objective, rounds"],
    ['a gbdt field on forest', { family: 'forest', learningRate: 0.1 }, "job spec: 'model.learningRate' is not a field of family 'forest' (allowed: family, criterion, trees"],
    ['more than 256 bins', { family: 'gbdt', maxBins: 300 }, "job spec: 'model.maxBins' must be an integer ≥ 2 and ≤ 256, got 300"],
    ['one bin', { family: 'forest', maxBins: 1 }, "job spec: 'model.maxBins' must be an integer ≥ 2 and ≤ 256, got 1"],
    ['zero rounds', { family: 'gbdt', rounds: 0 }, "job spec: 'model.rounds' must be an integer ≥ 1 and ≤ 100000, got 0"],
    ['an unknown objective', { family: 'gbdt', objective: 'hinge' }, "job spec: 'model.objective' must be one of 'squared', 'logistic', 'softmax', got \"hinge\""],
    ['a validation fraction without early stopping', { family: 'gbdt', validationFraction: 0.2 }, "job spec: 'model.validationFraction' is used only with 'earlyStoppingRounds'"],
    ['featuresPerNode as an unknown word', { family: 'forest', featuresPerNode: 'half' }, "job spec: 'model.featuresPerNode' must be one of 'sqrt', 'third', 'all', got \"half\""],
  ])('rejects %s, naming the field', (_what, model, message) => {
    expect(() => validateJob(trees(model))).toThrow(message);
  });

  it('refuses a training section on a tree family, and requires it on a gradient family', () => {
    expect(() => validateJob({ ...trees({ family: 'gbdt' }), training: { epochs: 1, batchSize: 8 } }))
      .toThrow("job spec: 'training' is not a section of family 'gbdt': its settings are fields of 'model'");
    expect(() => validateJob(trees({ family: 'softmax' }))).toThrow("job spec: 'training' is required for family 'softmax' (epochs, batchSize, optimizer)");
  });

  it('fills the defaults of XGBoost and a forest, and leaves the task to the label unless an objective says', () => {
    const g = validateJob(trees({ family: 'gbdt' }));
    expect(g.modelSpec).toMatchObject({ rounds: 100, maxDepth: 6, learningRate: 0.3, lambda: 1, gamma: 0, minChildWeight: 1, subsample: 1, colsampleByTree: 1, maxBins: 256 });
    expect(g.task).toBe('auto');
    expect(g.spec.data.normalize).toBe(false);
    expect(validateJob(trees({ family: 'gbdt', objective: 'squared' })).task).toBe('regressor');
    expect(validateJob(trees({ family: 'forest' })).modelSpec).toMatchObject({ trees: 100, maxDepth: 64, minSamplesLeaf: 1, featuresPerNode: null });
  });
});
