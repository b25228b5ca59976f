import * as z from 'zod';

const EnvSchema = z
  .object({
    AWS_REGION: z.string().min(1).default('us-east-1'),
    /** On AWS: secrets are `<prefix><API key id>` in Secrets Manager (set by the CallbackDelivery construct). */
    WEBHOOK_SECRET_PREFIX: z.string().min(1).optional(),
    /** Off AWS only (the local stack): one secret for its one key. */
    WEBHOOK_SECRET: z.string().min(16).optional(),
    CALLBACK_ALLOW_HTTP_LOOPBACK: z.stringbool().default(false),
    /** Tries per invocation; the platform retries the invocation on top. */
    CALLBACK_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    CALLBACK_BACKOFF_MS: z.coerce.number().int().min(0).default(1000),
  })
  .refine((e) => e.WEBHOOK_SECRET_PREFIX || e.WEBHOOK_SECRET, {
    message: 'set WEBHOOK_SECRET_PREFIX (AWS) or WEBHOOK_SECRET (local)',
  });

export type CallbackConfig = Readonly<{
  region: string;
  secretPrefix: string | undefined;
  staticSecret: string | undefined;
  allowHttpLoopback: boolean;
  attempts: number;
  backoffMs: number;
}>;

/** The callback deliverer's configuration, parsed once at cold start. */
export function loadCallbackConfig(env: NodeJS.ProcessEnv = process.env): CallbackConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data;
  return Object.freeze({
    region: e.AWS_REGION,
    secretPrefix: e.WEBHOOK_SECRET_PREFIX,
    staticSecret: e.WEBHOOK_SECRET,
    allowHttpLoopback: e.CALLBACK_ALLOW_HTTP_LOOPBACK,
    attempts: e.CALLBACK_ATTEMPTS,
    backoffMs: e.CALLBACK_BACKOFF_MS,
  });
}
