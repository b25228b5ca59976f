/**
 * Every failure the core reports to a caller is a `SerError` with a stable machine-readable `code`.
 * Handlers turn these into HTTP 4xx bodies or `FAILED` prediction records; anything that is *not* a
 * `SerError` is an infrastructure fault and is rethrown so that retries and the DLQ handle it.
 */
export const ERROR_CODES = [
  'UNSUPPORTED_FORMAT',
  'CORRUPT_AUDIO',
  'EMPTY_AUDIO',
  'TOO_LONG',
  'TOO_LARGE',
  'NO_SPEECH',
  'MODEL_INVALID',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class SerError extends Error {
  override readonly name: string = 'SerError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Audio that cannot be turned into samples: the input's fault, never retried. */
export class AudioError extends SerError {
  override readonly name = 'AudioError';
}

/** A model package that is missing, corrupt or incompatible with this core. */
export class ModelError extends SerError {
  override readonly name = 'ModelError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_INVALID', message, options);
  }
}

export const isSerError = (error: unknown): error is SerError => error instanceof SerError;
