/**
 * `npm run bench -- --memory [--json]`: peak RSS of a prediction (as `ser predict` runs it, one fresh
 * process per file) over the worst inputs an upload may be — max sample rate, max channels, max
 * duration, smallest frames, per format (bin/memory-cases.ts). Each must end in a prediction or a typed
 * error below the 400 MB budget.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MemoryCase, type MemoryOutcome, memoryCases, runChild } from './memory-cases.ts';

export const MEMORY_BUDGET_MB = 400;
const SELF = fileURLToPath(import.meta.url);

/** Runs one file in a fresh Node process (optionally with a V8 heap cap) and returns what it printed. */
export const predictInChild = (path: string, nodeFlags: string[] = []): Promise<MemoryOutcome> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', SELF, '--child', path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1)!) as MemoryOutcome);
      else reject(new Error(`child for ${path} ended with ${signal ?? `exit ${code}`}: ${err.slice(-2000)}`));
    });
  });

/** Writes each case to `dir` and measures it; returns the table rows. */
export const measureCases = async (
  cases: MemoryCase[],
  dir: string,
  nodeFlags: string[] = [],
): Promise<(MemoryOutcome & { name: string; format: string; note: string; sizeBytes: number })[]> => {
  const rows = [];
  for (const entry of cases) {
    const bytes = await entry.bytes();
    const path = join(dir, entry.name);
    await writeFile(path, bytes);
    const outcome = await predictInChild(path, nodeFlags);
    rows.push({
      name: entry.name,
      format: entry.format,
      note: entry.note,
      sizeBytes: bytes.length,
      ...outcome,
    });
    await rm(path);
  }
  return rows;
};

export const runMemoryBench = async (json: boolean): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'ser-memory-'));
  try {
    const rows = await measureCases(memoryCases(), dir);
    if (json) {
      console.log(JSON.stringify({ budgetMb: MEMORY_BUDGET_MB, rows }));
      return;
    }
    console.log(`Peak RSS per worst-case input (fresh process each, budget ${MEMORY_BUDGET_MB} MB)`);
    console.log('| input | format | size | outcome | peak RSS | time | what |');
    console.log('|---|---|---:|---|---:|---:|---|');
    for (const r of rows) {
      const size =
        r.sizeBytes >= 1e6 ? `${(r.sizeBytes / 1e6).toFixed(1)} MB` : `${Math.round(r.sizeBytes / 1e3)} KB`;
      console.log(
        `| ${r.name} | ${r.format} | ${size} | ${r.outcome} | ${r.peakRssMb} MB | ${r.seconds} s | ${r.note} |`,
      );
    }
    const worst = Math.max(...rows.map((r) => r.peakRssMb));
    console.log(`worst: ${worst} MB (${worst < MEMORY_BUDGET_MB ? 'within' : 'OVER'} the budget)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

if (process.argv[1] === SELF && process.argv[2] === '--child') await runChild(process.argv[3]!);
