import type { ExperimentResult } from './experiment.ts';
import { barChart, confusionSvg, lineChart, reliabilitySvg } from './figures.ts';
import type { Calibrated, DevelopmentRun, FoldsResult } from './folds.ts';
import { COLLAPSE_SHARE, largestClassShare, type Metrics, metricsMarkdown } from './metrics.ts';

export interface DatasetOverview {
  /** `${speaker}` → emotion → clips (after de-duplication). */
  perSpeaker: Record<string, Record<string, number>>;
  durations: number[];
  speechDurations: number[];
  duplicates: number;
  failed: Array<{ path: string; error: string }>;
  skipped: Record<string, number>;
}

export interface ReportInput {
  title: string;
  modelDir: string;
  labels: readonly string[];
  corpora: string[];
  splitName: string;
  splitDescription: string;
  /** No speaker held out of the package (`train --heldout none`): its unseen-voice figure is the folds'. */
  everyVoiceTrains?: boolean;
  metrics: Record<string, Metrics>;
  main: ExperimentResult;
  experiments: ExperimentResult[];
  overview: DatasetOverview;
  parityMaxDiff: number;
  onnxBytes: number;
  totalSeconds: number;
  command: string;
  evaluateCommand: string;
  backend: string;
  /** Figures already written (name → relative path), e.g. the waveform panel. */
  extraFigures: Record<string, string>;
  /** All RAVDESS actors, each judged by a fold model that never heard them (pooled confusion). */
  foldsPooled?: Metrics;
  /** The package's own actor folds (pooled predictions, calibration), when run. */
  folds?: FoldsResult;
  /** The development run the calibration was fitted on, when the package's folds were not run. */
  development?: { source: string; run: DevelopmentRun };
  /** One line: how audio becomes model input. */
  pipelineText: string;
  /** The model's input window, from the package's metadata (`input`) and feature config. */
  window: { frames: number; seconds: number; dims: number; hopSize: number; sampleRate: number };
  notes: string[];
}

const f3 = (x: number) => x.toFixed(3);

/**
 * How the recipe was chosen (development runs on 2026-11-25, not re-run by the training command). Kept in
 * the report because they also say how much to trust the held-out numbers.
 */
export const DEVELOPMENT_NOTES = `## How the recipe was chosen (development runs, not re-run by this command)

The held-out actors were looked at while choosing between these recipes, so the held-out figures are
slightly optimistic. Standard errors: about ±0.05 on actors 11–12 (104 clips), ±0.02 on the pooled folds
(624 clips); the same recipe with another seed moved by up to 0.07 on 104 clips.

### Round 1 (model 1.1.0): the LSTM on MFCC frames

| recipe | RAVDESS actors 11–12 accuracy | TESS test accuracy |
|---|---:|---:|
| LSTM 64 units on CMVN MFCC, 25 epochs | 0.337 | 0.998 |
| + smaller corpus repeated in each epoch (balancing) | 0.317 | 0.998 |
| + SpecAugment-style masks | 0.308 | 0.996 |
| LSTM 64 + in-model CMVN + utterance mean/std branch | 0.394 | 0.998 |
| LSTM 32 + utterance statistics, dropout 0.5 (seed 1337 / seed 7) | 0.423 / 0.356 | 0.993 / 1.000 |
| same on 40 log-mel bands instead of MFCC (seed 1337 / 7) | 0.433 / 0.356 | 0.991 / 0.991 |
| MLP on per-clip MFCC mean/std (the seed's baseline) | 0.423 | 0.991 |
| LSTM 64 on RAVDESS actors 01–10 only (no TESS) | 0.260 | – |
| 3 LSTM(32) averaged — shipped as 1.1.0 (every actor held out once, 3 folds pooled: 0.343) | 0.385 | 1.000 |

Whatever the recipe, the LSTM fit TESS's two voices almost perfectly and stayed near 0.35–0.42 on new
voices: MFCCs with per-utterance normalisation say little about how high, how varied and how loud a
voice is.

### Round 2 (model 1.2.0): prosody

A probe first: per-clip statistics and a small classifier (linear, or an MLP with 64 units), trained on
TESS + 10 RAVDESS actors and tested on the other 2, six times over so that every actor is tested once
(7 classes, 624 clips pooled):

| per-clip features | linear | MLP 64 |
|---|---:|---:|
| MFCC mean and std over speech frames | 0.364 | – |
| + pitch statistics (YIN: mean, spread, range, slope, voiced share) | 0.405 | – |
| + level statistics (spread, range, slope) | 0.462 | – |
| + std of MFCC deltas | 0.505 | 0.529 |
| what a graph can compute: mean, std and delta RMS of 40 MFCC + pitch, voicing and level channels | 0.489 | 0.502 |
| + range and overall change of pitch, voicing and level | – | 0.535 |

So the core extractor now adds three prosody channels to every frame (featureConfig \`prosody\`) and the
model's statistics branch computes the last row's statistics itself, in the ONNX graph. Then the LSTM
(single models; "folds" = 3 folds of 4 held-out actors, 8 training actors each, pooled):

| recipe | actors 11–12 | folds pooled | TESS test |
|---|---:|---:|---:|
| prosody frames + mean/std/delta statistics, LSTM 32 | 0.385 | – | 0.998 |
| same, LSTM 8 | 0.433 | – | 0.998 |
| + range/change statistics, LSTM 8 | 0.442 | – | 0.996 |
| same without augmentation | 0.404 | – | 0.996 |
| same, LSTM 16 | 0.462 | 0.450 | 0.998 |
| **+ dropout 0.5 on the pooled LSTM state (the 1.2.0 recipe)** | **0.548** | **0.497** | **1.000** |
| same, state dropout 0.8 | 0.500 | 0.492 | – |
| same, state dropout 0.5, dense layer 128 | 0.567 | 0.476 | – |

The recurrent summary memorises TESS's two voices; dropping it half the time while training makes the
head learn from the utterance statistics as well, and those carry across voices. The recipe with the
best pooled-folds figure was chosen (the 128-unit variant scored higher on actors 11–12 alone, within
one standard error) and shipped as 1.2.0: three such LSTMs (seeds 1337, 2337, 3337) averaged, 0.567 on
actors 11–12, 0.497 on the pooled folds.

### Round 3 (model 1.3.0): augmentation

| recipe (single models, as above) | actors 11–12 | folds pooled |
|---|---:|---:|
| the 1.2.0 recipe (pitch/formant scaling 0.85–1.18, 4 copies per clip) | 0.548 | 0.497 |
| 6 augmented copies per clip | 0.510 | 0.514 |
| **pitch/formant scaling 0.80–1.25 (±4 semitones), 4 copies — the 1.3.0 recipe** | **0.538** | **0.527** |

Wider vocal-tract/pitch scaling makes the training voices more varied, which is what the model lacks;
the rule decided beforehand was again the pooled-folds figure.

What is still missing: the 0.60 goal on unseen actors and the 0.80 TESS speaker-independent goal. Ten
RAVDESS voices plus two TESS voices are few; more speakers (CREMA-D: 91 actors, RAVDESS 13–24, EMO-DB)
are the lever most likely to move these numbers further.

### Round 4 (candidate 1.4.0, not shipped): new rooms and honest confidence

Measured from outside, 1.3.0 collapsed onto one class on other corpora (fear for 70 % of a German
corpus). Round 4 asks whether training on degraded channels keeps the model from that without losing
unseen voices. (Leaving the channel-laden MFCC means out of the head, \`--no-spectral-means\`, is
implemented and parity-tested but was not measured in time.)

Protocol (\`npx tsx training/develop.ts\`, written before the runs): RAVDESS actor folds as above (3
single LSTMs, every actor 01–12 held out once, 624 clips pooled), TESS reduced to every 4th word (700
clips; 1 speaker-like + 1 channel copy each) so that a run fits the shared machine's clock, 15 epochs
at most; each held-out clip is scored clean *and* once through an unseen synthetic channel
(\`TEST_CHANNEL\` in training/channel.ts: reverberation up to RT60 1 s, EQ, noise 5–20 dB SNR,
telephone band, clipping; its own seed, never used in training). **Rule, decided before the runs:** the
recipe with the highest mean of the clean and the channel-shifted pooled accuracy wins, except that a
recipe whose clean pooled accuracy is more than one standard error (±0.02) below the best clean one is
not chosen; within 0.005, the simpler recipe. The collapse share (largest class on a balanced set) is
reported next to each.

| run | recipe | folds pooled, clean (± SE) | through the unseen channel | largest class (clean / channel) | ECE raw |
|---|---|---:|---:|---|---:|
| A | the 1.3.0 recipe under this protocol (no channel copies) | 0.393 ± 0.020 | 0.274 ± 0.018 | surprise 20 % / disgust 25 % | 0.017 |
| **B** | **+ 2 channel copies per RAVDESS clip, 1 per TESS clip** | **0.425 ± 0.020** | **0.305 ± 0.018** | sad 21 % / sad 20 % | 0.069 |

B wins by the rule (+0.032 clean, +0.031 through the new channel). Both runs are far below 1.3.0's
0.527: after fold 1 it showed that cutting TESS to a quarter also cut RAVDESS's repeats per epoch from
3 to 1 (the balancing uses the ratio of the two corpora), i.e. a third of the training on RAVDESS; A and
B share that flaw, so the comparison stands, but their absolute level does not carry over. The shipped
recipe fixes the repeats at 3 (\`corpusRepeats\`).

**Rule for shipping, decided before the final run:** 1.4.0 (recipe B, RAVDESS 3× per epoch) replaces
1.3.0 only if its own pooled folds (run beside it with the same recipe, 20 epochs, as 1.3.0's were) reach
1.3.0's 0.527 minus one standard error (0.507); otherwise 1.3.0 stays the shipped model.

| run | folds 01–04 / 05–08 / 09–12 | folds pooled, clean (± SE) | through the unseen channel | largest class (clean / channel) | ECE raw → temperature, cross-fitted |
|---|---:|---:|---:|---|---:|
| 1.3.0 recipe (all of TESS, 4 speaker-like copies per clip; from round 3) | 0.553 / 0.591 / 0.438 | **0.527** ± 0.020 | – | – | – |
| 1.4.0 recipe (B + RAVDESS 3×, 20 epochs) | 0.476 / 0.538 / 0.433 | 0.482 ± 0.020 | 0.324 ± 0.019 | angry 19 % / disgust 24 % | 0.082 → 0.077 (T = 1.17) |

The 1.4.0 recipe misses the rule by 0.025 (0.482 against 0.507) and was **not shipped**; 1.3.0's graph
stays, now with its calibration (1.3.1, see "Confidence calibration"). The loss sits in the TESS cut:
channel copies themselves helped (+0.03 in A vs B, clean and shifted alike), but a quarter of TESS with one
speaker-like copy instead of all of it with four costs more than that on unseen RAVDESS voices — TESS's
variety helps even though its two voices are not RAVDESS's. Computing the channel copies for all of
TESS did not fit this session's clock on the shared machine; it is the next run to make (the code and
the cache layout support it: \`--tess-words 1 --tess-copies 4,2\`). Neither recipe collapses on RAVDESS
(largest class ≤ 25 % clean or through the channel), so the collapse measured from outside on other
corpora is a matter of those corpora's recordings and speakers, which synthetic channels only partly
imitate (0.48 → 0.32 through them).

### Round 5 (2026-12-05): all of TESS back, channel copies and spectral means measured like for like

Round 4 could only afford a quarter of TESS, which cost more than the channel copies won. Round 5 puts
all of TESS back (every word, 4 speaker-like copies per clip, as 1.3.0) and measures, in one session on
the same feature cache, whether channel copies and leaving the MFCC utterance means out of the head
(\`no-spectral-means\`) help unseen voices and unseen channels. Protocol and rules were committed before
the runs (\`ROUND5.md\` beside this report) (\`npx tsx training/develop.ts --tess-words 1 --tess-copies 4,1 --epochs 20\`, RAVDESS 3× per
epoch, folds 01–04 / 05–08 / 09–12, single LSTMs, seed 1337; the unseen \`TEST_CHANNEL\` as in round 4).
**Rule:** the highest mean of clean and channel-shifted pooled accuracy wins, except a recipe whose clean
pooled accuracy is more than 0.02 below the best clean one; within 0.005, the simpler.

| run | recipe | folds 01–04 / 05–08 / 09–12 | folds pooled, clean (± SE) | through the unseen channel | mean | largest class (clean / channel) | ECE raw / cross-fitted |
|---|---|---:|---:|---:|---:|---|---:|
| **A** | **the 1.3.0 recipe** (\`--channel-copies 0\`) | 0.553 / 0.591 / 0.438 | **0.527** ± 0.020 | 0.324 ± 0.019 | **0.426** | disgust 17 % / disgust 31 % | 0.078 / 0.087 |
| B | + 2 channel copies per RAVDESS clip, 1 per TESS clip | 0.490 / 0.563 / 0.404 | 0.486 ± 0.020 | **0.361** ± 0.019 | 0.423 | surprise 18 % / disgust 25 % | **0.038** / 0.053 |
| C | B + no MFCC utterance means in the head | 0.404 / 0.486 / 0.380 | 0.423 ± 0.020 | 0.321 ± 0.019 | 0.372 | angry 18 % / disgust 25 % | 0.062 / 0.050 |

**A wins** (B and C are more than 0.02 below it clean, and A's mean is also the highest), so the 1.3.0
graph stays. A reproduces round 3's folds to the last clip (0.5529 / 0.5913 / 0.4375): the runs are
deterministic. What the runs say: channel copies trade clean accuracy for robustness (−0.041 clean,
+0.037 through the unseen channel) and make the raw probabilities better calibrated (ECE 0.078 → 0.038,
the one figure that meets the 0.05 target); with all of TESS they no longer pay for themselves on clean
voices as they did with a quarter of it. The MFCC utterance means carry real information about emotion
(−0.063 clean without them) and leaving them out did not make the channel-shifted figure better
(0.321 against 0.361), so the collapse on other corpora is not simply the microphone showing in the
cepstral means.

**Trained for speaker adaptation (runs D and E, issue 18).** Adapting the 1.3 graph at inference gained
nothing (ADAPTATION.md) because it never saw shifted inputs. D trains the A recipe on inputs shifted as
adaptation shifts them: every training matrix (original and each copy) gets the shift
\`n/(n+3) · (population − mean of n earlier clips of its speaker)\` for its own seeded n ∈ {0, 1, 3, 10,
30} (n = 0: the context-free input), on the 40 MFCCs, pitch and level; E shifts only pitch and level (the
voice's register). Each held-out actor is scored as the (k+1)-th clip of seeded streams of its own clips
(\`develop.ts --speaker-shift 3\`, \`training/adaptive-folds.ts\`). **Rule, before the runs:** ship only if
(1) the context-free path (k = 0) stays ≥ 0.507, (2) balanced streams after 10 clips reach ≥ 0.547 (A +
0.02), and (3) 70 %-skewed streams after 10 clips lose at most 0.01 against the model's own k = 0.

| run | shifted channels | k = 0 (context-free) | balanced k = 1 / 3 / 10 / 30 | skewed mean k = 0 → 10 (worst emotion Δ) | largest class at k = 10 |
|---|---|---:|---|---|---:|
| A (reference, not adapted) | – | 0.527 | – | – | – |
| D | 40 MFCC + pitch + level | 0.447 | 0.461 / 0.474 / 0.484 / 0.492 | 0.435 → 0.451 (−0.051) | 20 % |
| E | pitch + level | 0.492 | 0.493 / 0.493 / 0.497 / 0.500 | 0.477 → 0.482 (−0.036) | 18 % |

Neither is shipped: both fail rule 1 (the context-free path loses 0.08 and 0.035 against A) and rule 2
(0.484 and 0.497 after 10 clips against 0.547). Training for adaptation does make adaptation work —
D gains +0.037 after 10 clips and +0.045 after 30 over its own context-free figure, about the +4 points
the issue's per-clip probe found — but the shifted training removes information the context-free model
uses (absolute register and spectral means carry emotion, not only the voice), so an adapted clip of a
known speaker is still judged worse than the unadapted 1.3 model judges it. For the same reason the
"recording's own statistics" idea for long recordings (issue 12, item 4) is not kept: it is this shift
with the recording as the stream. Streams dominated by one emotion lose up to 0.05 for the worst
emotion after 10 clips in both runs. A next step would be two inputs side by side (the raw statistics
and the speaker-relative ones) so that the head keeps both.

Round 5 in numbers: 5 development runs, ~20 min each on the 2 shared cores; the shipped graph is
unchanged (1.3.1).

### Round 6 (2026-12-06): ensembles scored on the folds, seeds measured, a mixed ensemble ships (1.4.0)

Every earlier round compared recipes by one fold model per fold, all with seed 1337; the package is an
ensemble of three seeds. Round 6 trains each fold model again with the seeds of the package's other
members (\`develop.ts --member k\`, same split and features), keeps the out-of-fold probabilities
(\`--save-probabilities\`) and scores ensembles by averaging them as the graph does
(\`training/ensemble-folds.ts\`). Rules were committed before the runs ([ROUND6.md](ROUND6.md)): among the
ensembles of three (AAA: the shipped kind, AAB, ABB, BBB; A = the 1.3.0 recipe, B = with channel copies)
those within 0.02 of the best clean accuracy are eligible, the highest mean of clean and channel-shifted
accuracy wins, ties (within 0.005) go to fewer B members. Results of every run are in \`round6/\`.

| fold models | seed 1337 | seed 2337 | seed 3337 | mean of the three |
|---|---:|---:|---:|---:|
| A (1.3.0 recipe), clean | 0.527 | 0.474 | 0.462 | 0.488 |
| B (+ channel copies), clean | 0.486 | 0.466 | 0.413 | 0.455 |
| A, through the unseen channel | 0.324 | 0.308 | 0.292 | 0.308 |
| B, through the unseen channel | 0.361 | 0.362 | 0.322 | 0.348 |

| ensemble of three | clean pooled (± SE) | folds 01–04 / 05–08 / 09–12 | unseen channel | mean | largest class (clean / channel) | ECE raw / cross-fitted |
|---|---:|---:|---:|---:|---|---:|
| AAA (the shipped kind) | 0.524 ± 0.020 | 0.524 / 0.567 / 0.481 | 0.317 | 0.421 | surprise 18 % / disgust 29 % | 0.068 / 0.072 |
| AAB | 0.521 ± 0.020 | 0.543 / 0.582 / 0.438 | 0.335 | 0.428 | sad 18 % / disgust 28 % | 0.052 / 0.057 |
| **ABB** | **0.532** ± 0.020 | 0.548 / 0.611 / 0.438 | **0.373** | **0.453** | surprise 18 % / disgust 29 % | 0.063 / 0.057 |
| BBB | 0.502 ± 0.020 | 0.490 / 0.587 / 0.428 | 0.369 | 0.435 | surprise 20 % / disgust 27 % | 0.060 / 0.049 |

**ABB wins** (+0.008 clean and +0.056 through the unseen channel over AAA) and ships as 1.4.0: one
member of the 1.3.0 recipe, two with channel copies (\`--channel-free-members 1\`), temperature 0.964
fitted on ABB's pooled out-of-fold probabilities. What else the runs say:
- **Seed 1337 was a lucky seed.** The same recipe on the same folds scores 0.527, 0.474 and 0.462 with
  the package's three seeds: one fold model's pooled accuracy moves by ±0.03 with its seed alone, more
  than the differences rounds 4 and 5 chose between. Round 5's "A beats B on clean voices by 0.04" is
  within that spread (seed means: 0.488 against 0.455). Comparisons from here on use ensembles or
  several seeds.
- Averaging three seeds is worth about +0.035 over one seed's mean (AAA 0.524 against 0.488); mixing in
  members trained on degraded channels keeps that on clean voices and adds robustness through a new
  channel, which a single recipe did not (BBB is as robust but 0.03 lower clean).
- No ensemble reaches 0.60 on the folds, nor ECE ≤ 0.05 on clean voices after cross-fitting except BBB
  (0.049), which is not eligible.

**Run G (issue 18): the speaker offset beside the raw statistics.** D and E replaced the raw inputs by
speaker-shifted ones and lost the context-free accuracy. G keeps the frames and statistics raw and gives
the head the speaker offset as a separate input (\`develop.ts --speaker-offset 3\`; n ∈ {0, 1, 3, 10,
30} drawn per training matrix as in D; 0 when there is no context). Rule as D's.

| run | k = 0 (context-free) | balanced k = 1 / 3 / 10 / 30 | skewed mean k = 0 → 10 (worst emotion Δ) |
|---|---:|---|---|
| G | 0.492 | 0.486 / 0.477 / 0.474 / 0.474 | 0.481 → 0.450 (−0.084) |
| G2: G with each augmented copy as a virtual speaker (\`--virtual-speakers\`) | 0.490 | 0.482 / 0.492 / 0.485 / 0.478 | 0.487 → 0.444 (−0.084) |

G keeps the context-free path within the seed spread of A (0.492), but the offset makes predictions
*worse* the more of a speaker is known, most on skewed streams. With ten training voices per fold (eight
RAVDESS actors, two TESS speakers) the head can learn each voice's offset as a label prior, which does
not carry to new voices. G2 (rule written after G's result, before its run) gives each speaker-like or
channel copy the offset of a virtual speaker recorded that way, so that offsets never contradict the row
they ride with; it changes nothing that matters. Both fail rules 1–3 and are not shipped.

Round 6 in numbers: 8 development runs, 8–15 min each on the 2 shared cores, and one package (1.4.0).

### Round 7 (2026-12-06): RAVDESS 6× per epoch

Rule before the runs ([ROUND7.md](ROUND7.md)): +0.01 clean and at most −0.01 through the channel against
ABB. The same three members with RAVDESS clips twice as often per epoch (\`develop.ts --ravdess-repeats 6\`) score 0.508 clean and 0.362 through the channel as
an ensemble (ABB: 0.532 / 0.373): not adopted. Their probabilities are better calibrated (ECE 0.038 raw,
0.042 cross-fitted).

### Round 8 (2026-12-06): calibration beyond one temperature

ABB's reliability bins are under-confident between 0.3 and 0.5 and over-confident above 0.9, which one
temperature cannot fix both ways. Rule before the runs ([ROUND8.md](ROUND8.md)): a candidate replaces T
only with a cross-fitted ECE ≤ 0.05 and below T's, accuracy within 0.005 of T's, and no class above
40 %. A1, B1 and B2 were trained again to recover their out-of-fold probabilities and reproduced round 6
to the last digit; \`training/calibration-candidates.ts\` scored the families on ABB
([round8/](round8/)):

| calibration (cross-fitted by fold) | ECE | accuracy | largest class |
|---|---:|---:|---:|
| T (ships) | 0.057 | 0.532 | surprise 18 % |
| T + one bias per class | 0.071 | 0.511 | sad 18 % |
| T + ε uniform mixing (keeps the argmax) | 0.052 | 0.532 | surprise 18 % |

Neither passes (T + ε comes closest, 0.052 against the 0.05 asked): T stays.

### Round 9 (2026-12-06): label smoothing 0.10

Rule before the runs ([ROUND9.md](ROUND9.md)): clean ≥ 0.527 and a better mean (or ECE ≤ 0.05). Every
model so far trained with label smoothing 0.05; at 0.10 (\`develop.ts --label-smoothing 0.1\`) each of
A1, B1 and B2 scored lower on unseen actors, and the ensemble ABB′ reached 0.503 clean and 0.338 through
the channel (ABB: 0.532 / 0.373) with a cross-fitted ECE of 0.072 (ABB: 0.057): not adopted
([round9/](round9/)).

### Round 10 (2026-12-06): wider speaker-like scaling

Rule before the runs ([ROUND10.md](ROUND10.md)), as round 9. Pitch/formant scaling of the speaker-like
copies widened from 0.80–1.25 to 0.75–1.33 (\`develop.ts --spectral-scale 0.75,1.33\`): ABB″ scored
0.492 clean and 0.354 through the channel (ABB: 0.532 / 0.373), better calibrated (ECE 0.033
cross-fitted against 0.057) but less accurate: not adopted ([round10/](round10/)).

### Round 11 (2026-12-06): ABB plus one wider-scaled member, from saved probabilities

Rule before scoring ([ROUND11.md](ROUND11.md)): ABB with round 10's B1″ as a fourth member scored
0.535 clean and 0.359 through the channel, and its cross-fitted ECE rose to 0.068: the wider-scaled
member's calibration does not carry into the mixture. Nothing follows from it.

### Round 12 (2026-12-06): mixup at the head

Rule before the runs ([ROUND12.md](ROUND12.md)), as rounds 9 and 10. Mixup of the head's input rows
(\`develop.ts --mixup 0.4\`, a new training option, \`ModelSettings.mixup\`): ABBm scored 0.484 clean
and 0.351 through the channel (ABB: 0.532 / 0.373), better calibrated (ECE 0.046 cross-fitted against
0.057) but less accurate: not adopted ([round12/](round12/)). Label smoothing, wider scaling and mixup
all traded accuracy for calibration.

### Round 13 (2026-12-06): the package trains on every voice (1.5.0)

Rule before the run ([ROUND13.md](ROUND13.md)). The recipe is unchanged (ABB, the same seeds and
temperature); the package no longer holds RAVDESS actors 11 and 12 out (\`train --heldout none\`): twelve
RAVDESS voices train instead of ten, and TESS's random fifth stays the test. Measured before the run from
saved probabilities, the same recipe scored 0.529 on actors 11–12 with eight training actors (the fold
models) and 0.577 with ten (the 1.4.0 package): a hint (±0.05) that more voices help, which is all this
data can say. 1.5.0 met every condition (TESS random 0.998, parity 6e-7, 211 KB, 24.5 min) and ships;
its unseen-voice figure is the recipe's pooled folds, 0.532 ± 0.020.

### Round 14 (2026-12-06): a new TESS voice for the whole recipe

Rule before the run ([ROUND14.md](ROUND14.md)). The TESS speaker-independent figure so far trains on one
TESS voice alone. A new experiment (\`--experiments tess-voice-out\`) leaves one TESS voice out of
everything the package trains on (the other TESS voice and RAVDESS 01–12) and tests on it: 0.760 for
YAF and 0.717 for OAF, mean 0.739, against 0.762 for the TESS-only models. Twelve RAVDESS voices did not
make a new TESS voice easier; neither figure reaches the 0.80 target, and both are reported. The
first all-but-OAF member stopped early (best validation epoch 2 of 10); whether that lowered OAF's
figure was not measured.

### Round 15 (2026-12-06): a speaker-adversarial head

Rule before the runs ([ROUND15.md](ROUND15.md)). A training-only adversary (\`develop.ts
--speaker-adversary λ\`, \`ModelSettings.speakerAdversary\`, \`training/speaker-adversary.ts\`) read the
head's hidden layer through a gradient reversal and learned to name the training speaker, so that the
shared layers would drop voice identity. At λ = 0.3 the ABB ensemble scored 0.471 clean and 0.337
through the channel (ABB: 0.532 / 0.373), better calibrated (ECE 0.037 cross-fitted) but less accurate;
λ = 1.0's first member fell further (0.438) and the rest of that arm was stopped (stated in the round's
file). Not adopted ([round15/](round15/)): with ten training voices, voice identity and the emotion cues
the head uses are not separable.

### Round 16 (2026-12-06): 8 speaker-like copies per RAVDESS clip, and ABB re-measured

Rule before the runs ([ROUND16.md](ROUND16.md)): 8 speaker-like copies per RAVDESS clip instead of 4
(\`develop.ts --ravdess-copies 8\`) scored 0.526 clean and 0.365 through the channel, below the stored
ABB (0.532 / 0.373): not adopted by its rule. Because every candidate since round 12 had fallen below
that reference, ABB was run again beside it, same commands, same session: **0.498 ± 0.020 clean, 0.346
through the channel, ECE 0.044 at the shipped temperature (0.964)**. The stored 0.532 does not
reproduce: round 8's commit and today's train along the same curve epoch by epoch on today's features,
and the feature code gives bit-identical features; what changed is the feature cache (rebuilt on a new
machine at 06:34 today; rounds 6–11 read the earlier one, built by an earlier state of the code). A
member's seed alone moves it as much (A1 / A2 / A3 = 0.527 / 0.474 / 0.461 in round 6). **The recipe's
figure for a new voice is the re-measured 0.498 ± 0.020.** Side by side with it, mixup (round 12) was
−0.014 clean, the speaker adversary (round 15) −0.027, and 8 copies **+0.028** (+0.019 through the
channel), which round 17 tests on other seeds ([round16/](round16/)).

### Round 17 (2026-12-06): 8 copies on other seeds, beside the recipe (1.6.0)

Rule before the runs ([ROUND17.md](ROUND17.md)): both recipes trained on member seeds no run had used
(3, 3, 4), side by side. 4 copies (ABB′) 0.486 ± 0.020 clean, 0.353 through the channel; **8 copies
(ABB′c8) 0.498 clean, 0.365 through the channel** (+0.013 and +0.013), largest class 29.5 %: confirmed.
Together with round 16 it is the only change since round 6 to beat the recipe on two draws of seeds; the
gain is about half a standard error on each draw and comes through the ensemble (one member of three
was lower in each round). The package was retrained with \`--augment-copies 8\` as 1.6.0, its
temperature (0.886) fitted on the package seeds' out-of-fold probabilities (round 16's ABBc8, where
it leaves an ECE of 0.067 cross-fitted) and checked on round 17's seeds, which it never saw: ECE 0.037
there (0.049 raw). 1.6.0 met every condition of its rule (the whole command 35 min, TESS random 1.000,
parity 6e-7) and ships ([round17/](round17/)).

### Round 18 (2026-12-06): 12 copies against 8, on two draws of seeds

Rule before the runs ([ROUND18.md](ROUND18.md)): 12 speaker-like copies per RAVDESS clip against 8, with
the package's seeds and round 17's, the 8-copy runs reused after fold 1 and 2 of one were retrained and
printed exactly its stored log lines. Clean: 0.526 against 0.526 and 0.500 against 0.498 (mean +0.001,
the rule needed +0.01); through the channel 0.349 against 0.365 and 0.353 against 0.365: **not
confirmed, 8 copies stay.** Every member was better alone with 12 copies (+0.02 on average) but the
ensembles were not: the members grew more alike. Calibration improved (ECE 0.047 / 0.043 cross-fitted,
against 0.067 / 0.047) ([round18/](round18/)).

### Round 19 (2026-12-06): each member its own 8 of 12 copies

Rule before the runs ([ROUND19.md](ROUND19.md)): the B members train on copies 4–11 and 0–3 + 8–11 of a
12-copy cache (\`develop.ts --ravdess-copy-set\`) instead of 0–7, on both draws of seeds. Clean 0.522
against 0.526 and 0.503 against 0.498 (mean +0.001; the rule needed +0.01), through the channel 0.359
against 0.365 and 0.369 against 0.365: **not confirmed.** Again each member alone was better (+0.02) and
the ensembles were not: four variants in rounds 18–19 moved members by +0.02 and ensembles by −0.003 to
+0.005 ([round19/](round19/)).

### Round 20 (2026-12-06): a speaker-normalised head beside the ensemble (#18)

Rule before the runs ([ROUND20.md](ROUND20.md)): a logistic head on per-clip channel means and spreads,
normalised by the speaker's mean from the k earlier clips of a stream (shrunk toward the population),
fitted per actor fold and added to the ensemble's log-probabilities (round 16's and 17's stored
out-of-fold probabilities; \`training/speaker-head-round.ts\`). After 10 clips: +0.000 and +0.018 on
balanced streams (the rule needed +0.02 in both), −0.094 and −0.066 on 70 %-skewed ones: **not
adopted.** The head alone gains +5.5 points from its speaker statistics (0.413 → 0.468 at k = 30), as
the issue found for such a classifier, but beside the ensemble the gain is gone, and a skewed speaker's
mean drags predictions away from the dominant emotion ([round20/](round20/)).

### Round 21 (2026-12-06): attention pooling of the LSTM outputs

Rule before the runs ([ROUND21.md](ROUND21.md)): each member weights its LSTM's steps by softmax(h_t · w)
instead of averaging them (\`develop.ts --pooling attention\`, starting at the mean), on both draws of
seeds. Clean 0.529 against 0.526 and 0.508 against 0.498 (mean +0.006; the rule needed +0.01), through
the channel 0.356 against 0.365 and 0.354 against 0.365: **not confirmed**, members keep mean pooling.
The clean gain points the same way on both draws but is paid for through the channel
([round21/](round21/)).

### Round 22 (2026-12-06): averaging over speaker-like views at test time

Rule before the runs ([ROUND22.md](ROUND22.md)): the recipe's ensemble judges each held-out clip together
with K of its cached speaker-like copies (the training augmentation), probabilities averaged
(\`develop.ts --save-views\`, \`training/tta-round.ts\`), proposed for the predictor only at +0.03 or
more. The runs reproduced round 16's fold models to the clip; K = 0 / 2 / 4 / 8 gave 0.526 / 0.527 /
0.530 / 0.524, with folds 09–12 lower at every K and the raw ECE up by 0.017–0.028: **not adopted**.
Each member alone gains +0.02 to +0.04 from the copies, about what averaging three seeds already gives:
the ensemble does that work for a fraction of the cost ([round22/](round22/)).

### Round 23 (2026-12-06): a wider LSTM (32 units instead of 16)

Rule before the runs ([ROUND23.md](ROUND23.md)): the shipped recipe's three members with LSTM(32)
(\`develop.ts --units 32\`), everything else equal, proposed only if their ensemble reaches the reference
+ 0.02 (0.546) and beats it in 2 of 3 folds. The ensemble ABBw scored **0.489** ± 0.020 (folds 0.495 /
0.539 / 0.433) against ABBc8's 0.526 (0.534 / 0.567 / 0.476), lower in every fold; the members alone
0.452 / 0.449 / 0.431 against 0.490 / 0.476 / 0.449; through the unseen channel 0.356 against 0.365:
**not adopted**, the LSTM keeps 16 units. Seen: the wider members are far less overconfident (raw ECE of
the ensemble 0.034 against 0.084) — they fit the training voices less sharply, and generalise worse to
new ones ([round23/](round23/)).

### Round 24 (2026-12-06): a narrower LSTM (8 units instead of 16)

Rule before the runs ([ROUND24.md](ROUND24.md)): as round 23, with LSTM(8). The ensemble ABBn scored
**0.510** ± 0.020 (folds 0.505 / 0.577 / 0.447) against ABBc8's 0.526 (0.534 / 0.567 / 0.476): higher
in one fold, lower in two, and below the 0.546 the rule asked for: **not adopted**. Members alone 0.484
/ 0.466 / 0.476 against 0.490 / 0.476 / 0.449; through the unseen channel 0.333 against 0.365. With
round 23, the width of 16 units stands on the pooled folds too: 8 and 32 are both lower
([round24/](round24/)).

### Round 25 (2026-12-06): six members instead of three, from stored runs

Rule before scoring ([ROUND25.md](ROUND25.md)): the six members of the recipe trained in rounds 16 and
17 (two draws of seeds, each A + 2 B) averaged as one ensemble, proposed only at 0.546 or more. AABBBB
scored **0.521** ± 0.020 (folds 0.514 / 0.587 / 0.462; through the unseen channel 0.361; raw ECE 0.080)
against ABBc8's 0.526: **not adopted** (it would also double the ONNX run). Seen: six members land
between the two draws of three (0.526 and 0.498), so the package's 0.526 is partly a fortunate draw of
seeds; ~0.51–0.52 is the recipe's expected level on these folds ([round25/](round25/)).

### Round 26 (2026-12-06): a convolutional front end over log-mel

Rule before the runs ([ROUND26.md](ROUND26.md)): the recipe's three members with a Conv2D 3 × 3 (8
channels, relu, max-pooled over 4 mel bands) over the log-mel bands — recovered exactly from the 40 MFCCs by
an inverse DCT, so no feature changes — fed to the LSTM beside the CMVN'd frames
(\`develop.ts --front-end conv\`), proposed only at 0.546 or more and higher in 2 of 3 folds. ABBv scored
**0.518** ± 0.020 (folds 0.519 / 0.577 / 0.457; through the unseen channel 0.346; cross-fitted ECE 0.045)
against ABBc8's 0.526: **not adopted**. Seen: each member gained (+0.018 on average) but the ensemble did
not, as in rounds 18–23; the B members lost 0.022 through the channel; training took 2–5× longer per member
on the WASM backend ([round26/](round26/)).

### Round 27 (2026-12-07): four channel copies per RAVDESS clip for the B members

Rule before the runs ([ROUND27.md](ROUND27.md)): the B members with 4 channel-degraded copies per RAVDESS
clip instead of 2, beside the stored A member, proposed only at 0.385 or more through the unseen channel
(the reference + 0.02) with clean accuracy ≥ 0.516. ABc4 scored **0.377** through the channel and 0.519
clean (folds 0.495 / 0.596 / 0.466; raw ECE 0.054) against ABBc8's 0.365 / 0.526: **not adopted** — the
expected trade, too small to tell from the noise of 624 clips ([round27/](round27/)).

### Round 28 (2026-12-07): early stopping judged on voices the member does not train on

Rule before the runs ([ROUND28.md](ROUND28.md)): each member stops early on two of the fold's training
RAVDESS actors, moved out of its training (\`develop.ts --validation-voices <slot>\`, a different pair
per member), instead of on a tenth of its training voices' own clips; proposed only at 0.546 or more,
higher in 2 of 3 folds, and no more than 0.01 lower through the channel. ABBvv scored **0.498** ± 0.020
(folds 0.505 / 0.558 / 0.433; through the unseen channel 0.335; cross-fitted ECE 0.048) against ABBc8's
0.526 / 0.365: **not adopted**. Seen: on unseen voices the validation figure is flat from about epoch 8
to 20 and the chosen epochs stayed late, so the stopping rule was not the problem; six training voices
instead of eight cost the members more than their greater diversity gave the ensemble
([round28/](round28/)).

### Round 29 (2026-12-07): each member's weights averaged over its last epochs

Rule before the runs ([ROUND29.md](ROUND29.md)): each member ends with the mean of its weights after
every epoch from 8 on (stochastic weight averaging, \`develop.ts --average-from 8\`; round 28 showed
the unseen-voice figure flat from epoch 8) instead of the best epoch's, proposed only at 0.546 or
more, higher in 2 of 3 folds. ABBswa scored **0.526** ± 0.020 (folds 0.514 / 0.601 / 0.462; through
the unseen channel 0.370; cross-fitted ECE 0.072) against ABBc8's 0.526 / 0.365: **not adopted**.
Seen: each member gained a little (+0.002 to +0.011), the ensemble nothing: averaging epochs and
averaging seeds remove the same seed-and-batch noise ([round29/](round29/)).

### Round 30 (2026-12-07): RAVDESS's calm clips as more neutral speech

Rule before the runs ([ROUND30.md](ROUND30.md)): each fold trains also on its training actors' calm
clips, labelled neutral (\`develop.ts --calm-as-neutral\`; never tested on), proposed only at the
reference + 0.02 and no more than 0.01 lower through the channel. The reference was re-run on this
machine's rebuilt cache (ABBref 0.524 clean, 0.380 through the channel; the stored 0.526 / 0.365 did
not reproduce to the digit). ABBcn scored **0.530** ± 0.020 clean (folds 0.524 / 0.582 / 0.486) and
**0.361** through the channel: **not adopted**. Neutral recall rose from 19 to 28 of 48 and sad held
(36 of 96), but the members with channel copies lost elsewhere (B1 −0.040); only the channel-free
member gained (+0.039) ([round30/](round30/)).

### Round 31 (2026-12-07): round 8's T + ε on the shipped recipe's two draws of seeds

Rule before scoring ([ROUND31.md](ROUND31.md)): T + ε (\`(1 − ε)·softmax(log p / T) + ε / 7\`, which
keeps every chosen emotion) replaces T only with a cross-fitted ECE ≤ 0.05 on the package's draw
(ABBc8) and below T's on both draws. Cross-fitted ECE: **0.057** against T's 0.067 on ABBc8, 0.043
against 0.047 on round 17's ABB′c8: lower on both, but above 0.05 on the package's draw: **T stays**
([round31/](round31/)). Across the three ensembles it has now been scored on, T + ε gained 0.004–0.010,
less than the ECE's bootstrap spread (0.016).

### Round 32 (2026-12-07): calm clips for the channel-free member only

Rule before the runs ([ROUND32.md](ROUND32.md)), decided on round 17's seeds because the idea came from
round 30's A1: the channel-free member trains on calm clips, its two B members as before, proposed only
at the reference + 0.01 in 2 of 3 folds. On round 17's seeds AcnBB′ scored **0.495** against ABB′ref's
0.495 (higher in 1 fold of 3; through the channel 0.353 against 0.354): **not adopted**. On the
package's seeds the same mix had scored 0.540 against 0.524 (exploratory, computed after the rule): the
gain was A1's seed, not the calm clips (A3 lost 0.015 with them) ([round32/](round32/)).

### Round 33 (2026-12-07): 8 speaker-like copies of every TESS clip instead of 4

Rule before the runs ([ROUND33.md](ROUND33.md)), as round 29, against the recipe re-run the same day
(ABBref 0.524 / 0.380). ABBt8 scored **0.516** ± 0.020 clean (folds 0.505 / 0.572 / 0.471) and
**0.349** through the unseen channel: **not adopted**. What 8 copies did for RAVDESS (rounds 16–17) they
do not do for TESS's two voices ([round33/](round33/)).

### Round 34 (2026-12-07): voice-quality descriptors, a per-clip probe

Rule before the run ([ROUND34.md](ROUND34.md)): 19 voice-quality descriptors (harmonics-to-noise ratio,
jitter, shimmer, alpha ratio, Hammarberg index, spectral slopes, F1–F3 over voiced frames;
\`training/voice-quality.ts\`) were to go into an LSTM round only if, added to the statistics the graph
computes, they raised seeded per-clip classifiers by 0.02 on the 624 pooled unseen RAVDESS clips. Six
folds of two held-out actors: softmax regression 0.405 → 0.425 (+0.019), MLP 0.492 → 0.489 (−0.003);
through the unseen channel 0.309 → 0.340 and 0.332 → 0.346: **not adopted**. The descriptors move with
the channel by 0.9–2.7 of their clean spread, more than most MFCC means (median 0.75) and far more than
the pitch level (0.33) ([round34/](round34/)).

### Round 35 (2026-12-07): a statistics MLP as a fourth ensemble member, from stored runs

Rule before the run ([ROUND35.md](ROUND35.md)): an MLP over the 135 per-clip statistics the graph already
computes (64 ReLU units, three seeds averaged; \`training/stats-member-probe.ts\`, trained on the recipe's
folds and feature cache, 2.5 minutes a draw) beside the stored reference ensembles of both seed draws, as
an equally weighted fourth member, was to become a recipe member only at +0.015 clean and no more than
−0.005 through the unseen channel on both draws. Alone it scored 0.530 and 0.524, as well as the
three-LSTM ensembles (0.524 and 0.495); beside them 0.538 (+0.014, one clip short) and 0.516 (+0.021)
clean, every fold up, and 0.370 (−0.010) and 0.357 (+0.003) through the channel: **not adopted** on
this round ([round35/](round35/)).

### Round 36 (2026-12-07): the statistics MLP member on a fresh draw of seeds

Rule before the runs ([ROUND36.md](ROUND36.md)): round 35's member beside a fresh three-LSTM draw (member
seeds 5, 5, 6; MLP seeds 7, 8, 9), decided on that draw and the mean of three. Clean 0.513 → 0.529
(+0.016, every fold up), through the channel 0.349 → 0.378 (+0.029); over three draws +0.017 clean and
+0.007 through the channel; but the cross-fitted ECE rose by 0.013 (0.01 allowed): **not adopted**. The
MLP is the most overconfident member, and the only one trained without label smoothing
([round36/](round36/)).

### Round 37 (2026-12-07): the statistics MLP member with label smoothing 0.05

Rule before the runs ([ROUND37.md](ROUND37.md)): the member trained on targets smoothed as the LSTM
members' are, new MLP seeds beside the three stored LSTM draws, every criterion on every draw. Clean
+0.019, +0.011, +0.013 (mean +0.0144: two clips of 1872 short of +0.015), through the channel −0.003,
+0.005, +0.019, cross-fitted ECE +0.005, −0.008, −0.002: **not adopted**. Over rounds 35–37 the member
raised the ensemble clean in all six pairings (+0.011 to +0.021) and each rule failed narrowly on a
different criterion; the member stops there rather than tune a fourth rule to the last miss
([round37/](round37/)).

### Round 38 (2026-12-07): round 20's speaker head, corrected for the stream's emotion mix (#18)

Rule before the run ([ROUND38.md](ROUND38.md)): round 20's rule and streams, with two changes: the
speaker's mean taken as the earlier clips' mean minus the per-emotion offsets (learned on the training
speakers) weighted by the ensemble's mean probabilities of those clips, and only the head's change from
its population-normalised opinion added to the ensemble. At k = 10: −0.175 and −0.152 balanced, −0.241
and −0.210 on 70 %-skewed streams: **not adopted**. For a linear head that change is one class offset
for every clip of a speaker, which round 20's combination had cancelled with the head's own opinion of
the clip. The mix correction alone, in round 20's combination, halved the skewed loss (−0.059 and
−0.030) at about a point on balanced streams (−0.012 and +0.006): still short of both criteria
([round38/](round38/)).

### Round 39 (2026-12-07): fewer MFCCs, a per-clip probe

Rule before the run ([ROUND39.md](ROUND39.md)): 20 MFCCs instead of 40 were to go into an LSTM round only
if the graph's per-clip statistics restricted to the first 20 raised round 34's seeded per-clip
classifiers by 0.02 on the 624 pooled unseen RAVDESS clips (\`training/mfcc-count-probe.ts\`). Softmax
regression 0.405 → 0.346, MLP 0.492 → 0.471; through the unseen channel 0.309 → 0.309 and 0.332 → 0.330:
**not adopted**. The high coefficients carry emotion that unseen voices keep, not only the speaker; 13
and 30 coefficients (reported, not deciding) are not better than 40 for both classifiers either
([round39/](round39/)).

### Round 40 (2026-12-07): a stream-trained statistics MLP reading the clip and its speaker side by side (#18)

Rule before the run ([ROUND40.md](ROUND40.md)): an MLP over the graph's 135 per-clip statistics *and* their
difference from the speaker's mean (from the k earlier clips, shrunk toward the population by 3 clips),
trained on streams of the training speakers (k from 0 to 30, half of them skewed toward one emotion by
50–90 %) so that it learns how far to trust that mean (\`training/adaptive-member-round.ts\`), beside the
ensemble as a quarter-weight fourth member, on round 20's streams. At k = 10: +0.023 and +0.034 balanced
over the ensemble, +0.012 and +0.016 on 70 %-skewed streams, but the speaker context's own share (against
the same member fed no context) only +0.004 and +0.014 (mean +0.009; +0.01 needed): **not adopted**. The
MLP *alone* (reported, not deciding): 0.545 and 0.548 with no context (above both LSTM ensembles, 0.526
and 0.498), 0.577 and 0.578 after 10 clips (+0.032 and +0.030 from the context), and on skewed streams
−0.024 and −0.012 against its own k = 0, where round 20's linear head had lost 0.094 and 0.066
([round40/](round40/)).

### Round 41 (2026-12-07): round 40's MLP alone as the adaptive path, on fresh seeds (#18)

Rule before the run ([ROUND41.md](ROUND41.md)), the candidate picked from round 40's results and said so:
the stream-trained MLP alone once a speaker has N earlier clips (the ensemble below N), on MLP seeds
never used (17–22), the same streams, every criterion on both draws. At k = 10: 0.578 and 0.574 against
the ensemble's 0.526 and 0.498 (**+0.052**, **+0.076**; +0.04 needed), skewed streams +0.002 and +0.027
(≥ −0.01), the context's own share +0.025 and +0.028 (≥ +0.02), largest class 17 %, raw ECE 0.046 and
0.045: **adopted**, N = 1 (not yet built into the package: that is its next step). Half the gain is there
with no context (k = 0: 0.553 and 0.546); the worst single skewed kind still loses 0.061–0.073; measured
on clean studio speech and RAVDESS voices only ([round41/](round41/)).
`;

/** Training curves of the shipped model, per epoch. */
function curveFigures(h: ReportInput['main']['history']): Record<string, string> {
  const figures: Record<string, string> = {};
  figures['curves-loss.svg'] = lineChart('Training loss (per epoch)', 'epoch', [
    { name: 'train loss', values: h.map((e) => e.loss), colour: '#3b528b' },
    { name: 'validation loss', values: h.map((e) => e.valLoss), colour: '#d95f02', dashed: true },
  ]);
  figures['curves-accuracy.svg'] = lineChart(
    'Accuracy (per epoch)',
    'epoch',
    [
      { name: 'train acc', values: h.map((e) => e.accuracy), colour: '#3b528b' },
      { name: 'validation acc', values: h.map((e) => e.valAccuracy), colour: '#d95f02', dashed: true },
      { name: 'validation F1', values: h.map((e) => e.valMacroF1), colour: '#1b9e77', dashed: true },
    ],
    [0, 1],
  );
  return figures;
}

/** Histograms of the clips' stored durations and of their speech spans after VAD trimming. */
function durationFigures(overview: DatasetOverview): Record<string, string> {
  const figures: Record<string, string> = {};
  const bins = 14;
  const edges = Array.from({ length: bins + 1 }, (_, i) => i * 0.5);
  const histogram = (values: number[]) =>
    Array.from(
      { length: bins },
      (_, i) => values.filter((v) => v >= edges[i]! && (v < edges[i + 1]! || i === bins - 1)).length,
    );
  const binLabels = edges
    .slice(0, bins)
    .map((e, i) => `${e.toFixed(1)}–${edges[i + 1]!.toFixed(1)}${i === bins - 1 ? '+' : ''}`);
  figures['durations.svg'] = barChart(
    'Clip duration (s), as stored',
    binLabels,
    histogram(overview.durations),
    'seconds',
  );
  figures['speech-durations.svg'] = barChart(
    'Speech span after VAD trimming (s): what the model sees',
    binLabels,
    histogram(overview.speechDurations),
    'seconds',
    '#21918c',
  );
  return figures;
}

/** SVG files of the report: name → content. */
export function reportFigures(input: ReportInput): Record<string, string> {
  const figures: Record<string, string> = {};
  Object.assign(figures, curveFigures(input.main.history));
  for (const [name, m] of Object.entries(input.metrics)) {
    figures[`confusion-${name}.svg`] = confusionSvg(
      `Confusion matrix — ${name} (${m.support} clips)`,
      m.labels,
      m.confusion,
    );
  }
  for (const e of input.experiments) {
    figures[`confusion-exp-${e.split}-${e.settings.kind}.svg`] = confusionSvg(
      `${e.split} (${e.settings.kind}) — ${e.test.support} clips`,
      e.test.labels,
      e.test.confusion,
    );
  }
  const calibration = input.folds?.calibration ?? input.development?.run.calibration;
  if (calibration) figures['reliability.svg'] = reliabilityFigure(calibration);
  const emotions = [...input.labels];
  const totals = emotions.map((e) =>
    Object.values(input.overview.perSpeaker).reduce((n, perEmotion) => n + (perEmotion[e] ?? 0), 0),
  );
  figures['clips-per-emotion.svg'] = barChart('Clips per emotion (after de-duplication)', emotions, totals);
  Object.assign(figures, durationFigures(input.overview));
  return figures;
}

function reliabilityFigure(c: Calibrated): string {
  return reliabilitySvg('Reliability on unseen RAVDESS actors (pooled folds)', [
    { name: 'raw softmax', colour: '#d95f02', bins: c.binsBefore, ece: c.eceBefore },
    { name: `temperature ${c.temperature}`, colour: '#1b9e77', bins: c.binsAfter, ece: c.eceAfter },
  ]);
}

const shareCell = (confusion: number[][], labels: readonly string[]) => {
  const { label, share } = largestClassShare(confusion);
  return `${labels[label]} ${(share * 100).toFixed(0)} %${share > COLLAPSE_SHARE ? ' **collapse**' : ''}`;
};

/** Largest predicted class on a balanced set, for every test set in the report. */
function collapseSection(input: ReportInput): string[] {
  const rows: string[] = [];
  const row = (name: string, m: Metrics) =>
    rows.push(`| ${name} | ${m.support} | ${f3(m.accuracy)} | ${shareCell(m.confusion, m.labels)} |`);
  for (const [name, m] of Object.entries(input.metrics)) row(`shipped model: ${name}`, m);
  for (const e of input.experiments) {
    row(`${e.split} (${e.settings.kind})`, e.test);
    for (const [name, m] of Object.entries(e.subsets)) row(`↳ ${e.split}: ${name}`, m);
  }
  if (input.folds) row('RAVDESS actor folds pooled', input.folds.pooled);
  const dev = input.development?.run;
  if (dev) {
    rows.push(
      `| development run ${dev.name}: RAVDESS actor folds pooled | ${dev.confusion.flat().reduce((a, b) => a + b, 0)} | ${f3(dev.clean.accuracy)} | ${dev.clean.largestShare.label} ${(dev.clean.largestShare.share * 100).toFixed(0)} % |`,
    );
    if (dev.channelShifted)
      rows.push(
        `| ↳ same clips through an unseen synthetic channel | | ${f3(dev.channelShifted.accuracy)} | ${dev.channelShifted.largestShare.label} ${(dev.channelShifted.largestShare.share * 100).toFixed(0)} % |`,
      );
  }
  return [
    '## Collapse check',
    '',
    `Share of the predictions that go to the most-predicted class when every true class counts equally (a`,
    `balanced test set); 1/7 ≈ 14 % is even, above ${COLLAPSE_SHARE * 100} % the model is collapsing onto one class (\`npm run`,
    'evaluate` prints the same line for any folder).',
    '',
    '| test set | clips | accuracy | largest predicted class |',
    '|---|---:|---:|---|',
    ...rows,
    '',
  ];
}

/** Whether the calibration's fold predictions were ensembles like the shipped model or single LSTMs. */
function ensembleCaveat(input: ReportInput): string[] {
  const members = input.development?.run.options.members;
  if (!input.folds && Array.isArray(members) && members.length > 1)
    return [
      `The fold predictions are ensembles of ${members.length} fold models (${members.join(', ')}), the shipped`,
      "recipe's mix of members, averaged as the graph averages its members.",
      '',
    ];
  return [
    'The fold models are single LSTMs; the shipped model averages three, which is a little less confident,',
    'so the shipped temperature slightly over-softens it (errs on the side of modesty).',
    '',
  ];
}

function calibrationSection(input: ReportInput): string[] {
  const c = input.folds?.calibration ?? input.development?.run.calibration;
  if (!c) return [];
  const source = input.folds
    ? "the package's own RAVDESS actor folds (single-LSTM fold models)"
    : `development run ${input.development!.run.name} (\`${input.development!.source}\`, the shipped recipe's actor folds)`;
  const actors = (input.folds ?? input.development!.run).folds.flatMap((f) => f.actors).join(', ');
  return [
    '## Confidence calibration',
    '',
    `Temperature scaling fitted on the pooled out-of-fold predictions of ${source}: each of ${actors}`,
    'judged by a model that never heard them. The package ships `calibration` in metadata.json; the',
    "predictor divides each window's log-probabilities by the temperature, so the API's `confidence` is the",
    `calibrated probability, and flags \`lowConfidence\` below ${c.lowConfidence.threshold}.`,
    '',
    '| | value |',
    '|---|---:|',
    `| temperature | ${c.temperature} |`,
    `| expected calibration error, raw softmax | ${f3(c.eceBefore)} |`,
    `| ECE, each fold calibrated with the temperature of the other folds (honest) | **${f3(c.eceCrossFitted)}** |`,
    `| ECE, one temperature fitted on all folds (what ships; in-sample) | ${f3(c.eceAfter)} |`,
    `| held-out clips flagged lowConfidence (calibrated confidence < ${c.lowConfidence.threshold}) | ${(c.lowConfidence.share * 100).toFixed(1)} % |`,
    `| accuracy of the flagged clips | ${f3(c.lowConfidence.accuracy)} |`,
    '',
    ...ensembleCaveat(input),
    '![reliability diagram](figures/reliability.svg)',
    '',
  ];
}

function metricsSummaryRow(name: string, m: Metrics): string {
  return `| ${name} | ${m.support} | ${f3(m.accuracy)} | ${f3(m.macroF1)} | ${f3(m.weightedF1)} |`;
}

function introSection(input: ReportInput): string[] {
  return [
    `# ${input.title}`,
    '',
    `Trained on ${input.corpora.join(' + ')} with one command, measured on clips it never saw. Every number below is`,
    'computed by running the exported `model.onnx` in onnxruntime-node on the held-out clips, through the same',
    `feature pipeline as \`npm run evaluate\` (${input.pipelineText}).`,
    '',
    '```sh',
    input.command,
    `${input.evaluateCommand}   # reproduces the tables below`,
    '```',
    '',
  ];
}

function resultsSection(input: ReportInput): string[] {
  const lines: string[] = [];
  lines.push(
    '## Results of the shipped model',
    '',
    `Split **${input.splitName}**: ${input.splitDescription}.`,
    '',
  );
  if (input.everyVoiceTrains)
    lines.push(
      'No voice is held out of this package: every test clip below is of a voice it trained on. What the',
      'recipe does on voices it never heard is measured on the RAVDESS actor folds (each fold model trained',
      'without four actors), in "How the recipe was chosen" below.',
      '',
    );
  lines.push('| test set | clips | accuracy | macro-F1 | weighted-F1 |', '|---|---:|---:|---:|---:|');
  for (const [name, m] of Object.entries(input.metrics)) lines.push(metricsSummaryRow(name, m));
  lines.push('');
  for (const [name, m] of Object.entries(input.metrics)) {
    lines.push(
      `### ${name}`,
      '',
      metricsMarkdown(m),
      '',
      `![confusion matrix ${name}](figures/confusion-${name}.svg)`,
      '',
    );
  }
  return lines;
}

function trainingSection(input: ReportInput): string[] {
  const { main } = input;
  return [
    '## Training',
    '',
    `- Architecture: ${String(main.model.description)}; ${String(main.model.parameters)} parameters.`,
    `- Input: ${input.labels.length} labels (${input.labels.join(', ')}); windows of at most ${input.window.frames} frames (${input.window.seconds} s at hop ${input.window.hopSize} / ${input.window.sampleRate / 1000} kHz) of ${input.window.dims} features (${input.pipelineText}); longer clips are scored as half-overlapping windows whose probabilities are averaged.`,
    `- Ensemble: ${main.members.length} LSTM(s) trained with seeds ${main.members.map((m) => m.seed).join(', ')} (best epochs ${main.members.map((m) => `${m.bestEpoch}/${m.epochs}`).join(', ')})${main.settings.channelFreeMembers ? `, the first ${main.settings.channelFreeMembers} without the channel copies (a mixed ensemble)` : ''}; the ONNX graph averages their probabilities.`,
    `- Data: ${main.sizes.train} training clips (each epoch uses every clip once as the original or one of its augmented copies), ${main.sizes.validation} validation clips (early stopping), ${main.sizes.test} test clips.`,
    `- Optimiser: Adam, learning rate ${main.settings.learningRate} (halved after 3 epochs without a better validation macro-F1), batch ${main.settings.batchSize}, label smoothing ${main.settings.labelSmoothing ?? 0.05}, gradient norm clipped at 5, early stopping with patience ${main.settings.patience} (max ${main.settings.epochs} epochs); best epoch ${main.bestEpoch} of ${main.history.length}.`,
    `- Backend: tfjs ${input.backend}; training time ${Math.round(main.trainSeconds / 60)} min (${main.trainSeconds} s); the whole command including features and the extra experiments: ${Math.round(input.totalSeconds / 60)} min.`,
    `- ONNX: ${(input.onnxBytes / 1024).toFixed(0)} KB; onnxruntime-node vs tfjs on all ${main.sizes.test} test clips: max |Δprobability| = ${input.parityMaxDiff.toExponential(2)}.`,
    '',
    '![loss](figures/curves-loss.svg) ![accuracy](figures/curves-accuracy.svg)',
    '',
  ];
}

/** The extra experiments' table: one row per split, one more per named subset of its test part. */
function experimentRows(input: ReportInput): string[] {
  const lines: string[] = [];
  for (const e of input.experiments) {
    lines.push(
      `| ${e.split} | ${e.settings.kind}${e.settings.kind === 'lstm' ? ` ${e.settings.units}u` : ''} | ${e.history.length} (${e.bestEpoch}) | ${e.trainSeconds} | ${e.test.support} | ${f3(e.test.accuracy)} | ${f3(e.test.macroF1)} | ${e.description} |`,
    );
    for (const [name, m] of Object.entries(e.subsets)) {
      lines.push(
        `| ↳ ${e.split}: ${name} | | | | ${m.support} | ${f3(m.accuracy)} | ${f3(m.macroF1)} | subset of the test part |`,
      );
    }
  }
  return lines;
}

function experimentsSection(input: ReportInput): string[] {
  if (input.experiments.length === 0) return [];
  const lines: string[] = [
    '## Other splits (separate models, each trained only on its own training part)',
    '',
    'These are not the shipped model: each row is a model trained from scratch on the named split and',
    'tested on clips (and speakers, where stated) it never saw. They answer "how well does this recipe',
    'generalise", which the shipped model cannot answer about the voices it was trained on.',
    '',
    '| split | model | epochs (best) | train s | test clips | accuracy | macro-F1 | what it measures |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...experimentRows(input),
    '',
  ];
  if (input.foldsPooled) {
    const m = input.foldsPooled;
    lines.push(
      `**Every RAVDESS actor 01–12 held out once** (three fold models above, single LSTMs each, pooled): accuracy **${f3(m.accuracy)}**, macro-F1 **${f3(m.macroF1)}** on ${m.support} clips. This is the most reliable figure for voices the model never heard.`,
      '',
      metricsMarkdown(m),
      '',
    );
  }
  for (const e of input.experiments) {
    lines.push(
      `<details><summary>${e.split} (${e.settings.kind}): classification report</summary>`,
      '',
      metricsMarkdown(e.test),
      '',
      `![confusion](figures/confusion-exp-${e.split}-${e.settings.kind}.svg)`,
      '',
      '</details>',
      '',
    );
  }
  return lines;
}

/** Clips per speaker and emotion, with a row of totals. */
function speakerTable(input: ReportInput): string[] {
  const { overview } = input;
  const speakers = Object.keys(overview.perSpeaker).sort();
  const lines = [
    `| speaker | ${input.labels.join(' | ')} | total |`,
    `|---|${input.labels.map(() => '---:').join('|')}|---:|`,
  ];
  for (const s of speakers) {
    const row = input.labels.map((l) => overview.perSpeaker[s]![l] ?? 0);
    lines.push(`| ${s} | ${row.join(' | ')} | ${row.reduce((a, b) => a + b, 0)} |`);
  }
  const totals = input.labels.map((l) => speakers.reduce((n, s) => n + (overview.perSpeaker[s]![l] ?? 0), 0));
  lines.push(`| **all** | ${totals.join(' | ')} | ${totals.reduce((a, b) => a + b, 0)} |`, '');
  return lines;
}

function datasetSection(input: ReportInput): string[] {
  const { overview } = input;
  return [
    '## Dataset overview',
    '',
    ...speakerTable(input),
    `- Identical audio removed before splitting (hash of the decoded samples): ${overview.duplicates} duplicate(s).`,
    `- Not used: ${
      Object.entries(overview.skipped)
        .map(([k, v]) => `${v} × ${k}`)
        .join(', ') || 'none'
    }.`,
    `- Refused by the core decoder and left out: ${overview.failed.length}${overview.failed.length ? ` (${overview.failed.map((x) => `\`${x.path.split('/').slice(-2).join('/')}\`: ${x.error}`).join('; ')})` : ''}.`,
    '',
    '![clips per emotion](figures/clips-per-emotion.svg)',
    '',
    '![durations](figures/durations.svg) ![speech durations](figures/speech-durations.svg)',
    '',
  ];
}

export function reportMarkdown(input: ReportInput): string {
  const lines: string[] = [
    ...introSection(input),
    ...resultsSection(input),
    ...trainingSection(input),
    ...experimentsSection(input),
    ...collapseSection(input),
    ...calibrationSection(input),
    ...datasetSection(input),
  ];
  for (const [name, path] of Object.entries(input.extraFigures)) lines.push(`![${name}](${path})`, '');
  if (input.corpora.includes('ravdess')) lines.push(DEVELOPMENT_NOTES);
  if (input.notes.length > 0) lines.push('## Notes', '', ...input.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
