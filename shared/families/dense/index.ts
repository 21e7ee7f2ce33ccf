import { DataError, fewOf } from '../../errors';
import { servingActivation } from '../layers/heads';
import { LayersReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { DataInfo } from '../types';
import { buildDenseModel, denseHead } from './model';
import { DenseSpec, parseDenseSpec } from './spec';
import { TextFeatures } from '../text/featurize';
import { LinearLoss, SparseLinear, SparseLinearReplica } from '../text/sparse-linear';

/** Text sources train logistic and softmax as sparse linear models over bags of words. */
const TEXT_LOSS: Partial<Record<DenseSpec['family'], LinearLoss>> = { logistic: 'logistic', softmax: 'softmax' };

/** Weights and biases of the dense layers: features → hidden… → outputs (one for a regression or a binary label). */
function denseParameters(spec: DenseSpec, info: DataInfo): number {
  const outputs = info.classes && info.classes.length > 2 ? info.classes.length : 1;
  const sizes = [info.numFeatures, ...spec.hidden, outputs];
  let n = 0;
  for (let i = 1; i < sizes.length; i++) n += (sizes[i - 1] + 1) * sizes[i];
  return n;
}

function denseFamily(name: DenseSpec['family'], task: 'classifier' | 'regressor', check: (info: DataInfo) => void) {
  const loss = TEXT_LOSS[name];
  const family = gradientFamily<DenseSpec>({
    ...(loss ? {
      text: {
        representation: 'bag' as const,
        createReplica: async (spec: DenseSpec, info: DataInfo, features: TextFeatures) =>
          new SparseLinearReplica(SparseLinear.for(loss, features.size, info.classes!.length), spec.l2, info.classes!, name),
      },
    } : {}),
    name,
    taskOf: () => task,
    parseSpec: parseDenseSpec,
    checkData: (_spec, info) => check(info),
    createReplica: (spec, info, seed) => LayersReplica.create({
      family: name,
      head: denseHead(spec),
      info,
      l2: spec.l2,
      // Dense networks have no layer state: every key takes the optimizer.
      ruleFor: (_key, optimizer) => optimizer,
      build: (serving) => buildDenseModel(spec, info, seed, serving ? servingActivation(denseHead(spec)) : 'linear'),
    }),
  });
  // Text jobs' width is their vocabulary, known only once the workers built it.
  return { ...family, parameterCount: (spec: DenseSpec, info: DataInfo) => (info.text ? 0 : denseParameters(spec, info)) };
}

const anyData = (): void => undefined;

/** Least squares on a numeric label. */
export const linearFamily = denseFamily('linear', 'regressor', anyData);

/** Binary logistic regression; the label must have exactly two values. */
export const logisticFamily = denseFamily('logistic', 'classifier', (info) => {
  const classes = info.classes!;
  const k = classes.length;
  if (k === 2) return;
  const numeric = classes.every((c) => Number.isFinite(Number(c)));
  const fix = k > 5 && numeric ? "use 'softmax' for classes, or 'linear' to predict the number" : "use 'softmax' for more";
  throw new DataError(`label '${info.labelName}' has ${k} classes (${fewOf(classes)}); family 'logistic' is binary: ${fix}`);
});

/** Multinomial logistic regression. */
export const softmaxFamily = denseFamily('softmax', 'classifier', anyData);

/** Multilayer perceptron classifier: hidden sizes, activation, dropout. */
export const mlpFamily = denseFamily('mlp', 'classifier', anyData);
