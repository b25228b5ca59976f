/**
 * `npm run fuzz [-- --seed N] [-- --count N] [-- --time-limit MS] [-- --jobs N] [-- --case I,J] [-- --json]`:
 * a seeded mutation fuzzer over every format the core decodes (bin/fuzz-run.ts). Each mutant must end in
 * a prediction or a typed error (`SerError`), below the memory budget, within the time limit. Any
 * other ending prints the seed and case index, writes the file to `--out`, and exits 1; `--case` re-runs
 * those cases alone.
 */

import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { MEMORY_BUDGET_MB } from './bench-memory.ts';
import {
  type CaseRecord,
  DEFAULT_SEED,
  type FuzzSummary,
  runFuzz,
  summarize,
  type Verdict,
} from './fuzz-run.ts';

const integer = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
};
const indexes = (value: string): number[] => value.split(',').map(integer);

const table = (title: string, counts: Record<string, number>): string =>
  `${title}\n${Object.entries(counts)
    .map(([name, n]) => `  ${name.padEnd(28)} ${n}`)
    .join('\n')}`;

const count = (summary: FuzzSummary, verdict: Verdict): number =>
  summary.failures.filter((f) => f.verdict === verdict).length;

const describe = (record: CaseRecord | undefined, value: string): string =>
  record ? `${value} (case ${record.index}: ${record.source}, ${record.kind})` : '-';

const report = (seed: number, summary: FuzzSummary): string =>
  [
    `seed ${seed}: ${summary.files} files, ${summary.failures.length} failures`,
    `  crashes ${count(summary, 'crash')}, hangs ${count(summary, 'hang')}, untyped errors ${count(summary, 'untyped')}, over budget ${count(summary, 'over-budget')}`,
    table('per format', summary.byFormat),
    table('per mutation kind', summary.byKind),
    table('outcomes', summary.outcomes),
    table('decoder exceptions wrapped as typed errors (class in origin)', summary.wrappedCauses),
    `max time   ${describe(summary.slowest, `${summary.slowest?.ms} ms`)}`,
    `max CPU    ${describe(summary.mostCpu, `${summary.mostCpu?.cpuMs} ms`)}`,
    `max RSS    ${describe(summary.largest, `${summary.largest?.peakRssMb} MB`)} (budget ${MEMORY_BUDGET_MB} MB)`,
    ...summary.failures.map(
      (f) =>
        `FAIL seed ${seed} case ${f.index}: ${f.outcome} — ${f.source} ${f.kind} (${f.detail})\n  ${f.message ?? ''}`,
    ),
  ].join('\n');

const program = new Command('fuzz')
  .description(
    'Mutation fuzzer: every mutated file ends in a prediction or a typed error, in budget and time',
  )
  .option('--seed <n>', 'random seed (the same seed and index give the same file)', integer, DEFAULT_SEED)
  .option('--count <n>', 'number of mutated files', integer, 3000)
  .option(
    '--time-limit <ms>',
    'per-file CPU-time limit (wall clock: 5×); a file still running is a hang',
    integer,
    10_000,
  )
  .option('--jobs <n>', 'child processes in parallel', integer, 2)
  .option('--case <i,j,…>', 'run only these case indexes (to reproduce a failure)', indexes)
  .option('--out <dir>', 'where failing files are written', 'fuzz-failures')
  .option('--json', 'print the summary as JSON')
  .action(async (opts) => {
    const only: number[] | undefined = opts.case;
    const total = only?.length ?? opts.count;
    const bar = new cliProgress.SingleBar(
      {
        format: 'fuzz [{bar}] {value}/{total} cases | failures {failures} | eta {eta_formatted}',
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { failures: 0 });
    let failures = 0;
    const records = await runFuzz(
      {
        seed: opts.seed,
        count: opts.count,
        timeLimitMs: opts.timeLimit,
        jobs: opts.jobs,
        crashDir: opts.out,
        only,
      },
      (record) => {
        if (record.verdict !== 'ok') failures++;
        bar.increment(1, { failures });
      },
    );
    bar.stop();
    const summary = summarize(records);
    console.log(opts.json ? JSON.stringify({ seed: opts.seed, ...summary }) : report(opts.seed, summary));
    if (summary.failures.length > 0) {
      console.error(`${summary.failures.length} failing file(s) written to ${opts.out}/ (seed ${opts.seed})`);
      process.exitCode = 1;
    }
  });

await program.parseAsync();
