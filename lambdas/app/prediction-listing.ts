/**
 * What the prediction listings page, and their cursors: which partitions of which index a listing reads,
 * how a cursor names a position in it, and how its partitions' pages merge into one, newest first. Pure
 * functions; the repository (prediction-repository.ts) runs the queries.
 */
import { createHash } from 'node:crypto';
import { DomainError } from './domain-error.ts';
import { isPredictionId } from './object-keys.ts';
import { type SpeakerRef, speakerItemId } from './speaker-repository.ts';
import { PREDICTIONS_TABLE, type SECONDARY_INDEXES } from './table-definition.ts';

/** One partition of a secondary index: the whole listing, or one speaker's records. */
export interface IndexPartition {
  index: (typeof SECONDARY_INDEXES)[number];
  value: string;
}

/** What a cursor pages: partitions of one index, merged newest first (one, but for the drop folder's). */
export interface Listing {
  index: (typeof SECONDARY_INDEXES)[number];
  values: readonly string[];
}

export const LISTING: Listing = {
  index: PREDICTIONS_TABLE.listIndex,
  values: [PREDICTIONS_TABLE.listPartition],
};
export const speakerPartition = (ref: SpeakerRef): IndexPartition => ({
  index: PREDICTIONS_TABLE.speakerIndex,
  value: speakerItemId(ref),
});
export const speakersListing = (refs: readonly SpeakerRef[]): Listing => ({
  index: PREDICTIONS_TABLE.speakerIndex,
  values: refs.map(speakerItemId),
});

/** A `cursor` that is not one this API returned (400 INVALID_CURSOR at the edge). */
export class InvalidCursorError extends DomainError {
  override readonly name = 'InvalidCursorError';
  constructor() {
    super('invalid', 'INVALID_CURSOR', 'cursor is not one this API returned');
  }
}

/** The listing's sort key: `createdAt#id`, with createdAt an ISO timestamp. */
const SORT_KEY = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)#(.+)$/;

/**
 * Cursors are opaque: a tag of the listing they page (the index and its partitions: the whole listing,
 * one speaker of one scope, or one drop-folder speaker across the speaker prefixes' scopes), then the
 * last item's sort key, base64url-encoded together. Decoding checks the tag against the listing asked
 * for, so a cursor of another listing (the general one's used with `speakerId`, one speaker's with
 * another's or without, an API key's speaker's with a drop-folder speaker's) is refused rather than
 * silently skipping records there, and rebuilds the whole start key from the sort key, so a hand-made
 * cursor is either a valid position in its listing or refused (never a 500 from DynamoDB rejecting a
 * start key that does not fit the index). The tag is a digest, so the cursor does not show the caller's
 * scope. Cursors from before the tag (the bare sort key) are refused too: they cannot say which listing
 * they came from, and a client that gets 400 INVALID_CURSOR starts again from the first page.
 */
const listingTag = ({ index, values }: Listing): string =>
  // Sorted: a deployment that lists its speaker prefixes in another order still takes its cursors.
  createHash('sha256')
    .update([index.name, ...[...values].sort()].join('\n'))
    .digest('base64url')
    .slice(0, 16);

export const encodeCursor = (item: Record<string, unknown>, listing: Listing): string =>
  Buffer.from(`${listingTag(listing)}#${String(item[listing.index.sortKey])}`).toString('base64url');

/** Where a cursor points: the last listed item's id and sort key. */
export interface Position {
  id: string;
  sortKey: string;
}

export function decodeCursor(cursor: string, listing: Listing): Position {
  if (!/^[\w-]{1,400}$/.test(cursor)) throw new InvalidCursorError();
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const separator = decoded.indexOf('#');
  const sortKey = decoded.slice(separator + 1);
  const match = SORT_KEY.exec(sortKey);
  if (
    decoded.slice(0, separator) !== listingTag(listing) ||
    !match ||
    !isPredictionId(match[2]!) ||
    Number.isNaN(Date.parse(match[1]!))
  ) {
    throw new InvalidCursorError();
  }
  return { id: match[2]!, sortKey };
}

/**
 * The start key of a position in one partition. The sort key (`createdAt#id`) is unique, so it places
 * the position in a partition the item is not in as well (DynamoDB takes any key as a position).
 */
export const startKeyAt = ({ id, sortKey }: Position, { index, value }: IndexPartition) => ({
  [PREDICTIONS_TABLE.partitionKey]: id,
  [index.partitionKey]: value,
  [index.sortKey]: sortKey,
});

/** By sort key, newest first: compared as DynamoDB does, code unit by code unit (not by locale). */
const newestFirst = (sortKey: string) => (a: Record<string, unknown>, b: Record<string, unknown>) => {
  const [x, y] = [String(a[sortKey]), String(b[sortKey])];
  return x < y ? 1 : x > y ? -1 : 0;
};

/** One partition's items, newest first, and the key to go on from when it has more. */
export interface PartitionPage {
  page: Record<string, unknown>[];
  nextKey: Record<string, unknown> | undefined;
}

/**
 * The `limit` newest items of a listing's partitions' pages, merged, and whether there are more.
 * A partition whose query stopped short (at `limit`, or at DynamoDB's 1 MB) has unread items older
 * than its last: nothing older than that is listed yet, so no record is skipped.
 */
export function mergePages(listing: Listing, pages: readonly PartitionPage[], limit: number) {
  const { sortKey } = listing.index;
  const unreadBelow = pages
    .flatMap(({ nextKey }) => (nextKey ? [String(nextKey[sortKey])] : []))
    .sort()
    .at(-1);
  const merged = pages
    .flatMap(({ page }) => page)
    .filter((item) => unreadBelow === undefined || String(item[sortKey]) >= unreadBelow)
    .sort(newestFirst(sortKey));
  return { page: merged.slice(0, limit), more: unreadBelow !== undefined || merged.length > limit };
}
