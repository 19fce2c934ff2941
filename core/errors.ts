/** Small named error classes; callers branch on the class, never on message text. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A run spec (or another request body: `subject`) that fails validation; `problems` lists every error as `path: message`. */
export class SpecError extends Error {
  override name = 'SpecError';
  constructor(
    readonly problems: string[],
    readonly subject = 'run spec',
  ) {
    super(`invalid ${subject}: ${problems.join('; ')}`);
  }
}

/** A valid request the farm's operator limits refuse (answered 422); `problems` names each field, the number asked and the limit. */
export class LimitError extends Error {
  override name = 'LimitError';
  constructor(
    readonly problems: string[],
    readonly subject = 'run spec',
  ) {
    super(`${subject} exceeds the farm's limits: ${problems.join('; ')}`);
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** Normalises anything thrown into an Error, so handlers never deal with `unknown`. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}
