import type { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SerStack } from '../lib/ser-stack.ts';
import { fakeModelPackage } from './helpers/fake-model-package.ts';
import { synthStack } from './helpers/synth-stack.ts';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

const model = fakeModelPackage('logs-model');

describe('log retention', () => {
  let stack: SerStack;
  let resources: Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  beforeAll(() => {
    const synthesized = synthStack('SerLogsTest', { modelDir: model.dir });
    stack = synthesized.stack;
    resources = (synthesized.template.toJSON() as { Resources: Record<string, Resource> }).Resources;
  });

  afterAll(() => model.remove());

  it("sends every function's log, aws-cdk-lib's own included, to a group kept 30 days", () => {
    const functions = ofType('AWS::Lambda::Function');
    // Ours (API, inference, dead-letter recorder, callbacks) and aws-cdk-lib's (bucket notifications, the
    // page deployment, AwsCustomResource, auto-delete objects), which name no log group of their own.
    expect(functions.length).toBeGreaterThanOrEqual(8);
    for (const [id, fn] of functions) {
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup?: { Ref: string } } | undefined)?.LogGroup;
      expect(logGroup, id).toEqual({ Ref: expect.any(String) });
      const group = resources[logGroup!.Ref]!;
      expect(group.Type, id).toBe('AWS::Logs::LogGroup');
      expect(group.Properties.RetentionInDays, id).toBe(30);
    }
  });

  it('gives every log group of the stack a retention', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(
      Object.fromEntries(groups.map(([id, g]) => [id, g.Properties.RetentionInDays !== undefined])),
    ).toEqual(Object.fromEntries(groups.map(([id]) => [id, true])));
  });

  it("creates the API's execution log group (30 days) before the stage, so API Gateway does not create it without one", () => {
    const [restApiId] = ofType('AWS::ApiGateway::RestApi').map(([id]) => id);
    const [groupId, group] = ofType('AWS::Logs::LogGroup').find(([id]) => id.startsWith('ApiExecutionLogs'))!;
    expect(group.Properties).toMatchObject({
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: restApiId }, '/v1']] },
      RetentionInDays: 30,
    });
    const stages = ofType('AWS::ApiGateway::Stage');
    expect(stages).toHaveLength(1);
    expect(stages[0]![1].DependsOn).toContain(groupId);
  });

  it('makes each group once however often the stack is synthesised (Annotations.fromStack forces another)', () => {
    const assembly = (stack.node.root as App).synth({ force: true });
    const again = (assembly.getStackArtifact(stack.artifactId).template as { Resources: object }).Resources;

    expect(Object.keys(again).sort()).toEqual(Object.keys(resources).sort());
  });
});
