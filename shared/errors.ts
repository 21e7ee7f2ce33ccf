/**
 * One error class per kind of failure. Messages name what failed, which item,
 * what was expected and what was found.
 *
 * @example
 * throw new SpecError('training.batchSize', 'must be an integer ≥ 1, got -4');
 */
export const ERROR_CODES = [
  'INVALID_SPEC',
  'INVALID_DATA',
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ABORTED',
  'UNAVAILABLE',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Whether a code read off the wire is one of ours. */
export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

export class TfleetError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A job spec field is missing, of the wrong type, or out of range. */
export class SpecError extends TfleetError {
  constructor(
    readonly field: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super('INVALID_SPEC', `job spec: '${field}' ${problem}`, options);
  }
}

/** A data file is missing or a cell in it is malformed. */
export class DataError extends TfleetError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_DATA', message, options);
  }
}

/** A command-line flag, environment variable or request field is invalid. */
export class ArgumentError extends TfleetError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
  }
}

export class NotFoundError extends TfleetError {
  constructor(message: string, options?: ErrorOptions) {
    super('NOT_FOUND', message, options);
  }
}

/** The job this call belongs to was cancelled or failed elsewhere. */
export class AbortedError extends TfleetError {
  constructor(message: string, options?: ErrorOptions) {
    super('ABORTED', message, options);
  }
}

/**
 * The first `max` of `values` for a message, each cut to 40 characters,
 * with ', …' when there are more: a message names what it is about without
 * listing a whole column of a file.
 */
export function fewOf(values: readonly unknown[], max = 5): string {
  const shown = values.slice(0, max).map((v) => String(v).slice(0, 40)).join(', ');
  return values.length > max ? `${shown}, …` : shown;
}

/** Formats any thrown value for a log line or a job record. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A SpecError again from its message (`job spec: 'FIELD' PROBLEM`), its field recovered. */
function specErrorOf(message: string, options?: ErrorOptions): TfleetError {
  const m = /^job spec: '([^']*)' ([\s\S]*)$/.exec(message);
  if (m) return new SpecError(m[1], m[2], options);
  return Object.assign(new TfleetError('INVALID_SPEC', message, options), { name: SpecError.name });
}

/** Rebuilds the error class of a code that crossed a process or thread boundary. */
export function errorOfCode(code: ErrorCode, message: string, options?: ErrorOptions): TfleetError {
  switch (code) {
    case 'INVALID_SPEC': return specErrorOf(message, options);
    case 'INVALID_DATA': return new DataError(message, options);
    case 'INVALID_ARGUMENT': return new ArgumentError(message, options);
    case 'NOT_FOUND': return new NotFoundError(message, options);
    case 'ABORTED': return new AbortedError(message, options);
    default: return new TfleetError(code, message, options);
  }
}
