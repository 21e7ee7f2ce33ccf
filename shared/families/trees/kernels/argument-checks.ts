import { ArgumentError } from '../../../errors';

/**
 * Argument checks shared by the tree kernels. They run once per call, never per
 * row, so the hot loops stay free of them.
 */

/**
 * Throws unless `value` is an integer in [min, max].
 *
 * @throws ArgumentError naming `name`, the range and the value found.
 * @example requireInt('maxBins', 300, 2, 256); // throws: 'maxBins' must be an integer in [2, 256], got 300
 */
export function requireInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ArgumentError(`'${name}' must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/**
 * Throws unless `array` holds at least `needed` elements.
 *
 * @throws ArgumentError naming `name`, the length needed and the length found.
 */
export function requireLength(name: string, array: ArrayLike<unknown>, needed: number): void {
  if (array.length < needed) {
    throw new ArgumentError(`'${name}' must have at least ${needed} elements, got ${array.length}`);
  }
}
