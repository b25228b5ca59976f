import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { WEB_DIR } from '../paths.ts';
import { webPageConfig } from '../web-page-config.ts';
import {
  awsConnectSources,
  WEB_FRAME_OPTION,
  WEB_REFERRER_POLICY,
  webContentSecurityPolicy,
} from '../web-security-headers.ts';

/** The CloudFront option whose value is `value`: the shared header values are HTTP's plain strings. */
function cloudFrontOption<T extends string>(options: Record<string, T>, value: string): T {
  const option = Object.values(options).find((candidate) => candidate === value);
  if (option === undefined) throw new Error(`CloudFront has no header option "${value}"`);
  return option;
}

/**
 * The static web page: a private bucket served only through CloudFront (origin access control), HTTPS
 * only, with security headers. `deploy()` uploads the page and a config.json naming the API URL.
 */
export class WebSite extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly origin: string;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new Bucket(this, 'SiteBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'SER web page',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: this.#securityHeaders(),
      },
    });
    this.origin = `https://${this.distribution.distributionDomainName}`;
  }

  /**
   * The page's security headers (lib/web-security-headers.ts, shared with the local stack) plus HSTS:
   * requests to this page, the API (execute-api) and the presigned S3 uploads (amazonaws.com) only.
   */
  #securityHeaders(): ResponseHeadersPolicy {
    const region = Stack.of(this).region;
    return new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'SER web page: security headers and CSP',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: webContentSecurityPolicy(awsConnectSources(region)),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudFrontOption(HeadersFrameOption, WEB_FRAME_OPTION), override: true },
        referrerPolicy: {
          referrerPolicy: cloudFrontOption(HeadersReferrerPolicy, WEB_REFERRER_POLICY),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        xssProtection: { protection: true, modeBlock: true, override: true },
      },
    });
  }

  deploy(config: { apiUrl: string; maxUploadBytes: number }): BucketDeployment {
    return new BucketDeployment(this, 'DeployPage', {
      destinationBucket: this.bucket,
      sources: [
        Source.asset(WEB_DIR),
        Source.jsonData('config.json', webPageConfig(config.apiUrl, config.maxUploadBytes)),
      ],
      distribution: this.distribution,
      distributionPaths: ['/*'],
    });
  }
}
