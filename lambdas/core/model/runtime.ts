import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.ts';
import { featureDimension } from '../features/config.ts';
import { checkOnnxChecksum } from './checksum.ts';
import { readModelMetadata } from './location.ts';
import { type ModelMetadata, parseModelMetadata } from './metadata.ts';

export interface ModelBatch {
  /** batch × frames × dims, zero-padded rows. */
  features: Float32Array;
  /** Real frames per row. */
  lengths: Int32Array;
  batch: number;
  /**
   * batch × C speaker offsets for a graph with the `speaker_offset` input (`speakerAdaptation.apply`
   * 'input'); absent: zeros, the context-free input. Ignored by graphs without that input.
   */
  speakerOffset?: Float32Array;
}

export interface LoadedModel {
  readonly metadata: ModelMetadata;
  /** Probabilities, batch × labels, row-major. */
  run(input: ModelBatch): Promise<Float32Array>;
  release(): Promise<void>;
}

/** The ONNX bytes are the ones the metadata recorded, and the metadata agrees with itself: the input's dims. */
function checkPackage(metadata: ModelMetadata, onnx: Uint8Array, source: string): number {
  checkOnnxChecksum(metadata, onnx, source);
  const dims = featureDimension(metadata.featureConfig);
  if (metadata.input.dims !== dims) {
    throw new ModelError(
      `${source}: input.dims ${metadata.input.dims} disagrees with the feature config (${dims})`,
    );
  }
  // Shifted channels reach the model only through its in-graph utterance statistics (raw input).
  if (metadata.speakerAdaptation && metadata.featureConfig.normalization !== 'none') {
    throw new ModelError(`${source}: speakerAdaptation needs featureConfig.normalization "none"`);
  }
  const outside = metadata.speakerAdaptation?.channels.find((c) => c >= dims);
  if (outside !== undefined) {
    throw new ModelError(`${source}: speakerAdaptation channel ${outside} is not below input.dims ${dims}`);
  }
  return dims;
}

/** Width C of the graph's `speaker_offset` input ([batch, C]); 0 for a graph without it. */
export function speakerOffsetWidth(session: ort.InferenceSession): number {
  const input = session.inputMetadata.find((m) => m.name === 'speaker_offset');
  if (!input) return 0;
  const width = input.isTensor ? input.shape.at(-1) : undefined;
  if (typeof width !== 'number' || width < 1) throw new ModelError('speaker_offset has no fixed width');
  return width;
}

/** A graph with a speaker offset input matches the package's `speakerAdaptation` (mode and width). */
function checkOffsetInput(metadata: ModelMetadata, width: number, source: string): void {
  const adaptation = metadata.speakerAdaptation;
  const wantsInput = adaptation?.apply === 'input';
  if (wantsInput && width !== adaptation.channels.length) {
    throw new ModelError(
      `${source}: speakerAdaptation.apply "input" needs a speaker_offset input of ${adaptation.channels.length} values, the graph has ${width}`,
    );
  }
  if (!wantsInput && width > 0 && adaptation) {
    throw new ModelError(
      `${source}: the graph reads a speaker offset but speakerAdaptation.apply is not "input"`,
    );
  }
}

/** One session for the graph, refused unless it has the contract's inputs and output. */
async function createSession(onnx: Uint8Array, onnxFile: string, source: string) {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (cause) {
    throw new ModelError(`${source}: onnxruntime cannot load ${onnxFile}`, { cause });
  }
  for (const name of ['features', 'lengths']) {
    if (!session.inputNames.includes(name))
      throw new ModelError(`${source}: ONNX graph has no input "${name}"`);
  }
  if (!session.outputNames.includes('probabilities')) {
    throw new ModelError(`${source}: ONNX graph has no output "probabilities"`);
  }
  return session;
}

/**
 * Builds a model from a package's bytes (a folder on disk or objects in S3): checks the metadata against
 * the schema (so an unsupported feature definition is refused), the ONNX bytes against the recorded
 * sha256, and the graph's inputs/outputs against the contract, then creates one session to be reused.
 * One intra-op thread: a Lambda or a CLI run predicts one clip at a time, and extra threads only add
 * start-up and scheduling cost for graphs this small.
 */
export async function loadModel(
  metadataJson: string,
  onnx: Uint8Array,
  source = 'model',
): Promise<LoadedModel> {
  return loadParsedModel(parseModelMetadata(metadataJson, source), onnx, source);
}

/** `loadModel` once the metadata is parsed (a caller that checked the metadata first parses it once). */
export async function loadParsedModel(
  metadata: ModelMetadata,
  onnx: Uint8Array,
  source: string,
): Promise<LoadedModel> {
  const dims = checkPackage(metadata, onnx, source);
  const session = await createSession(onnx, metadata.onnxFile, source);
  const offsetWidth = speakerOffsetWidth(session);
  checkOffsetInput(metadata, offsetWidth, source);
  const { frames } = metadata.input;
  const labelCount = metadata.labels.length;

  return {
    metadata,
    async run({ features, lengths, batch, speakerOffset }) {
      const offset = speakerOffset ?? new Float32Array(batch * offsetWidth);
      const outputs = await session.run({
        features: new ort.Tensor('float32', features, [batch, frames, dims]),
        lengths: new ort.Tensor('int32', lengths, [batch]),
        ...(offsetWidth > 0
          ? { speaker_offset: new ort.Tensor('float32', offset, [batch, offsetWidth]) }
          : {}),
      });
      const probabilities = outputs.probabilities;
      if (!probabilities || probabilities.dims.at(-1) !== labelCount) {
        throw new ModelError(
          `${source}: output has shape [${probabilities?.dims}] but there are ${labelCount} labels`,
        );
      }
      return probabilities.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** Loads a model package folder (`metadata.json` + the ONNX file it names). */
export async function loadModelPackage(dir: string): Promise<LoadedModel> {
  const metadata = readModelMetadata(dir);
  let onnx: Uint8Array;
  try {
    onnx = await readFile(join(dir, metadata.onnxFile));
  } catch (cause) {
    throw new ModelError(`${dir}: ${metadata.onnxFile} is missing`, { cause });
  }
  return loadParsedModel(metadata, onnx, dir);
}
