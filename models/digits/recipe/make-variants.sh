#!/bin/sh
# Makes every digits variant except the two trained ones (train.py writes teacher-fp32.onnx and
# student-fp32.onnx) with the project's TypeScript tools, then measures all of them into model.json.
# The only Python step is finetune.py (training the pruned network's remaining weights).
# Run from the repository root after `npm ci` (builds dist/ with tsc if needed):
#   sh models/digits/recipe/make-variants.sh
# Needs /usr/bin/python3 with torch + onnx (Debian's python3-torch, python3-onnx) for finetune.py.
set -eu
D=models/digits
E="node bin/edge-infer.js"
[ -f dist/runtime/cli/main.js ] && [ -f dist/runtime/generated/validators.cjs ] || npm run build
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# int8: dynamic int8, per-output-channel symmetric weights in the default 7-bit range (x86 AVX2 safe).
$E quantize $D/teacher-fp32.onnx --to int8 -o $D/teacher-int8.onnx --eval $D/eval
$E quantize $D/student-fp32.onnx --to int8 -o $D/student-int8.onnx --eval $D/eval

# mixed: bits per layer (4 / 8 / float) by measured sensitivity on the eval set, at most 0.5 points lost.
$E quantize $D/teacher-fp32.onnx --to mixed --max-drop 0.5% -o $D/teacher-mixed.onnx --eval $D/eval
$E quantize $D/student-fp32.onnx --to mixed --max-drop 0.5% -o $D/student-mixed.onnx --eval $D/eval

# 50% structured pruning (half the hidden units of each hidden layer), then fine-tuning of the
# remaining weights on the train split (finetune.py keeps the pruned graph, changes only weights).
$E prune $D/teacher-fp32.onnx --sparsity 0.5 -o "$TMP/teacher-pruned50-raw.onnx" --eval $D/eval
/usr/bin/python3 $D/recipe/finetune.py "$TMP/teacher-pruned50-raw.onnx" $D/teacher-pruned50.onnx

# Every figure in model.json (bytes, sha256, params, MACs, ops, layer bits, accuracy, agreement).
$E eval digits --update-manifest --batch 64
