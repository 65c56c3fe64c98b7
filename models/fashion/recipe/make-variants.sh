#!/bin/sh
# Makes fashion's int8 variants from the two trained fp32 CNNs with the project's TypeScript tools,
# then measures every variant into model.json. (train.py writes teacher-fp32, student-fp32 and
# teacher-pruned50: the channel pruning and its fine-tuning happen in torch, see RECIPE.md.)
# Run from the repository root after train.py:  sh models/fashion/recipe/make-variants.sh
set -eu
D=models/fashion
E="node bin/edge-infer.js"
[ -f dist/runtime/cli/main.js ] && [ -f dist/runtime/generated/validators.cjs ] || npm run build

# int8: static QDQ (BatchNormalization folded into the Convs, per-channel int8 weights), activation
# ranges from 200 train images (eval/calibration.json; never the eval images).
# --int8-stem: the first Conv (1 input channel) is quantized too. Measured here (eval --batch 32,
# 300 runs, alternating files): teacher all-int8 0.095 / 1.37 ms at batch 1 / 32 vs 0.107 / 2.04-2.14
# with the stem left float (the quantizer's default), fp32 0.109 / 2.19-2.30; student likewise.
$E quantize $D/teacher-fp32.onnx --to int8 --int8-stem --calibrate $D/eval/calibration.json -o $D/teacher-int8.onnx --eval $D/eval
$E quantize $D/student-fp32.onnx --to int8 --int8-stem --calibrate $D/eval/calibration.json -o $D/student-int8.onnx --eval $D/eval

# mixed is not shipped: `quantize teacher-fp32.onnx --to mixed --calibrate ... --eval ... --max-drop 0.5%`
# measured every layer at int8 within the budget and wrote a file byte-identical to teacher-int8.onnx
# (see RECIPE.md).

# Every figure in model.json (bytes, sha256, params, MACs, ops, accuracy, agreement).
$E eval fashion --update-manifest --batch 32
