export type ActivationMode = 'if-better' | 'always' | 'never';

/** The fixed evaluation split that "if-better" compares on: the TESS random split the pipeline writes. */
export const EVALUATION_SPLIT = 'tess-random';

export interface ActivationDecision {
  activate: boolean;
  /** Written into the job record, so "why is my model not live?" has an answer. */
  reason: string;
}

function macroF1(metrics: Record<string, unknown> | undefined, split: string): number | undefined {
  const value = (metrics?.[split] as { macroF1?: unknown } | undefined)?.macroF1;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Pure: whether a newly trained model goes live, given the active one's metrics. */
export function decideActivation(
  mode: ActivationMode,
  candidate: { version: string; metrics: Record<string, unknown> },
  active: { version: string; metrics: Record<string, unknown> } | undefined,
  split = EVALUATION_SPLIT,
): ActivationDecision {
  if (mode === 'never') return { activate: false, reason: 'activate is "never"' };
  if (mode === 'always') return { activate: true, reason: 'activate is "always"' };
  const candidateF1 = macroF1(candidate.metrics, split);
  if (candidateF1 === undefined) {
    return { activate: false, reason: `${candidate.version} has no macro-F1 on split ${split}` };
  }
  if (!active) return { activate: true, reason: `no active model; ${split} macro-F1 ${candidateF1}` };
  const activeF1 = macroF1(active.metrics, split);
  if (activeF1 === undefined) {
    // Not comparable: a model without a number on the fixed split is not replaced on a guess.
    return {
      activate: false,
      reason: `active model ${active.version} has no macro-F1 on split ${split}; not comparable (activate explicitly with POST /models/${candidate.version}/activate)`,
    };
  }
  return candidateF1 > activeF1
    ? { activate: true, reason: `${split} macro-F1 ${candidateF1} > ${activeF1} of ${active.version}` }
    : { activate: false, reason: `${split} macro-F1 ${candidateF1} ≤ ${activeF1} of ${active.version}` };
}
