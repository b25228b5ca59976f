import { describe, expect, it } from 'vitest';
import { emptyDatasetMessage } from '../lambdas/training/dataset-prefix.ts';

describe('the DATASET_EMPTY message', () => {
  it('on AWS: a plain aws s3 sync to the bucket', () => {
    expect(emptyDatasetMessage({ bucket: 'ser-audio-123' }, 'datasets/own/')).toBe(
      'The dataset prefix s3://ser-audio-123/datasets/own/ is empty: upload clips there first ' +
        '(TESS, RAVDESS, EMO-DB or CREMA-D file names, or folders with a labels.csv), ' +
        'e.g. aws s3 sync ./my-clips s3://ser-audio-123/datasets/own/ (docs/training-jobs.md)',
    );
  });

  it('with a local endpoint: the command names it (else it would target a real AWS bucket) and where the keys are', () => {
    const message = emptyDatasetMessage(
      { bucket: 'ser-audio', endpoint: 'http://127.0.0.1:4569' },
      'datasets/own/',
    );

    expect(message).toContain(
      'e.g. aws --endpoint-url http://127.0.0.1:4569 s3 sync ./my-clips s3://ser-audio/datasets/own/ ' +
        "with the local S3's access key and secret (the npm start banner prints them)",
    );
  });

  it("with the launcher's hint (the local stack's dataset root): after the upload example, before the docs", () => {
    const message = emptyDatasetMessage({ bucket: 'ser-audio' }, 'datasets/own/', 'or put them in /d/own/');

    expect(message).toMatch(
      / s3:\/\/ser-audio\/datasets\/own\/; or put them in \/d\/own\/ \(docs\/training-jobs\.md\)$/,
    );
  });
});
