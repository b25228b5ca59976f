/**
 * Ogg's packets (RFC 3533), read from a whole file in memory: the pages of the first logical stream and
 * of the streams chained after it (each begins once the one before has ended), their lacing joined into
 * packets, and each stream's last granule position. Pages of other, multiplexed streams are skipped;
 * bytes between pages are skipped to the next capture pattern, as a damaged file has them. Page CRCs and
 * sequence numbers are not checked (a damaged packet, or one joined across a lost page, shows up when it
 * is decoded). Empty packets are dropped: no codec read here has them (an Opus packet is ≥ 1 byte), and
 * a decoder would take one for a lost packet and invent audio for it.
 */

import { AudioError } from '../errors.ts';
import { concatenated } from './concat.ts';

export interface OggLogicalStream {
  serial: number;
  /** Complete packets in order (a packet cut off by the end of the file is dropped). */
  packets: Uint8Array[];
  /** The granule position of the stream's last page that has one; -1 if none. */
  lastGranule: number;
  /** Whether a page with the end-of-stream flag was read. */
  ended: boolean;
}

const CAPTURE = [0x4f, 0x67, 0x67, 0x53]; // "OggS"
const CONTINUED = 1;
const BEGINNING = 2;
/** The end-of-stream flag of a page header. */
export const END_OF_STREAM = 4;
/** The fixed part of a page header; the segment table follows it. */
export const HEADER_BYTES = 27;

const isCapture = (bytes: Uint8Array, at: number): boolean =>
  CAPTURE.every((byte, i) => bytes[at + i] === byte);

/** The next capture pattern at or after `from`, or -1. */
function nextCapture(bytes: Uint8Array, from: number): number {
  for (let at = from; at + HEADER_BYTES <= bytes.length; at++) if (isCapture(bytes, at)) return at;
  return -1;
}

/** A page header's fields, and where its segment table and body would be. */
export interface OggPageHeader {
  flags: number;
  /** -1 when no packet ends on the page (all bits set); positions beyond 2^53 do not occur. */
  granule: number;
  serial: number;
  lacing: Uint8Array;
  /** Offset just past the page. */
  end: number;
  /** Whether the segment table and the body it promises are all in `bytes`. */
  complete: boolean;
}

interface Page extends OggPageHeader {
  body: Uint8Array;
}

/** The header at `at` (a capture pattern is there), or undefined if the fixed header itself is cut off. */
function readPageHeader(bytes: Uint8Array, at: number): OggPageHeader | undefined {
  if (at + HEADER_BYTES > bytes.length) return undefined;
  const segments = bytes[at + 26]!;
  const lacing = bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + segments);
  const end = at + HEADER_BYTES + segments + lacing.reduce((sum, value) => sum + value, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, HEADER_BYTES);
  const high = view.getInt32(10, true);
  return {
    flags: bytes[at + 5]!,
    granule: high < 0 ? -1 : high * 2 ** 32 + view.getUint32(6, true),
    serial: view.getUint32(14, true),
    lacing,
    end,
    complete: lacing.length === segments && end <= bytes.length,
  };
}

/** The page at `at` (a capture pattern is there), or undefined if its header or body runs past the end. */
function readPage(bytes: Uint8Array, at: number): Page | undefined {
  const header = readPageHeader(bytes, at);
  if (!header?.complete) return undefined;
  return { ...header, body: bytes.subarray(at + HEADER_BYTES + header.lacing.length, header.end) };
}

/** The longest an Ogg page can be: header, 255 lacing values, 255 × 255 bytes of body. */
const MAX_PAGE_BYTES = HEADER_BYTES + 255 + 255 * 255;

/**
 * The header of the file's last page, searched back from the end (within one page's length), or
 * undefined if there is none. Its `complete` tells a page cut off by the end of the file.
 */
export function lastPageHeader(bytes: Uint8Array): OggPageHeader | undefined {
  const stop = Math.max(0, bytes.length - MAX_PAGE_BYTES);
  for (let at = bytes.length - HEADER_BYTES; at >= stop; at--)
    if (isCapture(bytes, at)) return readPageHeader(bytes, at);
  return undefined;
}

/**
 * Adds a page's packets to `stream`; `pending` holds the pieces of a packet the page may continue. A
 * continuation with nothing pending (its start was lost to damage) is dropped up to its first end.
 */
function addPage(stream: OggLogicalStream, page: Page, pending: Uint8Array[]): Uint8Array[] {
  const continued = (page.flags & CONTINUED) !== 0;
  let dropping = continued && pending.length === 0;
  let pieces = continued ? pending : [];
  let offset = 0;
  for (const size of page.lacing) {
    if (!dropping) pieces.push(page.body.subarray(offset, offset + size));
    offset += size;
    if (size < 255) {
      // Most packets are one piece: a view into the file, not a copy.
      const packet = concatenated(pieces, Uint8Array);
      if (!dropping && packet.length > 0) stream.packets.push(packet);
      dropping = false;
      pieces = [];
    }
  }
  if (page.granule >= 0) stream.lastGranule = page.granule;
  if (page.flags & END_OF_STREAM) stream.ended = true;
  return pieces;
}

/**
 * The logical streams of an Ogg file, first and chained, in order. More than `maxPackets` packets in all
 * is TOO_LONG (the caller knows the least audio a packet holds), found before they are all listed.
 */
export function oggStreams(bytes: Uint8Array, maxPackets: number, container: string): OggLogicalStream[] {
  const streams: OggLogicalStream[] = [];
  let current: OggLogicalStream | undefined;
  let pending: Uint8Array[] = [];
  let packets = 0;
  for (let at = nextCapture(bytes, 0); at >= 0; ) {
    const page = readPage(bytes, at);
    if (!page) break;
    if (page.flags & BEGINNING && (!current || current.ended)) {
      current = { serial: page.serial, packets: [], lastGranule: -1, ended: false };
      streams.push(current);
      pending = [];
    }
    if (current && page.serial === current.serial && !current.ended) {
      const before = current.packets.length;
      pending = addPage(current, page, pending);
      packets += current.packets.length - before;
      if (packets > maxPackets)
        throw new AudioError(
          'TOO_LONG',
          `${container} holds more than ${maxPackets} packets: more audio than the duration limit allows`,
        );
    }
    at = isCapture(bytes, page.end) ? page.end : nextCapture(bytes, page.end);
  }
  return streams;
}
