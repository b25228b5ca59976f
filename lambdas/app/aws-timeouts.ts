/** A module of its own so that a handler needing only these options does not bundle the SDK clients. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const CONNECTION_TIMEOUT_MS = 3_000;

/**
 * The request handler options every AWS client gets (those of aws-clients.ts, and any other a handler
 * makes): fail fast on a hung connection or response. Without `throwOnRequestTimeout` the SDK only logs a
 * warning when `requestTimeout` passes.
 */
export const timeouts = (requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) => ({
  connectionTimeout: CONNECTION_TIMEOUT_MS,
  requestTimeout: requestTimeoutMs,
  throwOnRequestTimeout: true,
});
