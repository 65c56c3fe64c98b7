#!/bin/sh
# Makes textdir's variants from the third-party fp32.onnx with the project's TypeScript tools and
# measures all of them into model.json. Run from the repository root after fetch.sh and
# make-eval.py (both files are committed, so this alone reproduces the variants):
#   sh models/textdir/recipe/make-variants.sh
set -eu
D=models/textdir
E="node bin/edge-infer.js"
[ -f dist/runtime/cli/main.js ] && [ -f dist/runtime/generated/validators.cjs ] || npm run build

# int8: static QDQ (per-channel int8 weights, BatchNormalization folded, the paddle2onnx Constant
# weights hoisted), activation ranges from the 40 calibration lines (never the eval lines).
$E quantize $D/fp32.onnx --to int8 --calibrate $D/eval/calibration.json.gz -o $D/int8.onnx --eval $D/eval/eval.json.gz

# Every figure in model.json (bytes, sha256, params, MACs, ops, accuracy, agreement).
$E eval textdir --update-manifest --batch 32
