/** Where the secret that signs an API key's callbacks comes from. */
export interface WebhookSecrets {
  /** The secret for this API key, or `undefined` when none is set (the callback cannot be signed). */
  secretFor(apiKeyId: string | undefined): Promise<string | undefined>;
}

/** One secret for every key: the local stack, whose one key is `SER_API_KEY`. */
export const staticWebhookSecret = (secret: string): WebhookSecrets => ({
  secretFor: async () => secret,
});
