import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { EC2Client } from '@aws-sdk/client-ec2';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createDocumentClient, createS3Client } from '../app/aws-clients.ts';
import { timeouts } from '../app/aws-timeouts.ts';
import { loadApiConfig } from '../app/config.ts';
import { createApiHandler } from '../app/http-api.ts';
import { apiStatusMetric, type TrainingJobOutcome, trainingJobMetric } from '../app/metric-names.ts';
import { PredictionRepository } from '../app/prediction-repository.ts';
import { createSpeakerErasure, s3ObjectDeleter } from '../app/speaker-erasure.ts';
import { SpeakerRepository } from '../app/speaker-repository.ts';
import { createUploadService } from '../app/upload-service.ts';
import { createS3DatasetPrefixes } from '../training/dataset-prefix.ts';
import { createEc2TrainingLauncher, loadTrainingLaunchConfig } from '../training/ec2-launcher.ts';
import { TrainingJobRepository } from '../training/job-repository.ts';
import { createTrainingService } from '../training/job-service.ts';
import type { TrainingLauncher } from '../training/launcher.ts';
import { fixBucketLevelPaths } from '../training/local-s3-listing.ts';
import { createS3ModelPackages } from '../training/model-packages.ts';
import { ModelRegistry } from '../training/model-registry.ts';
import { logger, metrics, tracer } from './observability.ts';

// Cold start: configuration, clients and the router are built once and reused by every invocation.
const config = loadApiConfig();
const s3 = tracer.captureAWSv3Client(createS3Client(config));
const documents = tracer.captureAWSv3Client(createDocumentClient(config));
// With the S3 client: a PENDING upload past its deadline is ended after one HEAD of its file.
const repository = new PredictionRepository(documents, config, s3);

// On AWS the training construct sets the launch template; the local stack plugs in its process runner.
const launchConfig = loadTrainingLaunchConfig();
let trainingLauncher: TrainingLauncher | undefined = launchConfig.launchTemplateId
  ? createEc2TrainingLauncher(
      tracer.captureAWSv3Client(new EC2Client({ region: config.region, requestHandler: timeouts() })),
      {
        id: launchConfig.launchTemplateId,
        version: launchConfig.launchTemplateVersion,
      },
      config.bucketName,
    )
  : undefined;
export function useTrainingLauncher(launcher: TrainingLauncher): void {
  trainingLauncher = launcher;
}
// Its own client: the listing fix for local S3 must not touch the presigning client above.
const datasets = createS3DatasetPrefixes(
  tracer.captureAWSv3Client(fixBucketLevelPaths(createS3Client(config), config.s3Endpoint)),
  config.bucketName,
  config.s3Endpoint,
);
const training = createTrainingService({
  jobs: new TrainingJobRepository(documents, config),
  registry: new ModelRegistry(documents, config),
  datasets,
  packages: createS3ModelPackages(s3),
  bundledVersion: config.modelVersion,
  maxRunMinutes: launchConfig.maxRunMinutes,
  launcher: {
    // Without one (no launch template, no local runner) jobs are refused before any record is written.
    available: () => trainingLauncher !== undefined,
    launch: (jobId) => {
      // Not reached after `available`: a launcher, once plugged in, stays.
      if (!trainingLauncher) throw new Error('No training launcher is configured');
      return trainingLauncher.launch(jobId);
    },
    seeds: async (prefix) => (await trainingLauncher?.seeds?.(prefix)) ?? false,
    emptyDatasetHint: (prefix) => trainingLauncher?.emptyDatasetHint?.(prefix),
    machineLog: (jobId) => trainingLauncher?.machineLog?.(jobId),
  },
});

const handleApiRequest = createApiHandler({
  createUpload: createUploadService({ s3, repository, ...config }),
  repository,
  eraseSpeaker: createSpeakerErasure({
    statistics: new SpeakerRepository(documents, { ...config, ttlDays: config.speakerTtlDays }),
    records: repository,
    objects: s3ObjectDeleter(s3),
    onRecordError: (id, error) =>
      logger.warn('A speaker record could not be erased; left for the next call (more: true)', { id, error }),
  }),
  dropFolderSpeakerPrefixes: config.speakerFolders,
  modelVersion: config.modelVersion,
  training,
  corsAllowOrigins: config.corsAllowOrigins,
  onUnexpectedError: (error) => logger.error('Unexpected API error', { error }),
});

/** What a `POST /training-jobs` answer means for the operations dashboard: started (202) or refused (409). */
function trainingJobResult(event: APIGatewayProxyEvent, statusCode: number): TrainingJobOutcome | undefined {
  if (event.httpMethod !== 'POST' || event.resource !== '/training-jobs') return undefined;
  if (statusCode === 202) return 'started';
  return statusCode === 409 ? 'refused' : undefined;
}

/**
 * API Gateway (REST, proxy integration) → the API router. Each answer is counted by status class
 * (`Api_2xx`, `Api_4xx`, `Api_5xx`): the error rates an alarm or a dashboard wants; `POST /training-jobs`
 * also counts `TrainingJobs_started` or `TrainingJobs_refused` for the operations dashboard.
 */
export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  // Responses carry presigned upload URLs: never copied into traces.
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const response = await handleApiRequest(event);
    metrics.addMetric(apiStatusMetric(response.statusCode), MetricUnit.Count, 1);
    const trainingJob = trainingJobResult(event, response.statusCode);
    if (trainingJob) metrics.addMetric(trainingJobMetric(trainingJob), MetricUnit.Count, 1);
    return response;
  });
