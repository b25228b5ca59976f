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

/**
 * `repository` as an erasure sees it while DynamoDB's eventually consistent `bySpeaker` index is behind
 * (never the case in dynalite): its speaker-records query finds nothing; every other call is the real one.
 */
export const withLaggingSpeakerIndex = (repository: PredictionRepository): PredictionRepository =>
  new Proxy(repository, {
    get(target, name) {
      if (name === 'speakerRecords') return async () => ({ records: [], more: false });
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
