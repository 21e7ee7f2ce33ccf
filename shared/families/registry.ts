import { SpecError } from '../errors';
import { cnnFamily } from './cnn';
import { linearFamily, logisticFamily, mlpFamily, softmaxFamily } from './dense';
import { kerasFamily } from './keras';
import { naiveBayesFamily } from './naive-bayes';
import { baselineFamily, knnFamily, mfFamily } from './recommenders';
import { rnnFamily } from './rnn';
import { svmFamily } from './svm';
import { transformerFamily } from './transformer';
import { forestFamily, gbdtFamily } from './trees';
import { ModelFamily } from './types';

const families = new Map<string, ModelFamily<any>>(
  [linearFamily, logisticFamily, softmaxFamily, mlpFamily, cnnFamily, rnnFamily, transformerFamily, kerasFamily, gbdtFamily, forestFamily, mfFamily, baselineFamily, knnFamily, naiveBayesFamily, svmFamily].map((f) => [f.name, f]),
);

/** Names of every registered family. */
export function familyNames(): string[] {
  return [...families.keys()];
}

/** @throws SpecError naming 'model.family' and the known families. */
export function getFamily(name: string): ModelFamily<unknown> {
  const family = families.get(name);
  if (!family) throw new SpecError('model.family', `must be one of ${familyNames().map((n) => `'${n}'`).join(', ')}, got '${name}'`);
  return family;
}
