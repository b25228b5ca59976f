import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layering of docs/architecture.md, checked on every import (static, dynamic and type-only):
 * the audio and model core knows nothing of Lambda, the app, training or AWS; the app and training
 * cores know nothing of the handlers (middy, Powertools) or of the tools around them.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Boundary {
  /** Folder whose files the rule applies to (relative to the repository). */
  folder: string;
  /** Folders (relative to the repository) its files may not import from. */
  forbiddenFolders: string[];
  /** Packages (exact name, or a scope ending in `/`) its files may not import. */
  forbiddenPackages: string[];
}

const TOOLS = ['bin', 'lib', 'scripts', 'test', 'training'];
const HANDLER_PACKAGES = ['@middy/', '@aws-lambda-powertools/'];
const BOUNDARIES: Boundary[] = [
  {
    folder: 'lambdas/core',
    forbiddenFolders: ['lambdas/app', 'lambdas/training', 'lambdas/handlers', 'lambdas/web', ...TOOLS],
    forbiddenPackages: ['@aws-sdk/', 'aws-lambda', ...HANDLER_PACKAGES],
  },
  {
    folder: 'lambdas/app',
    forbiddenFolders: ['lambdas/training', 'lambdas/handlers', 'lambdas/web', ...TOOLS],
    forbiddenPackages: HANDLER_PACKAGES,
  },
  {
    folder: 'lambdas/training',
    forbiddenFolders: ['lambdas/handlers', 'lambdas/web', ...TOOLS],
    forbiddenPackages: HANDLER_PACKAGES,
  },
  { folder: 'lambdas/handlers', forbiddenFolders: ['lambdas/web', ...TOOLS], forbiddenPackages: [] },
];

interface Import {
  file: string;
  specifier: string;
  /** Repository-relative target for a relative import; undefined for a package. */
  target: string | undefined;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(ts|mts|js|mjs)$/.test(name))
    .map((name) => join(folder, name).split(sep).join('/'));
}

/** Every module a source imports, as TypeScript's own pre-processor sees them (comments and strings aside). */
const specifiersIn = (source: string): string[] =>
  ts.preProcessFile(source, true, true).importedFiles.map((imported) => imported.fileName);

function importsOf(file: string): Import[] {
  return specifiersIn(readFileSync(join(ROOT, file), 'utf8')).map((specifier) => ({
    file,
    specifier,
    target: specifier.startsWith('.')
      ? relative(ROOT, resolve(ROOT, dirname(file), specifier))
          .split(sep)
          .join('/')
      : undefined,
  }));
}

const within = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);
const isPackage = (specifier: string, name: string): boolean =>
  name.endsWith('/') ? specifier.startsWith(name) : specifier === name || specifier.startsWith(`${name}/`);

function violations(boundary: Boundary): string[] {
  return sourceFiles(boundary.folder)
    .flatMap(importsOf)
    .filter(({ specifier, target }) =>
      target === undefined
        ? boundary.forbiddenPackages.some((name) => isPackage(specifier, name))
        : boundary.forbiddenFolders.some((folder) => within(target, folder)),
    )
    .map(({ file, specifier }) => `${file} imports ${specifier}`);
}

/** Files of `from` that import something in `to`. */
function crossings(from: string, to: string): string[] {
  return sourceFiles(from)
    .flatMap(importsOf)
    .filter(({ target }) => target !== undefined && within(target, to))
    .map(({ file, specifier }) => `${file} imports ${specifier}`);
}

describe('import boundaries', () => {
  it('sees static, type-only, re-exported and dynamic imports, not comments', () => {
    const source = [
      "import { a } from './a.ts';",
      "import type { B } from '@aws-sdk/client-s3';",
      "export { c } from '../c.ts';",
      "const d = await import('aws-lambda');",
      "// import { e } from '@middy/core';",
    ].join('\n');
    expect(specifiersIn(source)).toEqual(['./a.ts', '@aws-sdk/client-s3', '../c.ts', 'aws-lambda']);
    expect(importsOf('lambdas/core/predict.ts').map((i) => i.target)).toContain('lambdas/core/errors.ts');
    expect(
      violations({
        folder: 'lambdas/handlers',
        forbiddenFolders: ['lambdas/app'],
        forbiddenPackages: ['@middy/'],
      }),
    ).toEqual(
      expect.arrayContaining([
        'lambdas/handlers/api.ts imports @middy/core',
        'lambdas/handlers/api.ts imports ../app/http-api.ts',
      ]),
    );
  });

  it.each(BOUNDARIES)('$folder imports none of what it must not know', (boundary) => {
    expect(violations(boundary)).toEqual([]);
  });

  // training builds on app (its table definition, domain errors, the training routes' schemas); app only
  // describes the admin operations it calls (`TrainingOperations`), which the API handler wires up.
  it('lambdas/app and lambdas/training do not import each other both ways (no cycle)', () => {
    const appToTraining = crossings('lambdas/app', 'lambdas/training');
    const trainingToApp = crossings('lambdas/training', 'lambdas/app');
    expect(
      appToTraining.length === 0 || trainingToApp.length === 0,
      [...appToTraining, ...trainingToApp].join('\n'),
    ).toBe(true);
  });
});
