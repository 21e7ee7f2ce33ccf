import { NativeAddon, loadNativeAddon } from '../../shared/native-addon';

/** The loops the parameter server calls. */
const LOOPS = ['adamStep', 'sgdStep', 'addInto32', 'overwrite32'] as const satisfies readonly (keyof NativeAddon)[];

/**
 * The oneDNN addon's parameter-server loops (Adam, SGD and momentum, summing a push) where the
 * addon is built, or null: the JavaScript loops then run. Both do the same
 * arithmetic in the same order in doubles, so they give the same bits; the
 * native ones are vectorized (`bench/ps-throughput.ts` times the store's step).
 */
export const nativeLoops: NativeAddon | null = ((): NativeAddon | null => {
  const load = loadNativeAddon();
  if (!load.ok) return null;
  // An addon built from older sources lacks the newer loops: the JavaScript ones run instead of failing a push.
  const complete = LOOPS.every((name) => typeof load.addon[name] === 'function');
  return complete ? load.addon : null;
})();

/** Keys this small are not worth a call across Node-API. */
export const NATIVE_LOOP_MIN = 256;
