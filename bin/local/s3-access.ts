import { Readable } from 'node:stream';
import type S3rver from '@20minutes/s3rver';
import { accessDenied, checkPolicy, checkSignature, readVerifiedForm, S3Refusal } from './s3-post-policy.ts';

type Middleware = S3rver['middleware'][number];
type Context = Parameters<Middleware>[0];

export interface S3AccessOptions {
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The web page's origins: the only ones a browser may reach the local S3 from. */
  allowedOrigins: readonly string[];
}

const hasDotSegment = (path: string): boolean =>
  path.split('/').some((part) => part === '.' || part === '..');
const safeDecode = (path: string): string => {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
};
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const isFormPost = (ctx: Context) =>
  ctx.method === 'POST' &&
  (ctx.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === 'multipart/form-data';
const isSigned = (ctx: Context) =>
  ctx.headers.authorization !== undefined || 'X-Amz-Algorithm' in ctx.query || 'Signature' in ctx.query;

function refuse(ctx: Context, refusal: S3Refusal, corsOrigin: string | undefined): void {
  ctx.status = refusal.status;
  ctx.type = 'application/xml';
  // S3 applies the bucket's CORS rules to its errors too: the page can read why it was refused.
  if (corsOrigin) {
    ctx.set('Access-Control-Allow-Origin', corsOrigin);
    ctx.set('Vary', 'Origin');
  }
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${escapeXml(refusal.message)}</Message></Error>`;
}

/** Checks a POST form's policy and hands s3rver the body it read (s3rver would store any form). */
async function verifyFormPost(ctx: Context, options: S3AccessOptions): Promise<void> {
  const bucket = ctx.path.split('/')[1] ?? '';
  const body = await readVerifiedForm(ctx.req, ctx.headers, (fields) => {
    checkSignature(fields, options.credentials);
    return checkPolicy(fields, bucket, new Date());
  });
  ctx.req = Readable.from(body);
}

/**
 * What a private bucket allows, in front of s3rver (which verifies a signature when there is one and lets
 * anonymous requests through): signed requests, and POST forms whose policy is signed and holds. Unlike
 * on AWS, the local secret is public (s3rver's built-in account), so any web page could sign a form: a
 * request a browser sends from an origin other than the web page's is refused too. A form POST needs no
 * CORS preflight, so without this check any page open in the developer's browser could write the bucket.
 */
export function localS3Access(options: S3AccessOptions): Middleware {
  return async (ctx, next) => {
    const origin = ctx.headers.origin;
    const corsOrigin = origin !== undefined && options.allowedOrigins.includes(origin) ? origin : undefined;
    try {
      // s3rver stores objects as files: a `.`/`..` key segment (`incoming/../../x`) would leave the bucket's
      // folder. S3 keys are not paths, but we refuse such keys here (the processor refuses them in AWS).
      if (hasDotSegment(ctx.path) || hasDotSegment(safeDecode(ctx.path))) {
        throw new S3Refusal(400, 'InvalidArgument', 'Keys with "." or ".." segments are refused');
      }
      // Preflights are s3rver's (it answers them from the bucket's CORS rules).
      if (ctx.method === 'OPTIONS') return await next();
      if (origin !== undefined && corsOrigin === undefined) throw accessDenied();
      if (isFormPost(ctx)) await verifyFormPost(ctx, options);
      else if (!isSigned(ctx)) throw accessDenied();
    } catch (error) {
      if (!(error instanceof S3Refusal)) throw error;
      return refuse(ctx, error, corsOrigin);
    }
    await next();
  };
}
