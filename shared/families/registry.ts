import { SpecError } from '../errors';
import { linearFamily, logisticFamily, mlpFamily, softmaxFamily } from './dense';
import { ModelFamily } from './types';

const families = new Map<string, ModelFamily<unknown>>(
  [linearFamily, logisticFamily, softmaxFamily, mlpFamily].map((f) => [f.name, f]),
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
