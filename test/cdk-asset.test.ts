import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFERENCE_NODE_MODULES } from '../lib/lambda-bundling.ts';
import { SerStack } from '../lib/ser-stack.ts';
import { FIXTURES_DIR, tessClip } from './helpers/fixtures.ts';
import { handlerEnvironment, startTestAws, type TestAws } from './helpers/local-aws.ts';

const run = promisify(execFile);
const MB = 1024 * 1024;

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => {
    const path = join(dir, entry.name);
    return sum + (entry.isDirectory() ? folderBytes(path) : statSync(path).size);
  }, 0);
}

describe('the synthesized inference Lambda asset', () => {
  let outdir: string;
  let assetDir: string;
  let aws: TestAws;

  beforeAll(async () => {
    // A real synth with bundling (esbuild locally, npm ci of onnxruntime-node from the registry).
    outdir = await mkdtemp(join(tmpdir(), 'ser-cdk-out-'));
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new SerStack(app, 'SerApiAsset');
    const template = Template.fromStack(stack);
    app.synth();
    const inference = Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
      String(fn.Properties.Description).startsWith('Speech emotion recognition'),
    );
    const assetHash = String(inference?.Properties.Code.S3Key).replace(/\.zip$/, '');
    assetDir = join(outdir, `asset.${assetHash}`);
    aws = await startTestAws();
  }, 300_000);

  afterAll(async () => {
    await aws?.close();
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  it('is at most 60 MB unzipped and holds the model (only its run-time files) and only linux-x64 binaries', () => {
    const bytes = folderBytes(assetDir);
    console.log(`inference asset unzipped: ${(bytes / MB).toFixed(1)} MB`);

    expect(bytes).toBeLessThanOrEqual(60 * MB);
    // Not REPORT.md, its figures or the ROUND*/round* development runs beside the package.
    expect(readdirSync(join(assetDir, 'models', 'ser-lstm')).sort()).toEqual(['metadata.json', 'model.onnx']);
    expect(readdirSync(join(assetDir, 'node_modules/onnxruntime-node/bin/napi-v6'))).toEqual(['linux']);
    expect(readdirSync(join(assetDir, 'node_modules/onnxruntime-node/bin/napi-v6/linux'))).toEqual(['x64']);
  });

  it('keeps the lazily loaded audio decoders in node_modules, out of the bundle parsed at every start', () => {
    const bundle = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    for (const name of INFERENCE_NODE_MODULES.filter((n) => n !== 'onnxruntime-node')) {
      expect(existsSync(join(assetDir, 'node_modules', name, 'package.json'))).toBe(true);
      expect(bundle).toContain(`import("${name}")`);
    }
    expect(existsSync(join(assetDir, 'node_modules/@audio/decode-aac/package.json'))).toBe(true); // MP4's AAC
    expect(existsSync(join(assetDir, 'node_modules/codec-parser/package.json'))).toBe(true); // FLAC's, Vorbis's
    expect(bundle).not.toContain('FAAD'); // the AAC decoder's code
    // All of it is parsed at every cold start: 3.3 MB with the MP4/WebM decoders, 1.5 MB with zod's every
    // locale (docs/dependencies.md, "Bundle size and cold start"), 1.1 MB with the FLAC/MP3/Ogg decoders;
    // 0.85 MB without any of them.
    expect(statSync(join(assetDir, 'index.mjs')).size).toBeLessThan(0.95 * MB);
  });

  it('runs a prediction in a fresh Node process, as Lambda would load it, for FLAC, M4A and WebM', async () => {
    // Prepare: clips in the drop folder of a real local S3, and the S3 event Lambda would receive.
    const clips = [
      { name: 'clip.flac', bytes: tessClip('angry').bytes },
      { name: 'clip.m4a', bytes: readFileSync(join(FIXTURES_DIR, 'tess-formats/OAF_boat_sad.m4a')) },
      { name: 'clip.webm', bytes: readFileSync(join(FIXTURES_DIR, 'tess-formats/YAF_burn_happy.webm')) },
    ];
    for (const clip of clips) {
      const key = `incoming/asset test/${clip.name}`;
      await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: clip.bytes }));
    }
    const event = {
      Records: clips.map((clip) => ({
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: aws.bucket },
          object: { key: `incoming/asset+test/${clip.name}`, size: clip.bytes.length },
        },
      })),
    };
    const runner = join(outdir, 'invoke.mjs');
    await writeFile(
      runner,
      [
        `const { handler } = await import(${JSON.stringify(join(assetDir, 'index.mjs'))});`,
        `const context = { functionName: 'asset-test', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60000 };`,
        `const outcomes = await handler(${JSON.stringify(event)}, context);`,
        `process.stdout.write('\\nRESULT ' + JSON.stringify(outcomes));`,
      ].join('\n'),
    );

    // Act: a bare `node` in the asset's folder — no tsx, no project node_modules on the resolution path.
    const { stdout } = await run(process.execPath, [runner], {
      cwd: assetDir,
      env: {
        PATH: process.env.PATH,
        ...handlerEnvironment(aws),
      },
    });

    // Assess
    const outcomes = JSON.parse(stdout.slice(stdout.lastIndexOf('\nRESULT ') + 8));
    expect(outcomes).toHaveLength(3);
    expect(outcomes[0]).toMatchObject({
      outcome: 'succeeded',
      resultKey: 'results/asset test/clip.flac.json',
      prediction: { status: 'SUCCEEDED', emotion: 'angry', source: 'drop-folder' },
    });
    for (const outcome of outcomes.slice(1))
      expect(outcome).toMatchObject({ outcome: 'succeeded', prediction: { status: 'SUCCEEDED' } });
  });
});
