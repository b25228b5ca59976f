import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** A file of the web page folder, or `undefined` (never a path outside it). */
export async function readStaticFile(
  root: string,
  urlPath: string,
): Promise<{ body: Buffer; type: string } | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath === '/' ? '/index.html' : urlPath);
  } catch {
    return undefined; // not a valid percent-encoding: no file has that name
  }
  const relative = normalize(decoded).replace(/^(\.\.[/\\])+/, '');
  const type = CONTENT_TYPES[extname(relative)];
  if (!type || relative.includes('\0')) return undefined;
  try {
    return { body: await readFile(join(root, relative)), type };
  } catch {
    return undefined;
  }
}
