/** `npm start`'s defaults for SER_DATA_DIR and SER_WEBHOOK_SECRET, which a local `ser replay` reads too. */
export const DEFAULT_DATA_DIR = '.ser-local';
export const DEFAULT_WEBHOOK_SECRET = 'local-webhook-secret';
