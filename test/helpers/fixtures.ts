import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const TESS_DIR = `${FIXTURES_DIR}tess/`;

export interface TessFixture {
  path: string;
  fileName: string;
  /** TESS's label from the file name (`YAF_dog_angry.flac` → `angry`; `_ps` is pleasant surprise). */
  tessLabel: string;
}

/** The real TESS clips committed under test/fixtures/tess/. */
export function tessFixtures(): TessFixture[] {
  return readdirSync(TESS_DIR)
    .filter((name) => name.endsWith('.flac'))
    .sort()
    .map((fileName) => ({
      path: `${TESS_DIR}${fileName}`,
      fileName,
      tessLabel: fileName
        .replace(/\.flac$/, '')
        .split('_')
        .pop()!
        .toLowerCase(),
    }));
}

/** A clip of the given TESS emotion (first in name order), read as bytes. */
export function tessClip(label: string): TessFixture & { bytes: Buffer } {
  const fixture = tessFixtures().find((f) => f.tessLabel === label);
  if (!fixture) throw new Error(`No TESS fixture labelled ${label} in ${TESS_DIR}`);
  return { ...fixture, bytes: readFileSync(fixture.path) };
}

interface ManifestEntry {
  path: string;
  emotion?: string;
  expectError?: string;
}

const manifest = (): ManifestEntry[] => JSON.parse(readFileSync(`${FIXTURES_DIR}manifest.json`, 'utf8'));

/** A fixture from test/fixtures/bad/ with the error code the manifest says it must produce. */
export function badFixture(name: string): {
  bytes: Buffer;
  expectError: string | undefined;
  fileName: string;
} {
  const entry = manifest().find((e) => e.path === `bad/${name}`);
  if (!entry) throw new Error(`bad/${name} is not in test/fixtures/manifest.json`);
  return {
    bytes: readFileSync(`${FIXTURES_DIR}${entry.path}`),
    expectError: entry.expectError,
    fileName: name,
  };
}
