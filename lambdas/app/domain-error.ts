import type { ZodError } from 'zod';

/** What kind of failure a service reports; the API edge (http-api.ts) maps each kind to an HTTP status. */
export type DomainErrorKind = 'invalid' | 'not-found' | 'conflict' | 'unavailable';

/**
 * A failure the caller can act on, thrown by services and repositories (which know nothing of HTTP):
 * a stable `code` for clients and a message that says what to do.
 */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';

  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bad input the caller can correct (400 at the edge). */
export const invalid = (code: string, message: string) => new DomainError('invalid', code, message);
/** Nothing by that name or id (404 at the edge). */
export const notFound = (message: string) => new DomainError('not-found', 'NOT_FOUND', message);

/**
 * A request body its schema refused, as one line a person can act on: each problem with the field it is
 * in, e.g. `epochs: Too small: expected number to be >=1; dataset: no "." or ".." segments`.
 */
export const invalidRequest = (error: ZodError, field?: string) =>
  invalid(
    'INVALID_REQUEST',
    error.issues
      .map((issue) => {
        // A value parsed alone (a path parameter) has no path of its own: `field` names it.
        const path = issue.path.length ? issue.path.join('.') : field;
        return `${path ? `${path}: ` : ''}${issue.message}`;
      })
      .join('; '),
  );

/**
 * An error's message with its cause's: fetch's "fetch failed" says nothing of why, its cause does
 * ("connect ECONNREFUSED 127.0.0.1:3999", a TLS error).
 */
export function messageWithCause(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && !error.message.includes(cause) ? `${error.message}: ${cause}` : error.message;
}
