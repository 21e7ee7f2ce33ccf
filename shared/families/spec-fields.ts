import { SpecError } from '../errors';

/**
 * Reads fields of one object of a model spec (the schema checks only the
 * family-independent ones), throwing SpecError with the field's full path.
 *
 * @example
 * const f = new SpecFields(raw, 'model.layers[0]');
 * const filters = f.int('filters', { min: 1, max: 4096 });
 */
export class SpecFields {
  constructor(private readonly obj: Record<string, unknown>, readonly path: string) {}

  /** @throws SpecError naming the first field that is not in `allowed`. */
  only(allowed: readonly string[], what: string): void {
    for (const key of Object.keys(this.obj)) {
      if (!allowed.includes(key)) throw new SpecError(`${this.path}.${key}`, `is not a field of ${what} (allowed: ${allowed.join(', ')})`);
    }
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  int(key: string, range: { min: number; max: number; default?: number }): number {
    const v = this.obj[key] ?? range.default;
    if (v === undefined) throw new SpecError(`${this.path}.${key}`, 'is required');
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
      throw new SpecError(`${this.path}.${key}`, `must be an integer ≥ ${range.min} and ≤ ${range.max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  fraction(key: string, fallback: number): number {
    const v = this.obj[key] ?? fallback;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new SpecError(`${this.path}.${key}`, `must be a number ≥ 0 and < 1, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.obj[key] ?? fallback;
    if (typeof v !== 'boolean') throw new SpecError(`${this.path}.${key}`, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback?: T): T {
    const v = this.obj[key] ?? fallback;
    if (v === undefined) throw new SpecError(`${this.path}.${key}`, `is required: one of ${choices.map((c) => `'${c}'`).join(', ')}`);
    if (typeof v !== 'string' || !choices.includes(v as T)) {
      throw new SpecError(`${this.path}.${key}`, `must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }

  object(key: string): SpecFields | null {
    const v = this.obj[key];
    if (v === undefined) return null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SpecError(`${this.path}.${key}`, `must be an object, got ${JSON.stringify(v)}`);
    return new SpecFields(v as Record<string, unknown>, `${this.path}.${key}`);
  }

  /** Each item of an array of objects, with its own path (`model.layers[2]`). */
  objects(key: string): SpecFields[] | null {
    const v = this.obj[key];
    if (v === undefined) return null;
    if (!Array.isArray(v) || v.length === 0) throw new SpecError(`${this.path}.${key}`, `must be a non-empty array, got ${JSON.stringify(v)}`);
    return v.map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new SpecError(`${this.path}.${key}[${i}]`, `must be an object, got ${JSON.stringify(item)}`);
      return new SpecFields(item as Record<string, unknown>, `${this.path}.${key}[${i}]`);
    });
  }
}
