import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { WebhookSecrets } from './webhook-secrets.ts';

/** A rotated secret is picked up within this long; meanwhile a warm function makes no call per delivery. */
const CACHE_MS = 5 * 60 * 1000;

/**
 * Webhook secrets in Secrets Manager, one per API key, named `<prefix><API key id>` (the stack creates
 * the one of its default key; an operator adds one per further key, see the README "Callbacks").
 */
export function secretsManagerWebhookSecrets(
  client: SecretsManagerClient,
  prefix: string,
  now: () => number = Date.now,
): WebhookSecrets {
  const cache = new Map<string, { value: string | undefined; readAt: number }>();
  return {
    async secretFor(apiKeyId) {
      if (!apiKeyId) return undefined;
      const cached = cache.get(apiKeyId);
      if (cached && now() - cached.readAt < CACHE_MS) return cached.value;
      let value: string | undefined;
      try {
        value = (await client.send(new GetSecretValueCommand({ SecretId: `${prefix}${apiKeyId}` })))
          .SecretString;
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
      cache.set(apiKeyId, { value, readAt: now() });
      return value;
    },
  };
}
