import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS: the named import fails at run time under ESM (docs/dependencies.md).
const { onnx } = onnxProto;

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/**
 * Computes each distinct thing once: an ensemble graph is its members' graphs side by side, and every
 * member repeats the same utterance statistics (CMVN, delta RMS, contours) and the same LSTM input
 * preparation over the same inputs — about half of a three-member graph's nodes, and most of its run
 * time (onnxruntime's own common-subexpression pass leaves them). Initializers with equal contents
 * become one, then every node whose operator, attributes and (renamed) inputs equal an earlier node's
 * is dropped and its outputs read from the earlier one. The arithmetic on every path is unchanged, so
 * the outputs are exactly the same. Nodes must be in topological order (as exported).
 */
export function shareCommonNodes(model: Uint8Array): Uint8Array {
  const decoded = onnx.ModelProto.decode(model);
  const graph = decoded.graph;
  if (!graph) throw new Error('ONNX model has no graph');
  const canonical = new Map<string, string>();
  const named = (name: string) => canonical.get(name) ?? name;

  const byContent = new Map<string, string>();
  graph.initializer = (graph.initializer ?? []).filter((tensor) => {
    const key = base64(onnx.TensorProto.encode({ ...tensor, name: '' }).finish());
    const first = byContent.get(key);
    if (first !== undefined) canonical.set(tensor.name ?? '', first);
    else byContent.set(key, tensor.name ?? '');
    return first === undefined;
  });

  const outputsOf = new Map<string, string[]>();
  graph.node = (graph.node ?? []).filter((node) => {
    node.input = (node.input ?? []).map(named);
    const attributes = (node.attribute ?? []).map((a) => base64(onnx.AttributeProto.encode(a).finish()));
    const key = [node.opType, node.domain ?? '', node.input.join(','), ...attributes].join('|');
    const earlier = outputsOf.get(key);
    if (earlier) {
      for (const [i, output] of (node.output ?? []).entries()) canonical.set(output, earlier[i]!);
      return false;
    }
    outputsOf.set(key, node.output ?? []);
    return true;
  });
  for (const output of graph.output ?? [])
    if (canonical.has(output.name ?? '')) throw new Error(`graph output ${output.name} was merged away`);
  return onnx.ModelProto.encode(decoded).finish();
}

/** Number of nodes of an ONNX model's graph. */
export const nodeCount = (model: Uint8Array): number =>
  onnx.ModelProto.decode(model).graph?.node?.length ?? 0;

/**
 * `npx tsx training/onnx-share.ts --model <package> --version <v>`: rewrites a package trained before
 * the export shared nodes (its model.onnx, the sha256 and version in metadata.json), after checking on
 * seeded inputs that onnxruntime gives exactly the same probabilities from both graphs.
 */
async function sharePackage(dir: string, version: string): Promise<void> {
  const { readFile, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const ort = await import('onnxruntime-node');
  const { sha256Hex } = await import('../lambdas/core/model/checksum.ts');
  const { METADATA_FILE } = await import('../lambdas/core/model/location.ts');
  const metadataFile = join(dir, METADATA_FILE);
  const metadata = JSON.parse(await readFile(metadataFile, 'utf8'));
  const onnxFile = join(dir, metadata.onnxFile);
  const before = new Uint8Array(await readFile(onnxFile));
  const after = shareCommonNodes(before);
  const { frames, dims } = metadata.input;
  const batch = 4;
  const feeds = {
    features: new ort.Tensor(
      'float32',
      Float32Array.from({ length: batch * frames * dims }, (_, i) => 3 * Math.sin(i * 0.731)),
      [batch, frames, dims],
    ),
    lengths: new ort.Tensor('int32', Int32Array.from([frames, 100, 37, 1]), [batch]),
  };
  const outputs = await Promise.all(
    [before, after].map(async (graph) => {
      const session = await ort.InferenceSession.create(graph);
      const { probabilities } = await session.run(feeds);
      await session.release();
      return probabilities!.data as Float32Array;
    }),
  );
  if (outputs[0]!.some((p, i) => p !== outputs[1]![i]))
    throw new Error('the shared graph does not give exactly the same probabilities');
  await writeFile(onnxFile, after);
  metadata.sha256 = sha256Hex(after);
  metadata.version = version;
  await writeFile(metadataFile, `${JSON.stringify(metadata, null, 2)}\n`);
  console.log(
    `${onnxFile}: ${nodeCount(before)} → ${nodeCount(after)} nodes, ${before.length} → ${after.length} bytes, same probabilities; version ${version}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { Command } = await import('commander');
  const opts = new Command()
    .requiredOption('--model <dir>', 'model package folder')
    .requiredOption('--version <v>', 'the package version after the rewrite')
    .parse()
    .opts<{ model: string; version: string }>();
  await sharePackage(opts.model, opts.version);
}
