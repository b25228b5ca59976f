import { Duration } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import {
  type BundlingOptions,
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lambdas/app/metric-names.ts';
import { LAMBDA_BUNDLING, LAMBDA_NODE_OPTIONS } from '../lambda-bundling.ts';
import { FUNCTION_LOG_RETENTION, logGroupWithRetention } from '../log-retention.ts';
import { PROJECT_ROOT } from '../paths.ts';

export interface SerFunctionProps extends Omit<NodejsFunctionProps, 'runtime' | 'bundling'> {
  readonly entry: string;
  /** Merged over the defaults (ESM, minified, source maps, AWS SDK bundled). */
  readonly bundling?: Partial<BundlingOptions>;
  /** @default FUNCTION_LOG_RETENTION (one month) */
  readonly logRetention?: RetentionDays;
}

/**
 * A Lambda function from a TypeScript handler with the project's defaults: Node.js 22, x86_64 (the
 * onnxruntime-node binaries we ship), ESM bundled locally by esbuild (no Docker), the AWS SDK bundled so
 * the version is the one we tested, X-Ray tracing, and a log group with a retention.
 */
export class SerFunction extends NodejsFunction {
  constructor(
    scope: Construct,
    id: string,
    { bundling, logRetention, environment, ...props }: SerFunctionProps,
  ) {
    const logGroup = logGroupWithRetention(scope, `${id}Logs`, logRetention ?? FUNCTION_LOG_RETENTION);
    super(scope, id, {
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.X86_64,
      tracing: Tracing.ACTIVE,
      logGroup,
      timeout: Duration.seconds(10),
      memorySize: 512,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      ...props,
      environment: {
        NODE_OPTIONS: LAMBDA_NODE_OPTIONS,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        ...LAMBDA_BUNDLING,
        mainFields: [...LAMBDA_BUNDLING.mainFields],
        externalModules: [...LAMBDA_BUNDLING.externalModules],
        esbuildArgs: { ...LAMBDA_BUNDLING.esbuildArgs },
        ...bundling,
      },
    });
  }
}
