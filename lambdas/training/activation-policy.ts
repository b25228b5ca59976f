import type * as z from 'zod';
import type {
  ActivationModeSchema,
  ModelComparisonSchema,
  ModelScoreSchema,
} from '../app/training-schemas.ts';
import type { ModelVersionRecord } from './model-registry.ts';

export type ActivationMode = z.infer<typeof ActivationModeSchema>;

export type ModelScore = z.infer<typeof ModelScoreSchema>;
export type ModelComparison = z.infer<typeof ModelComparisonSchema>;

export interface ActivationDecision {
  activate: boolean;
  /** Written into the job record, so "why is my model not live?" has an answer. */
  reason: string;
}

const f1 = (x: number) => x.toFixed(4);

/**
 * Pure: whether a newly trained model goes live. A candidate without test metrics (`candidateTested`
 * false: no test clip) never does, whatever the mode. "if-better" needs both models measured on the same
 * clips and the candidate's macro-F1 strictly higher; nothing is ever compared with a stored number.
 */
export function decideActivation(
  mode: ActivationMode,
  comparison: ModelComparison | undefined,
  activeVersion: string | undefined,
  candidateTested: boolean,
): ActivationDecision {
  if (!candidateTested)
    return { activate: false, reason: 'the candidate has no test metrics (no test clip): never activated' };
  if (mode === 'never') return { activate: false, reason: 'activate is "never"' };
  if (mode === 'always') return { activate: true, reason: 'activate is "always"' };
  if (!activeVersion) return { activate: true, reason: 'no active model' };
  if (!comparison || comparison.clips === 0) {
    return {
      activate: false,
      reason: `no held-out clip both models can be scored on; ${activeVersion} stays (activate explicitly with POST /models/{version}/activate)`,
    };
  }
  const { candidate, active, clips, testSet } = comparison;
  if (!active) {
    return {
      activate: false,
      reason: `active model ${activeVersion} could not be scored (${comparison.activeError ?? 'unknown'}); not comparable, it stays`,
    };
  }
  const on = `on the same ${clips} clips of the candidate's ${testSet} test set`;
  return candidate.macroF1 > active.macroF1
    ? {
        activate: true,
        reason: `macro-F1 ${f1(candidate.macroF1)} > ${f1(active.macroF1)} of ${active.version} ${on}`,
      }
    : {
        activate: false,
        reason: `macro-F1 ${f1(candidate.macroF1)} ≤ ${f1(active.macroF1)} of ${active.version} ${on}`,
      };
}

/**
 * Pure: whether a deployment's bundled `version` becomes active, decided from what the previous
 * deployment shipped (`previousVersion`: CloudFormation's OldResourceProperties on an update, the data
 * folder's record locally; none on a first deployment), never from whether this version was registered
 * before, so that a retried deployment, a stack rollback and a redeploy of the same code each leave the
 * model the stack now ships, or the operator's choice:
 * - nothing active, or the active version cannot serve (not registered, or no package in the bucket):
 *   the bundled version;
 * - the active version is the one the previous deployment shipped (nobody chose a model since): the
 *   bundled version, so a new version goes live, a rollback's update puts the earlier one back and the
 *   retry of a deployment that failed before activating finishes the job;
 * - any other (a trained version, or an earlier bundled one activated by an operator or a training job):
 *   it stays; the bundled version is registered, to be activated by hand.
 */
export function decideBundledActivation(input: {
  version: string;
  /** The bundled version of the deployment before this one; undefined on a first deployment. */
  previousVersion: string | undefined;
  /** The active pointer's version. */
  pointer: string | undefined;
  /** Its registry record, when it is another version than `version`. */
  active: Pick<ModelVersionRecord, 'source' | 'location'> | undefined;
}): ActivationDecision {
  const { version, previousVersion, pointer, active } = input;
  if (!pointer) return { activate: true, reason: `no active model: ${version} is` };
  if (pointer === version) return { activate: false, reason: `${version} is already active` };
  if (!active) return { activate: true, reason: `the active ${pointer} is not in the registry` };
  if (!active.location)
    return { activate: true, reason: `the active ${pointer} has no package in the bucket: it cannot serve` };
  if (pointer === previousVersion)
    return {
      activate: true,
      reason: `${version} replaces ${pointer}, the previous deployment's bundled model`,
    };
  if (active.source === 'trained')
    return { activate: false, reason: `the trained ${pointer} stays active; ${version} is registered` };
  return previousVersion === undefined
    ? {
        activate: false,
        reason: `${pointer} was active before this first deployment and stays; ${version} is registered`,
      }
    : {
        activate: false,
        reason: `${pointer} was activated since the previous deployment (${previousVersion}) and stays; ${version} is registered`,
      };
}
