#!/bin/sh
# Regenerates bench/clips/ (committed; the bench needs no ffmpeg): 3 s speech clips from TESS and RAVDESS
# (SER_DATASET_DIR, default ../shared/datasets) in the formats and rates users send. WAV copies, the
# 48 kHz copies and the 30 s recording are made from these at bench time (bin/bench-clips.ts).
# Needs ffmpeg with libmp3lame and libopus (and its native AAC encoder). M4A and WebM are encoded as
# scripts/generate-fixtures.ts does (AAC-LC 64 kb/s at 44.1 kHz; Opus 32 kb/s, what MediaRecorder writes).
set -eu
DATA=${SER_DATASET_DIR:-$(dirname "$0")/../../shared/datasets}  # as training/datasets.ts
OUT=$(dirname "$0")/clips
mkdir -p "$OUT"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
# TESS: the longest clips (2.8–3.0 s), 24 414 Hz as distributed.
for f in OAF_Sad/OAF_gap_sad YAF_disgust/YAF_seize_disgust OAF_Sad/OAF_chief_sad YAF_disgust/YAF_join_disgust; do
  name=tess-$(basename "$f")
  cp "$DATA/tess/$f.flac" "$OUT/$name.flac"
  ff -i "$DATA/tess/$f.flac" -ar 44100 -c:a libmp3lame -b:a 64k "$OUT/$name-44k.mp3"
  ff -i "$DATA/tess/$f.flac" -c:a libopus -b:a 32k "$OUT/$name.opus"
  ff -i "$DATA/tess/$f.flac" -ar 44100 -c:a aac -b:a 64k "$OUT/$name-44k.m4a"
  ff -i "$DATA/tess/$f.flac" -c:a libopus -b:a 32k "$OUT/$name.webm"
done
# RAVDESS: 16 kHz, cut to 3.0 s (the sentence; the last 0.3 s is silence).
for f in Actor_05/03-01-05-02-01-01-05 Actor_06/03-01-03-02-02-01-06 Actor_07/03-01-04-01-01-02-07 Actor_08/03-01-07-02-02-02-08; do
  ff -i "$DATA/ravdess/$f.flac" -t 3.0 -c:a flac "$OUT/ravdess-$(basename "$f").flac"
done
