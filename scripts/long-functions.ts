import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * Lists the functions of our own source that are longer than a reader can hold at once. `npm test` checks
 * the list against an allowlist that may only shrink (test/function-length.test.ts);
 * `npx tsx scripts/long-functions.ts [maxLines]` prints it, longest first.
 */

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Our code outside the tests; generated files (the OpenAPI client types) are left out. */
export const SOURCE_FOLDERS = ['bin', 'client', 'lambdas', 'lib', 'scripts', 'training'];
const GENERATED = new Set(['client/api-types.ts']);
export const MAX_FUNCTION_LINES = 60;

export interface LongFunction {
  /** `file:name`, stable while the function keeps its name (line numbers would move with every edit). */
  id: string;
  lines: number;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .map((name) => join(folder, name).split(sep).join('/'))
    .filter((path) => /\.(ts|mts|js|mjs)$/.test(path) && !path.endsWith('.d.ts'))
    .filter((path) => !GENERATED.has(path) && !path.includes('/.cache/') && !path.includes('/.scratch/'));
}

/** What a reader would call the function: its own name, the variable or property it is assigned to. */
function nameOf(node: ts.SignatureDeclaration, source: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) {
    return `${node.parent.name?.text ?? 'class'}.constructor`;
  }
  if (node.name !== undefined) {
    const own = node.name.getText(source);
    return ts.isClassLike(node.parent) && node.parent.name ? `${node.parent.name.text}.${own}` : own;
  }
  const parent = node.parent;
  if (
    ts.isVariableDeclaration(parent) ||
    ts.isPropertyAssignment(parent) ||
    ts.isPropertyDeclaration(parent)
  ) {
    return parent.name.getText(source);
  }
  if (ts.isCallExpression(parent)) {
    return `${parent.expression.getText(source).slice(0, 40)}(callback)`;
  }
  return '(anonymous)';
}

function isFunction(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

function longFunctionsIn(path: string, maxLines: number): LongFunction[] {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunction(node) && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > maxLines) found.push({ id: `${path}:${nameOf(node, source)}`, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every function longer than `maxLines` (its whole span, nested functions included), longest first. */
export function longFunctions(maxLines = MAX_FUNCTION_LINES, folders = SOURCE_FOLDERS): LongFunction[] {
  return folders
    .flatMap(sourceFiles)
    .flatMap((path) => longFunctionsIn(path, maxLines))
    .sort((a, b) => b.lines - a.lines || a.id.localeCompare(b.id));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const maxLines = Number(process.argv[2] ?? MAX_FUNCTION_LINES);
  for (const { id, lines } of longFunctions(maxLines)) console.log(`${String(lines).padStart(4)}  ${id}`);
}
