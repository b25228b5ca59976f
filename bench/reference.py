"""The Python pipeline a researcher would reach for, as `npm run bench`'s side-by-side reference.

soundfile (libsndfile) decode -> mono -> torchaudio resample to 16 kHz (cached per rate, like ours; see
predict() for rates with unwieldy ratios) ->
torchaudio MFCC (40 coefficients, 40 mel bands, 512-sample Hann frames every 320 samples, as our
feature config) -> per-utterance CMVN -> a PyTorch LSTM (48 units, the size of our three 16-unit ones)
-> linear -> softmax. The LSTM's weights are random (seeded): the bench compares speed, not accuracy.
One thread (torch.set_num_threads(1)), like our ONNX session and the bench's one core.

Modes:
  serve <list>  reads the clip paths in <list> into memory, prints "ready <ms since start>", then for each
                stdin line "<index>" runs the pipeline on that clip and prints "<ms> <label>"; "quit"
                prints "rss <peak RSS in MB>" and exits. The bench interleaves these calls with its own.
  once <clip>   cold start: import, build, predict one clip, print the label.
"""

import io
import resource
from fractions import Fraction
import sys
import time

START = time.perf_counter()

import soundfile  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
torch.manual_seed(1337)

RATE = 16_000
LABELS = ["angry", "disgust", "fear", "happy", "neutral", "surprise", "sad"]


class Reference(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(40, 48, batch_first=True)
        self.head = torch.nn.Linear(48, len(LABELS))

    def forward(self, features):
        out, _ = self.lstm(features)
        return torch.softmax(self.head(out.mean(dim=1)), dim=-1)


MFCC = torchaudio.transforms.MFCC(
    sample_rate=RATE,
    n_mfcc=40,
    melkwargs={"n_fft": 512, "win_length": 512, "hop_length": 320, "n_mels": 40, "center": False},
)
MODEL = Reference().eval()
RESAMPLERS = {}


def predict(data):
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    wave = torch.from_numpy(samples.mean(axis=1))
    if rate != RATE:
        if rate not in RESAMPLERS:
            # torchaudio builds one kernel row per output phase, each as long as the reduced input rate:
            # 24 414 -> 16 000 reduces to 12 207 -> 8 000, a 98-million-tap kernel (gigabytes, seconds per
            # clip). Approximate such ratios within 0.1 % by one with at most 1000 phases, as our
            # resampler quantises to 1024 phases.
            ratio = Fraction(RATE, rate)
            if max(ratio.numerator, ratio.denominator) > 1000:
                ratio = ratio.limit_denominator(1000)
            RESAMPLERS[rate] = torchaudio.transforms.Resample(ratio.denominator, ratio.numerator)
        wave = RESAMPLERS[rate](wave)
    mfcc = MFCC(wave).T  # frames x 40
    mfcc = (mfcc - mfcc.mean(dim=0)) / mfcc.std(dim=0).clamp_min(1e-3)
    probabilities = MODEL(mfcc.unsqueeze(0))[0]
    return LABELS[int(probabilities.argmax())]


def serve(list_path):
    with open(list_path) as f:
        clips = [open(line.strip(), "rb").read() for line in f if line.strip()]
    print(f"ready {(time.perf_counter() - START) * 1000:.1f}", flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            started = time.perf_counter()
            label = predict(clips[int(command)])
            print(f"{(time.perf_counter() - started) * 1000:.4f} {label}", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rss {peak_mb:.1f}", flush=True)


def once(path):
    with open(path, "rb") as f, torch.inference_mode():
        print(predict(f.read()), flush=True)


if __name__ == "__main__":
    {"serve": serve, "once": once}[sys.argv[1]](sys.argv[2])
