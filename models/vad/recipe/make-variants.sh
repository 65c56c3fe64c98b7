#!/bin/sh
# Makes vad's variants from the third-party fp32.onnx with the project's TypeScript tools and
# measures all of them into model.json. Run from the repository root after fetch.sh and
# make-eval.py (both outputs are committed, so this alone reproduces the variants):
#   sh models/vad/recipe/make-variants.sh
set -eu
D=models/vad
E="node bin/edge-infer.js"
[ -f dist/runtime/cli/main.js ] && [ -f dist/runtime/generated/validators.cjs ] || npm run build

# int8: static QDQ of every Conv in both If branches (16 kHz and 8 kHz) and their nested Ifs,
# per-channel int8 weights, activation ranges from the calibration frames (other recordings than
# the eval set). The LSTM weights stay float (quantize prints why).
$E quantize $D/fp32.onnx --to int8 --calibrate $D/eval/calibration.json.gz -o $D/int8.onnx

# Every figure in model.json; the eval runs the frames in order with the LSTM state carried.
$E eval vad --update-manifest
