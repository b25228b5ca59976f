import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { SerStack, type SerStackProps } from '../lib/ser-stack.ts';
import { fakeModelPackage } from './helpers/fake-model-package.ts';

interface ValidationReport {
  pluginReports: {
    pluginName: string;
    violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

const model = fakeModelPackage('nag-model');
const workDir = model.dir;

/** Synthesises the stack with the AwsSolutions pack and returns every finding not acknowledged. */
function unacknowledgedFindings(
  change: (stack: SerStack) => void = () => {},
  props: SerStackProps = {},
): string[] {
  const outdir = mkdtempSync(join(workDir, 'out-'));
  const app = new App({
    outdir,
    context: { 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  change(new SerStack(app, 'SerNag', { modelDir: workDir, ...props }));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let synthError: unknown;
  try {
    app.synth();
  } catch (error) {
    synthError = error;
  }
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
  const findings = report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((v) =>
      v.violatingConstructs.map((c) => `${v.severity} ${v.ruleName} at ${c.constructPath}`),
    ),
  );
  // A failed synthesis must be explained by the report, never swallowed.
  if (synthError && findings.length === 0) throw synthError;
  return findings;
}

describe('cdk-nag AwsSolutions', () => {
  afterAll(() => model.remove());

  it('reports no finding that is not fixed or acknowledged with its reason in lib/nag-acknowledgments.ts', () => {
    expect(unacknowledgedFindings()).toEqual([]);
  });

  it.each([[['calls', 'meetings']], [['*']]])(
    'reports nothing either with drop-folder speaker prefixes %j (erasure deletes under them)',
    (dropFolderSpeakerPrefixes) => {
      expect(unacknowledgedFindings(undefined, { dropFolderSpeakerPrefixes })).toEqual([]);
    },
  );

  it('reports nothing for the alarm topic either (encrypted with its own rotated key, TLS only)', () => {
    const alarms = { email: 'ops@example.com', topicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' };

    expect(unacknowledgedFindings(undefined, { alarms })).toEqual([]);
  });

  it('reports a new wildcard permission: acknowledgments name each permission, not the rule', () => {
    const findings = unacknowledgedFindings((stack) =>
      stack.api.function.addToRolePolicy(
        new PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [stack.storage.bucket.arnForObjects('other/*')],
        }),
      ),
    );

    expect(findings).toEqual([
      expect.stringMatching(
        /^error AwsSolutions-IAM5\[Resource::<\w+\.Arn>\/other\/\*\] at SerNag\/Api\/ApiHandler\//,
      ),
    ]);
  });
});
