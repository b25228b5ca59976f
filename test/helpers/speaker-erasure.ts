import type { PredictionRepository } from '../../lambdas/app/prediction-repository.ts';
import { createSpeakerErasure, s3ObjectDeleter } from '../../lambdas/app/speaker-erasure.ts';
import { SpeakerRepository } from '../../lambdas/app/speaker-repository.ts';
import type { TestAws } from './local-aws.ts';

/**
 * The speaker erasure the API's erase routes run, over the test table and bucket: `records` the tests'
 * repository, the speaker statistics a fresh repository of the same table unless given; a short index wait.
 */
export const speakerErasureOn = (
  aws: TestAws,
  records: PredictionRepository,
  statistics = new SpeakerRepository(aws.doc, { tableName: aws.tableName, ttlDays: 30 }),
) =>
  createSpeakerErasure({
    statistics,
    records,
    objects: s3ObjectDeleter(aws.s3),
    // dynalite's index is never behind: the wait matters on AWS only, and costs the tests seconds.
    indexSettleMs: TEST_INDEX_SETTLE_MS,
  });

/** The tests' wait between an erasure's markers and its index query (the functions' own: INDEX_SETTLE_MS). */
export const TEST_INDEX_SETTLE_MS = 50;
