#!/bin/sh
# Makes the int8, mixed and pruned variants from the recipe's fp32 files with the project's
# TypeScript tools (no Python), then measures every variant into model.json.
# Run from the repository root after train.py and `npm run build`:
#   sh models/spam/recipe/make-variants.sh
set -eu
M=models/spam
EI="node bin/edge-infer.js"
$EI quantize $M/teacher-fp32.onnx --to int8  -o $M/teacher-int8.onnx  --eval $M/eval
$EI quantize $M/teacher-fp32.onnx --to mixed -o $M/teacher-mixed.onnx --eval $M/eval
$EI prune    $M/teacher-fp32.onnx --sparsity 0.5 -o $M/teacher-pruned50.onnx
# Not used (see RECIPE.md "pruned50"): fine-tuning the kept weights of the pruned graph, e.g.
#   /usr/bin/python3 $M/recipe/finetune.py <package dir> $M/teacher-pruned50.onnx <out.onnx>
$EI quantize $M/student-fp32.onnx --to int8  -o $M/student-int8.onnx  --eval $M/eval
node $M/recipe/measure.mjs --runs 200
