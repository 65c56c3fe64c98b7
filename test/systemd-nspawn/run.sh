#!/usr/bin/env bash
# The real-systemd check of issue 12 (a CI step in .ci/run, not part of `npm test`): boots a minimal
# Debian bookworm with systemd 252 as PID 1 in systemd-nspawn, with the host's node and this project
# bind-mounted read-only, and runs check.sh inside (see there for what is checked) against the
# shipped unit deploy/systemd/edge-infer.service plus units/edge-infer.service.d.
#
# Needs root, debootstrap and systemd-nspawn (package systemd-container), a built project
# (npm ci / npm run build) and, the first time, Debian's mirror: the root file system is made with
#   debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libnss-systemd,procps,mosquitto bookworm
# (about 250 MB) and cached in $EDGE_NSPAWN_CACHE (default /var/cache/edge-infer-ci); later runs reuse
# it. The container runs on a tmpfs overlay (--volatile=overlay), so the cached root never changes.
# Exit 0 when every check passed; prints the report and the service's journal.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
CACHE=${EDGE_NSPAWN_CACHE:-/var/cache/edge-infer-ci}
ROOTFS=$CACHE/nspawn-bookworm-2
MIRROR=${EDGE_NSPAWN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "systemd-nspawn check: needs root" >&2; exit 1; }
command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn check: install systemd-container" >&2; exit 1; }
[ -f "$PROJECT/dist/runtime/cli/main.js" ] || { echo "systemd-nspawn check: build the project first (npm run build)" >&2; exit 1; }
NODE=$(readlink -f "$(command -v node)")

if [ ! -x "$ROOTFS/usr/sbin/mosquitto" ] || [ ! -x "$ROOTFS/lib/systemd/systemd" ]; then
  echo "systemd-nspawn check: making the root file system in $ROOTFS (debootstrap, once)"
  command -v debootstrap >/dev/null || { echo "systemd-nspawn check: install debootstrap" >&2; exit 1; }
  mkdir -p "$CACHE"
  rm -rf "$ROOTFS.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libnss-systemd,procps,mosquitto bookworm "$ROOTFS.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  mv "$ROOTFS.tmp" "$ROOTFS"
fi

WORK=$(mktemp -d /var/tmp/edge-nspawn.XXXXXX)
# The last run's report, journal and console stay in $CACHE/last-run for a look afterwards.
trap 'rm -rf "$CACHE/last-run"; mkdir -p "$CACHE/last-run"; cp -r "$WORK/results/." "$WORK/console.txt" "$CACHE/last-run/" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/models" "$WORK/results"
# Models: the real digits model, and spin-loop (test/fixtures/models): instant for x <= 10, an
# inference stuck for hours for x = 11 (the watchdog check).
cp -r "$PROJECT/models/digits" "$WORK/models/digits"
mkdir "$WORK/models/spin"
cp "$PROJECT/test/fixtures/models/spin-loop.onnx" "$WORK/models/spin/fp32.onnx"
SHA=$(sha256sum "$WORK/models/spin/fp32.onnx" | cut -d' ' -f1)
BYTES=$(stat -c %s "$WORK/models/spin/fp32.onnx")
cat > "$WORK/models/spin/model.json" <<JSON
{ "id": "spin", "task": "other",
  "inputs": [{ "name": "x", "dtype": "float32", "shape": [1, 1] }],
  "outputs": [{ "name": "y", "dtype": "float32", "shape": [1, 1] }],
  "reference": "fp32",
  "variants": [{ "id": "fp32", "file": "fp32.onnx", "sha256": "$SHA", "bytes": $BYTES, "precision": "fp32",
    "params": 0, "macs": 1, "ops": ["Sub", "Relu", "Mul", "Cast", "Reshape", "Loop"],
    "quality": { "accuracy": 1, "agreement": 1, "evalCount": 1 } }] }
JSON
cat > "$WORK/config.json" <<JSON
{ "deviceId": "nspawn", "topicPrefix": "edge/nspawn", "profile": "generic-x64", "modelsDir": "/opt/edge-models",
  "broker": { "url": "mqtt://127.0.0.1:1883", "protocolVersion": 5, "readyWaitS": 5 },
  "embeddedBroker": { "mode": "never" }, "drainTimeoutMs": 5000,
  "log": { "level": "info", "format": "json" }, "telemetry": { "intervalS": 5 } }
JSON

# The host's node runs inside: bind any shared library it needs that the container lacks (e.g.
# libnode of a distribution build), at the same path.
LIBS=()
while read -r lib; do
  [ -n "$lib" ] && [ ! -e "$ROOTFS$lib" ] && LIBS+=(--bind-ro="$lib")
done < <(ldd "$NODE" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
echo "systemd-nspawn check: booting $ROOTFS (node $NODE, project $PROJECT${LIBS[*]:+, extra libraries ${LIBS[*]}})"
set +e
timeout --kill-after=10 900 systemd-nspawn -D "$ROOTFS" --volatile=overlay --boot --console=pipe --register=no --keep-unit \
  --private-network --machine=edge-infer-check \
  --bind-ro="$NODE":/usr/local/bin/node "${LIBS[@]}" \
  --bind-ro="$PROJECT":/opt/edge-infer \
  --bind-ro="$WORK/models":/opt/edge-models \
  --bind-ro="$WORK/config.json":/etc/edge-infer/config.json \
  --bind-ro="$PROJECT/deploy/systemd/edge-infer.service":/etc/systemd/system/edge-infer.service \
  --bind-ro="$HERE/units/edge-infer.service.d":/etc/systemd/system/edge-infer.service.d \
  --bind-ro="$HERE/units/edge-check.service":/etc/systemd/system/edge-check.service \
  --bind-ro="$HERE/units/edge-check.target":/etc/systemd/system/edge-check.target \
  --bind-ro="$HERE/check.sh":/usr/local/sbin/edge-check \
  --bind="$WORK/results":/results \
  systemd.unit=edge-check.target >"$WORK/console.txt" 2>&1
rc=$?
set -e
echo "systemd-nspawn check: container exited $rc"
if [ -f "$WORK/results/journal.txt" ]; then
  echo "--- the service's journal (edge-infer.service and systemd about it) ---"
  grep -E 'edge-infer|Watchdog' "$WORK/results/journal.txt" | grep -vE '"(request|telemetry)\.' | tail -120 || true
fi
echo "--- report ---"
if [ ! -s "$WORK/results/report.txt" ]; then
  echo "no report: the check did not run; console:"; tail -60 "$WORK/console.txt"; exit 1
fi
cat "$WORK/results/report.txt"
grep -q '^# done' "$WORK/results/report.txt" || { echo "the check did not finish; console:"; tail -40 "$WORK/console.txt"; exit 1; }
if grep -q '^not ok' "$WORK/results/report.txt"; then echo "systemd-nspawn check: FAILED"; exit 1; fi
echo "systemd-nspawn check: OK"
