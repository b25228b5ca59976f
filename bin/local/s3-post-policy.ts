import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type createBusboy from 'busboy';

/**
 * S3's browser-form upload (POST Object with a SigV4 POST policy), checked as S3 checks it: s3rver stores
 * any form it is given, policy or not. See docs/dependencies.md (Local S3).
 */

/** A request S3 would refuse, with S3's status, code and message. */
export class S3Refusal extends Error {
  override readonly name = 'S3RefusalError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const accessDenied = (message = 'Access Denied') => new S3Refusal(403, 'AccessDenied', message);
const againstPolicy = (why: string) => accessDenied(`Invalid according to Policy: ${why}`);
const invalidPolicy = (why: string) => new S3Refusal(400, 'InvalidPolicyDocument', `Invalid Policy: ${why}`);

/** S3 refuses a form whose fields before the file take more than 20 KB. */
const PRE_DATA_LIMIT = 20 * 1024;
/** Fields a policy need not mention (S3's list). */
const UNCOVERED = (name: string) =>
  name === 'policy' || name === 'x-amz-signature' || name === 'file' || name.startsWith('x-ignore-');
const SIGV4_FIELDS = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'policy', 'x-amz-signature'];

/** Form fields before the file, by lower-cased name (S3 matches field names without case). */
export type FormFields = Map<string, string>;
export interface SizeRange {
  min: number;
  max: number;
}
interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

// The parser s3rver itself uses, with its defaults: both read the same bytes into the same fields.
const requireFromS3rver = createRequire(createRequire(import.meta.url).resolve('@20minutes/s3rver'));
const busboy = requireFromS3rver('busboy') as typeof createBusboy;

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The form's SigV4 signature: HMAC-SHA256 of the base64 policy with the key derived from the secret. */
export function checkSignature(fields: FormFields, credentials: Credentials): void {
  // No policy and no signature: an anonymous form, refused as by a private bucket.
  if (!fields.has('policy') && !fields.has('x-amz-signature')) throw accessDenied();
  for (const name of SIGV4_FIELDS) {
    if (!fields.get(name)) {
      throw new S3Refusal(
        400,
        'InvalidArgument',
        `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
      );
    }
  }
  if (fields.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') {
    throw new S3Refusal(400, 'InvalidArgument', 'Only the AWS4-HMAC-SHA256 algorithm is supported here');
  }
  const [accessKeyId, date = '', region = '', service = '', terminator = ''] = (
    fields.get('x-amz-credential') ?? ''
  ).split('/');
  if (accessKeyId !== credentials.accessKeyId) {
    throw new S3Refusal(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  }
  const signingKey = [date, region, service, terminator].reduce<string | Buffer>(
    (key, part) => hmac(key, part),
    `AWS4${credentials.secretAccessKey}`,
  );
  const expected = hmac(signingKey, fields.get('policy') ?? '');
  const given = fields.get('x-amz-signature') ?? '';
  if (!/^[0-9a-f]{64}$/.test(given) || !timingSafeEqual(Buffer.from(given, 'hex'), expected)) {
    throw new S3Refusal(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
}

function decodePolicy(base64: string): { expiration: unknown; conditions: unknown[] } {
  let policy: unknown;
  try {
    policy = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  const { expiration, conditions } = (policy ?? {}) as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  if (!Array.isArray(conditions)) throw invalidPolicy("Invalid 'conditions' value: must be a List.");
  return { expiration, conditions };
}

/** A condition as the `[operator, "$field", value]` comparisons it stands for (an object is one `eq` per entry). */
function comparisons(condition: unknown): unknown[][] {
  if (Array.isArray(condition)) return [condition];
  if (typeof condition === 'object' && condition !== null) {
    return Object.entries(condition).map(([field, value]) => ['eq', `$${field}`, value]);
  }
  return [[condition]];
}

function comparisonHolds(comparison: unknown[], fields: FormFields, bucket: string): string | undefined {
  const [operator, field, expected] = comparison;
  if (comparison.length !== 3 || typeof field !== 'string' || !field.startsWith('$')) return undefined;
  if (typeof expected !== 'string' || (operator !== 'eq' && operator !== 'starts-with')) return undefined;
  const name = field.slice(1).toLowerCase();
  // The bucket condition is about the bucket posted to, whatever the form says.
  const value = name === 'bucket' ? bucket : fields.get(name);
  if (value === undefined) return undefined;
  return (operator === 'eq' ? value === expected : value.startsWith(expected)) ? name : undefined;
}

function sizeRange(condition: unknown[], range: SizeRange): SizeRange {
  const [, min, max] = condition;
  if (condition.length !== 3 || !Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
    throw invalidPolicy('Invalid content-length-range.');
  }
  return { min: Math.max(range.min, min as number), max: Math.min(range.max, max as number) };
}

/** The policy's expiration and conditions against the form's fields; returns the allowed file size. */
export function checkPolicy(fields: FormFields, bucket: string, now: Date): SizeRange {
  const policy = decodePolicy(fields.get('policy') ?? '');
  const expires = typeof policy.expiration === 'string' ? Date.parse(policy.expiration) : Number.NaN;
  if (Number.isNaN(expires)) throw invalidPolicy("Invalid 'expiration' value.");
  if (expires <= now.getTime()) throw againstPolicy('Policy expired.');
  let range: SizeRange = { min: 0, max: Number.POSITIVE_INFINITY };
  const covered = new Set<string>();
  for (const condition of policy.conditions) {
    if (Array.isArray(condition) && condition[0] === 'content-length-range') {
      range = sizeRange(condition, range);
      continue;
    }
    for (const comparison of comparisons(condition)) {
      const name = comparisonHolds(comparison, fields, bucket);
      if (name === undefined) {
        throw againstPolicy(
          `Policy Condition failed: [${comparison.map((v) => JSON.stringify(v)).join(', ')}]`,
        );
      }
      covered.add(name);
    }
  }
  const extra = [...fields.keys()].filter((name) => !covered.has(name) && !UNCOVERED(name));
  if (extra.length > 0) throw againstPolicy(`Extra input fields: ${extra.join(', ')}`);
  return range;
}

const sizeRefusal = (size: number, range: SizeRange) =>
  size > range.max
    ? new S3Refusal(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size')
    : new S3Refusal(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size');

const malformed = () =>
  new S3Refusal(
    400,
    'MalformedPOSTRequest',
    'The body of your POST request is not well-formed multipart/form-data.',
  );
const noFile = () =>
  new S3Refusal(400, 'InvalidArgument', 'POST requires exactly one file upload per request.');
const preDataTooLarge = () =>
  new S3Refusal(
    400,
    'MaxPostPreDataLengthExceeded',
    'Your POST request fields preceeding the upload file was too large.',
  );

/**
 * Reads a POST form, calling `verify` with the fields once the file part begins (S3 ignores fields after
 * it), and resolves with the whole body for s3rver to parse again. Nothing past the first 20 KB is kept
 * before the form is verified, nor more than the policy's size range after.
 */
export function readVerifiedForm(
  req: Readable,
  headers: IncomingHttpHeaders,
  verify: (fields: FormFields) => SizeRange,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const fields: FormFields = new Map();
    let received = 0;
    let fileBytes = 0;
    let range: SizeRange | undefined;
    let settled = false;
    // Before the policy is verified, only S3's 20 KB of fields; after, the file and the trailing boundary.
    const limit = () => (range === undefined ? PRE_DATA_LIMIT : range.max + 2 * PRE_DATA_LIMIT);
    const onData = (chunk: Buffer) => {
      if (received > limit()) fail(range === undefined ? preDataTooLarge() : sizeRefusal(received, range));
      received += chunk.length;
      chunks.push(chunk);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.unpipe();
      req.resume(); // the rest is read and dropped, so the client gets the answer
      reject(error instanceof S3Refusal ? error : malformed());
    };
    const countFile = (bytes: number) => {
      fileBytes += bytes;
      if (range && fileBytes > range.max) fail(sizeRefusal(fileBytes, range));
    };
    const parser = parseForm(headers, fields, {
      onFile: () => {
        try {
          range = verify(fields);
        } catch (error) {
          fail(error);
        }
        return range !== undefined && !settled;
      },
      onFileBytes: countFile,
      onError: fail,
      onEnd: () => {
        if (range === undefined) fail(noFile());
        else if (fileBytes < range.min) fail(sizeRefusal(fileBytes, range));
        else if (!settled) {
          settled = true;
          resolve(Buffer.concat(chunks));
        }
      },
    });
    if (!parser) return fail(malformed());
    req.on('data', onData);
    req.pipe(parser);
  });
}

interface FormEvents {
  /** The file part begins; false stops counting its bytes. */
  onFile(): boolean;
  onFileBytes(bytes: number): void;
  onError(error: unknown): void;
  onEnd(): void;
}

/** busboy read as s3rver's postObject reads it: fields up to the first `file` part, which is the upload. */
function parseForm(headers: IncomingHttpHeaders, fields: FormFields, events: FormEvents) {
  let parser: ReturnType<typeof busboy>;
  try {
    parser = busboy({ headers });
  } catch {
    return undefined;
  }
  let fileSeen = false;
  parser.on('field', (name, value, info) => {
    if (fileSeen) return;
    const lower = name.toLowerCase();
    if (info.nameTruncated || info.valueTruncated || (name !== 'file' && fields.has(lower))) {
      return events.onError(
        new S3Refusal(400, 'InvalidArgument', `The form field ${lower} is repeated or too long`),
      );
    }
    if (name !== 'file') return fields.set(lower, value);
    // A part named file without a file name arrives as a field; s3rver stores it all the same.
    fileSeen = true;
    if (events.onFile()) events.onFileBytes(Buffer.byteLength(value));
  });
  parser.on('file', (name, stream) => {
    if (name !== 'file' || fileSeen) return stream.resume();
    fileSeen = true;
    if (!events.onFile()) return stream.resume();
    stream.on('data', (chunk: Buffer) => events.onFileBytes(chunk.length));
  });
  parser.on('error', events.onError);
  parser.on('finish', events.onEnd);
  return parser;
}
