import onnxProto from 'onnx-proto';
import { CMVN_STD_FLOOR, headSize, type LstmWeights, statsSize } from './lstm.ts';
import { shareCommonNodes } from './onnx-share.ts';

// onnx-proto is CommonJS: the named import fails at run time under ESM (docs/dependencies.md).
const { onnx } = onnxProto;

/**
 * Writes the trained LSTM (training/lstm.ts) as a standard ONNX graph (opset 17), following the model
 * package contract in lambdas/core/model/metadata.ts:
 *
 * - input  `features`      float32 [batch, frames, dims] — CMVN features, zero-padded at the end
 * - input  `lengths`       int32   [batch]               — real frames per row (1..frames)
 * - output `probabilities` float32 [batch, labels]       — softmax over the metadata's labels
 * - with `offsetInput` C: input `speaker_offset` float32 [batch, C] — the speaker offset of the adapted
 *   channels (zeros: no context), divided by `offset_std` and concatenated last into the head
 *
 * Graph: Pad (time to a multiple of `stack`) → Reshape [batch, steps, dims·stack] → Transpose to
 * [steps, batch, ·] (ORT's LSTM wants layout 0) → LSTM with `sequence_lens` = ceil(lengths / stack)
 * → Squeeze → mask from `lengths` (steps ≥ length → 0) → ReduceSum over time / length (masked mean) →
 * Gemm → Relu → Gemm → Softmax. LSTM weights are reordered from tfjs' gate order i, f, c, o to ONNX's
 * i, o, f, c; `B` is Wb ‖ Rb with Rb = 0; activations are ONNX's defaults (Sigmoid, Tanh, Tanh), which is
 * what the training code uses (plain sigmoid, not tfjs' default hardSigmoid).
 */
export interface ExportOptions {
  frames: number;
  labels: readonly string[];
  producer?: string;
  docString?: string;
  /** Compute what members share once (default); false keeps every member whole, for comparison. */
  shareNodes?: boolean;
}

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

function floatTensor(name: string, dims: number[], values: Float32Array) {
  const copy = Float32Array.from(values);
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(copy.buffer),
  });
}

function int64Tensor(name: string, dims: number[], values: number[]) {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: DataType.INT64,
    rawData: new Uint8Array(data.buffer),
  });
}

function int32Tensor(name: string, dims: number[], values: number[]) {
  const data = Int32Array.from(values);
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: DataType.INT32,
    rawData: new Uint8Array(data.buffer),
  });
}

type Attr = { name: string; i?: number; f?: number; ints?: number[] };

function node(opType: string, inputs: string[], outputs: string[], attributes: Attr[] = []) {
  return onnx.NodeProto.create({
    opType,
    input: inputs,
    output: outputs,
    name: `${opType}_${outputs[0]}`,
    attribute: attributes.map((a) =>
      onnx.AttributeProto.create(
        a.ints
          ? { name: a.name, type: AttributeType.INTS, ints: a.ints }
          : a.f !== undefined
            ? { name: a.name, type: AttributeType.FLOAT, f: a.f }
            : { name: a.name, type: AttributeType.INT, i: a.i },
      ),
    ),
  });
}

function valueInfo(name: string, elemType: number, dims: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

/** Reorders the 4 gate blocks along `axis`-major rows: from tfjs i,f,c,o to ONNX i,o,f,c, transposed. */
function onnxGateMatrix(matrix: Float32Array, rows: number, units: number): Float32Array {
  // tfjs: [rows, 4·units] (column = gate·units + j). ONNX: [4·units, rows] (row = gate'·units + j).
  const order = [0, 3, 1, 2]; // ONNX gate g' takes tfjs gate order[g']: i, o, f, c
  const out = new Float32Array(4 * units * rows);
  for (let g = 0; g < 4; g++) {
    const source = order[g]!;
    for (let j = 0; j < units; j++) {
      for (let r = 0; r < rows; r++)
        out[(g * units + j) * rows + r] = matrix[r * 4 * units + source * units + j]!;
    }
  }
  return out;
}

function onnxGateBias(bias: Float32Array, units: number): Float32Array {
  const order = [0, 3, 1, 2];
  const out = new Float32Array(8 * units); // Wb (reordered) ‖ Rb (zeros)
  for (let g = 0; g < 4; g++) out.set(bias.subarray(order[g]! * units, (order[g]! + 1) * units), g * units);
  return out;
}

type Graph = { nodes: ReturnType<typeof node>[]; initializer: ReturnType<typeof floatTensor>[] };

/** Renames every tensor and node of a member graph except the shared inputs. */
function prefixed(graph: Graph, prefix: string): Graph {
  const shared = new Set(['features', 'lengths', 'speaker_offset']);
  const rename = (name: string) => (shared.has(name) ? name : `${prefix}${name}`);
  for (const n of graph.nodes) {
    n.input = n.input.map(rename);
    n.output = n.output.map(rename);
    n.name = `${prefix}${n.name}`;
  }
  for (const t of graph.initializer) t.name = rename(t.name);
  return graph;
}

/**
 * One ONNX graph for one LSTM or several (an ensemble trained with different seeds): each member is the
 * graph below under its own name prefix, and `probabilities` is the Mean of the members' probabilities.
 * What the members compute alike (the utterance statistics, the LSTM's input) is then computed once
 * (`shareCommonNodes`).
 */
export function exportLstmToOnnx(members: LstmWeights | LstmWeights[], options: ExportOptions): Uint8Array {
  const list = Array.isArray(members) ? members : [members];
  const first = list[0]!;
  if (list.some((w) => w.config.frontEnd))
    throw new Error('the conv front end is a development option (round 26): the exporter does not write it');
  if (list.some((w) => (w.config.pooling ?? 'mean') !== 'mean'))
    throw new Error(
      'attention pooling is a development option (round 21): the exporter writes mean pooling only',
    );
  const graphs =
    list.length === 1
      ? [memberGraph(first, options)]
      : list.map((w, k) => prefixed(memberGraph(w, options), `m${k}_`));
  const nodes = graphs.flatMap((g) => g.nodes);
  const initializer = graphs.flatMap((g) => g.initializer);
  if (list.length > 1) {
    nodes.push(
      node(
        'Mean',
        list.map((_, k) => `m${k}_probabilities`),
        ['probabilities'],
      ),
    );
  }
  const { dims, labels, utteranceStats } = first.config;
  const offsetInput = first.config.offsetInput ?? 0;
  if (list.some((w) => (w.config.offsetInput ?? 0) !== offsetInput))
    throw new Error('Ensemble members disagree on offsetInput');
  const { frames } = options;
  const graph = onnx.GraphProto.create({
    name: 'ser_lstm',
    node: nodes,
    initializer,
    input: [
      valueInfo('features', DataType.FLOAT, ['batch', frames, dims]),
      valueInfo('lengths', DataType.INT32, ['batch']),
      ...(offsetInput > 0 ? [valueInfo('speaker_offset', DataType.FLOAT, ['batch', offsetInput])] : []),
    ],
    output: [valueInfo('probabilities', DataType.FLOAT, ['batch', labels])],
    docString:
      `features: float32 [batch, frames, dims] ${utteranceStats ? 'raw MFCCs (the graph applies per-utterance CMVN over the real frames itself)' : 'per-utterance-CMVN MFCCs'}, zero-padded at the end; ` +
      'lengths: int32 [batch] real frames per row; ' +
      (offsetInput > 0
        ? `speaker_offset: float32 [batch, ${offsetInput}] (zeros: no speaker context); `
        : '') +
      'probabilities: float32 [batch, labels] softmax over ' +
      `labels ${options.labels.join(', ')}${list.length > 1 ? ` (mean of ${list.length} LSTMs)` : ''}`,
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: options.producer ?? 'ser-api training (TypeScript, onnx-proto)',
    producerVersion: '1',
    docString: options.docString ?? '',
    graph,
    metadataProps: [{ key: 'labels', value: options.labels.join(',') }],
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return options.shareNodes === false ? bytes : shareCommonNodes(bytes);
}

/** The member's weights and the constant shapes and indices its graph uses. */
function memberInitializers(weights: LstmWeights, frames: number) {
  const { dims, stack, units, hidden, labels } = weights.config;
  const steps = Math.ceil(frames / stack);
  const input = dims * stack;
  return [
    int64Tensor('pads', [6], [0, 0, 0, 0, steps * stack - frames, 0]),
    int64Tensor('stacked_shape', [3], [0, steps, input]),
    int32Tensor('stack_minus_one', [], [stack - 1]),
    int32Tensor('stack', [], [stack]),
    int64Tensor('axis0', [1], [0]),
    int64Tensor('axis1', [1], [1]),
    int64Tensor('axis2', [1], [2]),
    int32Tensor(
      'step_index',
      [steps, 1],
      Array.from({ length: steps }, (_, t) => t),
    ),
    floatTensor('W', [1, 4 * units, input], onnxGateMatrix(weights.kernel, input, units)),
    floatTensor('R', [1, 4 * units, units], onnxGateMatrix(weights.recurrent, units, units)),
    floatTensor('B', [1, 8 * units], onnxGateBias(weights.bias, units)),
    floatTensor('dense1_W', [headSize(weights.config), hidden], weights.dense1),
    ...(weights.config.offsetInput
      ? [floatTensor('offset_std', [weights.config.offsetInput], weights.offsetStd!)]
      : []),
    floatTensor('dense1_b', [hidden], weights.dense1Bias),
    floatTensor('dense2_W', [hidden, labels], weights.dense2),
    floatTensor('dense2_b', [labels], weights.dense2Bias),
  ];
}

/** In-model per-utterance CMVN over the real frames: `features` → `cmvn_features`, with mean and std. */
function cmvnNodes() {
  return [
    node('Less', ['frame_index', 'lengths_column'], ['frame_mask_bool']), // [batch, frames]
    node('Cast', ['frame_mask_bool'], ['frame_mask2'], [{ name: 'to', i: DataType.FLOAT }]),
    node('Unsqueeze', ['frame_mask2', 'axis2'], ['frame_mask']), // [batch, frames, 1]
    node('Cast', ['lengths_column'], ['frame_count2'], [{ name: 'to', i: DataType.FLOAT }]),
    node('Unsqueeze', ['frame_count2', 'axis2'], ['frame_count']), // [batch, 1, 1]
    node('Mul', ['features', 'frame_mask'], ['masked_features']),
    node('ReduceSum', ['masked_features', 'axis1'], ['feature_sum'], [{ name: 'keepdims', i: 1 }]),
    node('Div', ['feature_sum', 'frame_count'], ['utterance_mean']), // [batch, 1, dims]
    node('Sub', ['features', 'utterance_mean'], ['centered_all']),
    node('Mul', ['centered_all', 'frame_mask'], ['centered']),
    node('Mul', ['centered', 'centered'], ['squares']),
    node('ReduceSum', ['squares', 'axis1'], ['square_sum'], [{ name: 'keepdims', i: 1 }]),
    node('Div', ['square_sum', 'frame_count'], ['variance']),
    node('Sqrt', ['variance'], ['std_raw']),
    node('Max', ['std_raw', 'std_floor'], ['utterance_std']),
    node('Div', ['centered', 'utterance_std'], ['cmvn_features']),
  ];
}

/** RMS of frame-to-frame differences over real pairs (t-1, t), t < length: `utterance_delta_rms`. */
function deltaRmsNodes() {
  return [
    // RMS of frame-to-frame differences over real pairs (t-1, t), t < length.
    node('Slice', ['features', 'one', 'frames_end', 'axis1'], ['features_next']),
    node('Slice', ['features', 'zero', 'frames_minus_one', 'axis1'], ['features_prev']),
    node('Sub', ['features_next', 'features_prev'], ['frame_deltas']),
    node('Slice', ['frame_mask', 'one', 'frames_end', 'axis1'], ['pair_mask']),
    node('Mul', ['frame_deltas', 'frame_deltas'], ['delta_squares_all']),
    node('Mul', ['delta_squares_all', 'pair_mask'], ['delta_squares']),
    node('ReduceSum', ['delta_squares', 'axis1'], ['delta_square_sum'], [{ name: 'keepdims', i: 1 }]),
    node('Sub', ['frame_count', 'one_float'], ['pairs_raw']),
    node('Max', ['pairs_raw', 'one_float'], ['pair_count']),
    node('Div', ['delta_square_sum', 'pair_count'], ['delta_mean_square']),
    node('Sqrt', ['delta_mean_square'], ['utterance_delta_rms']),
  ];
}

/** Range (max − min over real frames) and change (slope × frames) of the prosody channels. */
function contourNodes() {
  return [
    // Range (max − min over real frames) and change (slope × frames) of the prosody channels.
    node('Slice', ['features', 'contour_start', 'contour_end', 'axis2'], ['contour_tail']),
    node('Sub', ['one_float', 'frame_mask'], ['outside_unit']),
    node('Mul', ['outside_unit', 'outside_big'], ['outside']),
    node('Sub', ['contour_tail', 'outside'], ['contour_for_max']),
    node('ReduceMax', ['contour_for_max'], ['contour_max'], [{ name: 'axes', ints: [1] }]),
    node('Add', ['contour_tail', 'outside'], ['contour_for_min']),
    node('ReduceMin', ['contour_for_min'], ['contour_min'], [{ name: 'axes', ints: [1] }]),
    node('Sub', ['contour_max', 'contour_min'], ['utterance_range']),
    node('Sub', ['frame_count', 'one_float'], ['count_minus_one']),
    node('Mul', ['count_minus_one', 'half_float'], ['time_centre']),
    node('Sub', ['frame_time', 'time_centre'], ['time_deviation_all']),
    node('Mul', ['time_deviation_all', 'frame_mask'], ['time_deviation']),
    node('Mul', ['time_deviation', 'time_deviation'], ['time_deviation_squares']),
    node('ReduceSum', ['time_deviation_squares', 'axis1'], ['slope_den_raw'], [{ name: 'keepdims', i: 1 }]),
    node('Max', ['slope_den_raw', 'tiny_float'], ['slope_den']),
    node('Mul', ['contour_tail', 'time_deviation'], ['contour_weighted']),
    node('ReduceSum', ['contour_weighted', 'axis1'], ['slope_num'], [{ name: 'keepdims', i: 1 }]),
    node('Div', ['slope_num', 'slope_den'], ['slope']),
    node('Mul', ['slope', 'frame_count'], ['utterance_change']),
  ];
}

/** The utterance statistics branch: CMVN, the statistics, standardised into `stats_standardised`. */
function statsNodes(deltaStats: boolean, contour: number) {
  return [
    ...cmvnNodes(),
    ...(deltaStats ? deltaRmsNodes() : []),
    ...(contour > 0 ? contourNodes() : []),
    node(
      'Concat',
      [
        'utterance_mean',
        'utterance_std',
        ...(deltaStats ? ['utterance_delta_rms'] : []),
        ...(contour > 0 ? ['utterance_range', 'utterance_change'] : []),
      ],
      ['stats3'],
      [{ name: 'axis', i: 2 }],
    ),
    node('Squeeze', ['stats3', 'axis1'], ['stats']), // [batch, statsSize]
    node('Sub', ['stats', 'stats_mean'], ['stats_centered']),
    node('Div', ['stats_centered', 'stats_std'], ['stats_standardised']),
  ];
}

/** Constants of the statistics branch, after the member's weights. */
function statsInitializers(weights: LstmWeights, frames: number) {
  const { dims, deltaStats } = weights.config;
  const contour = weights.config.contourStats ?? 0;
  const stats = statsSize(weights.config);
  const initializer: ReturnType<typeof memberInitializers> = [];
  initializer.push(
    int64Tensor('lengths_shape', [2], [-1, 1]),
    int32Tensor(
      'frame_index',
      [1, frames],
      Array.from({ length: frames }, (_, t) => t),
    ),
    floatTensor('std_floor', [], Float32Array.of(CMVN_STD_FLOOR)),
    floatTensor('stats_mean', [stats], weights.statsMean!),
    floatTensor('stats_std', [stats], weights.statsStd!),
  );
  if (deltaStats || contour > 0) initializer.push(floatTensor('one_float', [], Float32Array.of(1)));
  if (deltaStats) {
    initializer.push(
      int64Tensor('zero', [1], [0]),
      int64Tensor('one', [1], [1]),
      int64Tensor('frames_end', [1], [frames]),
      int64Tensor('frames_minus_one', [1], [frames - 1]),
    );
  }
  if (contour > 0) {
    initializer.push(
      int64Tensor('contour_start', [1], [dims - contour]),
      int64Tensor('contour_end', [1], [dims]),
      floatTensor('outside_big', [], Float32Array.of(1e9)),
      floatTensor('half_float', [], Float32Array.of(0.5)),
      floatTensor('tiny_float', [], Float32Array.of(1e-6)),
      floatTensor(
        'frame_time',
        [1, frames, 1],
        Float32Array.from({ length: frames }, (_, t) => t),
      ),
    );
  }
  return initializer;
}

/** The head's input after the pooled states: the standardised statistics and speaker offset, if any. */
function headExtras(utteranceStats: boolean, offsetInput: boolean) {
  const extras = [
    ...(utteranceStats ? ['stats_standardised'] : []),
    ...(offsetInput ? ['offset_standardised'] : []),
  ];
  return {
    nodes: [
      ...(offsetInput ? [node('Div', ['speaker_offset', 'offset_std'], ['offset_standardised'])] : []),
      ...(extras.length > 0
        ? [node('Concat', ['pooled_states', ...extras], ['pooled'], [{ name: 'axis', i: 1 }])]
        : []),
    ],
    pooledName: extras.length > 0 ? 'pooled_states' : 'pooled',
  };
}

/** Stacking, the LSTM over each row's real steps, the masked mean over steps and the dense head. */
function lstmHeadNodes(units: number, utteranceStats: boolean, offsetInput: boolean) {
  const extras = headExtras(utteranceStats, offsetInput);
  return [
    node('Pad', [utteranceStats ? 'cmvn_features' : 'features', 'pads'], ['padded']),
    node('Reshape', ['padded', 'stacked_shape'], ['stacked']),
    node('Transpose', ['stacked'], ['time_major'], [{ name: 'perm', ints: [1, 0, 2] }]),
    // Steps of each row: ceil(lengths / stack) in integer arithmetic (lengths ≥ 1).
    node('Add', ['lengths', 'stack_minus_one'], ['lengths_rounded']),
    node('Div', ['lengths_rounded', 'stack'], ['step_lengths']),
    node(
      'LSTM',
      ['time_major', 'W', 'R', 'B', 'step_lengths'],
      ['lstm_y'],
      [{ name: 'hidden_size', i: units }],
    ),
    node('Squeeze', ['lstm_y', 'axis1'], ['hidden_states']), // [steps, batch, units]
    // mask[t, b] = t < step_lengths[b]: padding steps never count, whatever the LSTM leaves there.
    node('Less', ['step_index', 'step_lengths'], ['mask_bool']),
    node('Cast', ['mask_bool'], ['mask'], [{ name: 'to', i: DataType.FLOAT }]),
    node('Unsqueeze', ['mask', 'axis2'], ['mask3']),
    node('Mul', ['hidden_states', 'mask3'], ['masked_states']),
    node('ReduceSum', ['masked_states', 'axis0'], ['state_sum'], [{ name: 'keepdims', i: 0 }]),
    node('Cast', ['step_lengths'], ['step_lengths_float'], [{ name: 'to', i: DataType.FLOAT }]),
    node('Unsqueeze', ['step_lengths_float', 'axis1'], ['step_lengths_column']),
    node('Div', ['state_sum', 'step_lengths_column'], [extras.pooledName]),
    ...extras.nodes,
    node('Gemm', ['pooled', 'dense1_W', 'dense1_b'], ['dense1']),
    node('Relu', ['dense1'], ['dense1_relu']),
    node('Gemm', ['dense1_relu', 'dense2_W', 'dense2_b'], ['logits']),
    node('Softmax', ['logits'], ['probabilities'], [{ name: 'axis', i: 1 }]),
  ];
}

function memberGraph(weights: LstmWeights, options: ExportOptions): Graph {
  const { units, labels, utteranceStats, deltaStats } = weights.config;
  const contour = weights.config.contourStats ?? 0;
  if (labels !== options.labels.length)
    throw new Error(`Model has ${labels} outputs but ${options.labels.length} labels`);
  const { frames } = options;
  const initializer = [
    ...memberInitializers(weights, frames),
    ...(utteranceStats ? statsInitializers(weights, frames) : []),
  ];
  const nodes = [
    ...(utteranceStats
      ? [
          node('Reshape', ['lengths', 'lengths_shape'], ['lengths_column']),
          ...statsNodes(Boolean(deltaStats), contour),
        ]
      : []),
    ...lstmHeadNodes(units, Boolean(utteranceStats), (weights.config.offsetInput ?? 0) > 0),
  ];
  return { nodes, initializer };
}
