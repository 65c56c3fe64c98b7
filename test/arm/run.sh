#!/usr/bin/env bash
# ARM proof (issue 7): runs `detect`, `plan` and `infer` for every variant of every model in models/ on
# x86 (reference), then under emulated Raspberry Pi userlands (.ci/pi-emu), and compares the answers:
#   arm64 Pi 4 (Cortex-A72, no dotprod)  native backend, profile rpi4-2gb
#   arm64 Pi 5 (Cortex-A76, dotprod)     native backend, profile rpi5-8gb
#   armv7 Pi Zero 2 W (32-bit userland)  WASM backend,   profile rpi-zero-2w
# x86 runs twice (native, and WASM as the armv7 twin). Exit 0 when all agree (same top-1, logits within
# tolerance, expected backend, detect arch/features/board profile), 1 on any
# disagreement (table printed), other codes when a run could not happen. Needs root (pi-emu: apt, unshare).
# Env: ARM_CHECK_SAMPLES (eval images per model, default 5), ARM_CHECK_JOBS (parallel CLI calls per run,
# default 2), ARM_CHECK_RUNS (subset, default "a72 a76 armv7"), ARM_CHECK_OUT (keep the JSON documents here),
# ARM_CHECK_MODELS (models folder instead of models/, e.g. one with extra quantized variants).
set -euo pipefail
cd "$(dirname "$0")/../.."
samples=${ARM_CHECK_SAMPLES:-5}
jobs=${ARM_CHECK_JOBS:-2}
runs=${ARM_CHECK_RUNS:-a72 a76 armv7}
models=(); [ -n "${ARM_CHECK_MODELS:-}" ] && models=(--models "$(cd "$ARM_CHECK_MODELS" && pwd)")
if [ -n "${ARM_CHECK_OUT:-}" ]; then out=$ARM_CHECK_OUT; mkdir -p "$out"; else out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi

# Build (`npm run build`: tsc, then the schema validators) when dist/ is missing or older than a source
# file. tsc emits even when files other engineers are still editing have type errors, so its exit code
# alone does not decide; then the validators are generated from what it emitted, and both outputs must exist.
gen=dist/runtime/generated/validators.cjs
if [ ! -f dist/runtime/cli/main.js ] || [ ! -f $gen ] || [ -n "$(find runtime -name '*.ts' -newer dist/runtime/cli/main.js -print -quit)" ]; then
  echo "arm: building dist/" >&2
  npm run build >&2 || { echo "arm: the build reported errors (continuing with what tsc emitted)" >&2; node dist/runtime/config/gen-validators.js >&2; }
fi
for f in dist/runtime/cli/main.js $gen; do [ -f $f ] || { echo "arm: $f missing after build" >&2; exit 70; }; done

check() { # label, then pi-emu prefix (or nothing), then check.mjs args
  local label=$1; shift
  local t0=$SECONDS
  echo "arm: $label ..." >&2
  if ! "$@" --samples "$samples" --jobs "$jobs" ${models[@]+"${models[@]}"} --out "$out/$label.json"; then
    echo "arm: $label: the check could not run (see above)" >&2; exit 70
  fi
  echo "arm: $label took $((SECONDS - t0)) s" >&2
}

check x86 node test/arm/check.mjs --profile rpi4-2gb --backend native \
  --plans rpi4-2gb:native,rpi5-8gb:native,rpi-zero-2w:wasm
# x86 under WASM too: separates "ARM differs from x86" from "WASM differs from native" for armv7.
check x86-wasm node test/arm/check.mjs --profile rpi-zero-2w --backend wasm --plans rpi-zero-2w:wasm
specs=(); wasm_specs=()
# --board-mem: MemTotal of the real board (Pi 4 2 GB ~1870 MB, Pi 5 8 GB ~8050 MB, Zero 2 W ~427 MB).
for r in $runs; do
  case $r in
    a72) check a72 env PI_EMU_CPU=a72 .ci/pi-emu arm64 -- node test/arm/check.mjs --profile rpi4-2gb --plans rpi4-2gb,rpi5-8gb --board-mem 1870
         specs+=("a72=$out/a72.json;backend=native;arch=arm64;features=+neon,-dotprod;board=rpi4-2gb") ;;
    a76) check a76 env PI_EMU_CPU=a76 .ci/pi-emu arm64 -- node test/arm/check.mjs --profile rpi5-8gb --plans rpi5-8gb,rpi4-2gb --board-mem 8050
         specs+=("a76=$out/a76.json;backend=native;arch=arm64;features=+neon,+dotprod;board=rpi5-8gb") ;;
    armv7) check armv7 .ci/pi-emu armv7 -- node test/arm/check.mjs --profile rpi-zero-2w --plans rpi-zero-2w --board-mem 427
         specs+=("armv7=$out/armv7.json;backend=wasm;arch=armv7;features=+neon;board=rpi-zero-2w")
         wasm_specs+=("armv7=$out/armv7.json;backend=wasm") ;;
    *) echo "arm: unknown run \"$r\" (a72, a76, armv7)" >&2; exit 64 ;;
  esac
done
rc=0
echo "== emulated runs vs x86 native (reference: $out/x86.json)"
node test/arm/compare.mjs "$out/x86.json" "${specs[@]}" || rc=$?
if [ ${#wasm_specs[@]} -gt 0 ]; then
  echo; echo "== armv7 WASM vs x86 WASM (reference: $out/x86-wasm.json)"
  node test/arm/compare.mjs "$out/x86-wasm.json" "${wasm_specs[@]}" || rc=$?
fi
exit $rc
