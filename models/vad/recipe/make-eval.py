#!/usr/bin/python3
"""Eval set for `vad` (Silero VAD v4): speech synthesized by Debian's espeak-ng, placed between
stretches of silence and noise, cut into 512-sample frames (32 ms at 16 kHz) labelled speech (1) /
no speech (0). The model is recurrent, so the set is a sequence: rows are consecutive frames of a
few recordings, and `sequence` tells the eval how to carry the LSTM state between rows.

Run from the repository root:  /usr/bin/python3 models/vad/recipe/make-eval.py
Needs espeak-ng and sox (Debian), python3-numpy. Deterministic: fixed texts, voices and seed
(espeak-ng's output is the same for the same version; Debian 12 ships 1.51).

Labels come from the clean speech alone (before noise is added): a frame is speech when the
speech signal's RMS in it is within 30 dB of the loudest frame of its utterance. A VAD decides
speech a little after onset and keeps it a little after the end (Silero's LSTM smooths), so
accuracy against these frame labels is below what a VAD's segment-level figure would be; the
int8 target is agreement with fp32, which does not depend on the labels.

Writes (relative to models/vad/):
  eval/eval.json.gz   {"source", "rate", "frame", "recordings", "sequence", "inputs", "labels"};
                      inputs: frames of 512 samples in -1..1 rounded to 4 decimals
  eval/sample.wav     the first recording, 16 kHz mono s16le (for trying the model on a stream)
  eval/calibration.json.gz  {"source", "inputs"}: the frames of two other recordings (other texts and
                      voices), for static int8 calibration of the Conv layers (never the eval frames)
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.dirname(HERE)
EVAL_DIR = os.path.join(MODEL_DIR, "eval")
RATE, FRAME = 16000, 512

# (text, espeak-ng voice, words per minute, noise: None = digital silence, else white-noise RMS)
RECORDINGS = [
    ("Turn on the kitchen lights, please.", "en-us", 150, None),
    ("The quick brown fox jumps over the lazy dog.", "en+f3", 170, 0.003),
    ("Set a timer for ten minutes.", "en-gb", 140, 0.01),
    ("What is the temperature in the living room?", "en+m3", 160, 0.02),
    ("Open the garage door.", "en-us+f2", 130, 0.005),
]
CALIBRATION = [
    ("Please call me back after lunch.", "en-us+m2", 150, 0.004),
    ("How long until the train arrives?", "en+f4", 165, None),
]
GAP_S = (0.8, 0.6)      # noise/silence before and after each utterance, seconds
LABEL_DB = 30.0         # speech frame: clean RMS within this many dB of the utterance's loudest frame
SEED = 5


def speak(text, voice, wpm, tmp):
    raw = os.path.join(tmp, "raw.wav")
    out = os.path.join(tmp, "16k.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", raw, text], check=True)
    # -D: no dither (sox dithers with a random seed by default, which would make every run differ).
    subprocess.run(["sox", "-D", raw, "-r", str(RATE), "-c", "1", "-b", "16", out], check=True)
    with wave.open(out, "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def frames_of(recordings, rng):
    """(inputs, labels, starts, descriptions, pcm of the first recording) of a list of recordings."""
    inputs, labels, starts, described, first_pcm = [], [], [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        for text, voice, wpm, noise in recordings:
            speech = speak(text, voice, wpm, tmp)
            pre, post = int(GAP_S[0] * RATE), int(GAP_S[1] * RATE)
            clean = np.concatenate([np.zeros(pre, np.float32), speech, np.zeros(post, np.float32)])
            n = len(clean) // FRAME
            clean = clean[:n * FRAME]
            signal = clean + (rng.normal(0, noise, clean.shape).astype(np.float32) if noise else 0)
            signal = np.clip(signal, -1, 1)
            rms = np.sqrt((clean.reshape(n, FRAME) ** 2).mean(axis=1))
            floor = rms.max() * 10 ** (-LABEL_DB / 20)
            frame_labels = (rms >= floor).astype(int)
            starts.append(len(inputs))
            for i in range(n):
                inputs.append([round(float(v), 4) for v in signal[i * FRAME:(i + 1) * FRAME]])
                labels.append(int(frame_labels[i]))
            described.append({"text": text, "voice": voice, "wpm": wpm, "noiseRms": noise, "frames": n,
                              "speechFrames": int(frame_labels.sum())})
            if first_pcm is None:
                first_pcm = (signal * 32767).round().astype("<i2")
    return inputs, labels, starts, described, first_pcm


def write_gz(doc, out):
    raw = json.dumps(doc, separators=(",", ":")).encode()
    with open(out, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
            g.write(raw)
    return len(raw)


def main():
    rng = np.random.RandomState(SEED)
    inputs, labels, starts, recordings, first_pcm = frames_of(RECORDINGS, rng)
    os.makedirs(EVAL_DIR, exist_ok=True)
    doc = {
        "source": "espeak-ng speech between silence / white noise (recipe/make-eval.py); label 1 = speech frame",
        "rate": RATE, "frame": FRAME, "recordings": recordings,
        "sequence": {
            "starts": starts,
            "constants": {"sr": {"dtype": "int64", "dims": [], "data": [RATE]}},
            "state": [{"input": "h", "output": "hn", "dims": [2, 1, 64]},
                      {"input": "c", "output": "cn", "dims": [2, 1, 64]}],
        },
        "inputs": inputs, "labels": labels,
    }
    out = os.path.join(EVAL_DIR, "eval.json.gz")
    raw_len = write_gz(doc, out)
    with wave.open(os.path.join(EVAL_DIR, "sample.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(first_pcm.tobytes())
    print(f"wrote {os.path.relpath(out)}: {len(labels)} frames ({sum(labels)} speech) in {len(starts)} recordings, "
          f"{raw_len} bytes of JSON, {os.path.getsize(out)} gzipped; eval/sample.wav")
    c_inputs, _, _, c_recordings, _ = frames_of(CALIBRATION, rng)
    c_out = os.path.join(EVAL_DIR, "calibration.json.gz")
    write_gz({"source": "espeak-ng speech, other texts and voices than eval.json.gz (recipe/make-eval.py)",
              "recordings": c_recordings, "inputs": c_inputs}, c_out)
    print(f"wrote {os.path.relpath(c_out)}: {len(c_inputs)} frames, {os.path.getsize(c_out)} gzipped")


if __name__ == "__main__":
    sys.exit(main())
