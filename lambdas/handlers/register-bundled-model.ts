import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import * as z from 'zod';
import { createDocumentClient, createS3Client } from '../app/aws-clients.ts';
import { loadConfig } from '../app/config.ts';
import { publishBundledModel, readPackageObjects } from '../training/bundled-model.ts';
import { fixBucketLevelPaths } from '../training/local-s3-listing.ts';
import { ModelRegistry } from '../training/model-registry.ts';
import { logger, tracer } from './observability.ts';

const config = loadConfig();
// The package's prefix is listed (fixBucketLevelPaths: for s3rver when an endpoint is set, as in tests).
const s3 = tracer.captureAWSv3Client(fixBucketLevelPaths(createS3Client(config), config.s3Endpoint));
const registry = new ModelRegistry(tracer.captureAWSv3Client(createDocumentClient(config)), config);

/**
 * The custom resource's properties (lib/constructs/training.ts): the package as deployment assets, two,
 * or three when it has a splits.json.
 */
const PropertiesSchema = z.object({
  AssetBucket: z.string().min(1),
  MetadataKey: z.string().min(1),
  OnnxKey: z.string().min(1),
  SplitsKey: z.string().min(1).optional(),
});
/** On an update, the properties the resource had: the bundled version the deployment before shipped. */
const OldPropertiesSchema = z.object({ Version: z.string().min(1).optional() });

interface Response {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

/**
 * Deploy time, as a CloudFormation custom resource behind aws-cdk-lib's Provider (which reports a thrown
 * error's message as the deployment's failure): create and update store the bundled package under
 * `models/<version>/` and register it there; a version registered with another sha256 fails the
 * deployment, naming both. Whether the version becomes active is decided against the version the
 * deployment before shipped (an update's OldResourceProperties; none on create): a stack rollback is an
 * update back to the earlier properties, so it puts the earlier version back unless an operator chose
 * another since. Delete does nothing: registered versions outlive the resource, since predictions name
 * them (a new version's update is followed by a delete of the old one's id).
 */
export const handler = middy<CloudFormationCustomResourceEvent, Response>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const properties = PropertiesSchema.parse(event.ResourceProperties);
    const files = await readPackageObjects(s3, {
      bucket: properties.AssetBucket,
      metadataKey: properties.MetadataKey,
      onnxKey: properties.OnnxKey,
      splitsKey: properties.SplitsKey,
    });
    const previousVersion =
      event.RequestType === 'Update'
        ? OldPropertiesSchema.parse(event.OldResourceProperties).Version
        : undefined;
    const published = await publishBundledModel(
      { registry, s3, bucket: config.bucketName },
      files,
      previousVersion,
    );
    logger.info('Bundled model registered', { ...published, previousVersion });
    return {
      PhysicalResourceId: `bundled-model-${published.version}`,
      Data: { Version: published.version, Active: published.activation.active },
    };
  });
