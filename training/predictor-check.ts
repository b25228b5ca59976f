import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { METADATA_FILE } from '../lambdas/core/model/location.ts';
import { createPredictor } from '../lambdas/core/predict.ts';
import { parseClipName } from './datasets.ts';

/**
 * Runs the deployed inference path (`createPredictor`: decode → VAD utterances → windows → ONNX, as the
 * API does) on a package's recorded test sets and compares its accuracy with the recorded metrics, so a
 * drift between the training pipeline and inference shows up in the report.
 */
export async function predictorCheck(modelDir: string, dataRoot: string): Promise<string> {
  const splits = JSON.parse(await readFile(join(modelDir, 'splits.json'), 'utf8')) as {
    sets: Record<string, Array<{ path: string }>>;
  };
  const metadata = JSON.parse(await readFile(join(modelDir, METADATA_FILE), 'utf8')) as {
    metrics: Record<string, { accuracy: number }>;
  };
  const predictor = await createPredictor({ modelDir });
  const rows: string[] = [];
  try {
    // `all-test` is the union of the others: not run twice.
    for (const [name, set] of Object.entries(splits.sets).filter(([n]) => n !== 'all-test')) {
      let correct = 0;
      let refused = 0;
      for (const { path } of set) {
        // The emotion is in the file name; the loader's parser is the single source of truth.
        const parsed = parseClipName(path);
        if (!parsed || 'skipped' in parsed) continue;
        try {
          const result = await predictor.predict(await readFile(join(dataRoot, path)));
          if (result.emotion === parsed.emotion) correct++;
        } catch {
          refused++;
        }
      }
      const scored = set.length - refused;
      rows.push(
        `| ${name} | ${scored} | ${(correct / (scored || 1)).toFixed(4)} | ${metadata.metrics[name]?.accuracy.toFixed(4) ?? '–'} | ${refused} |`,
      );
    }
  } finally {
    await predictor.release();
  }
  return [
    '## The deployed predictor on the same test clips',
    '',
    '`createPredictor` from `lambdas/core/predict.ts` (what the API runs: its own VAD utterance split and',
    'windowing) on the recorded test clips, as a check that training and inference see the same input.',
    '',
    '| test set | clips | predictor accuracy | recorded accuracy | refused |',
    '|---|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}

/** Appends the check to a package's REPORT.md. */
export async function appendPredictorCheck(modelDir: string, dataRoot: string): Promise<string> {
  const section = await predictorCheck(modelDir, dataRoot);
  await appendFile(join(modelDir, 'REPORT.md'), `\n${section}`);
  return section;
}
