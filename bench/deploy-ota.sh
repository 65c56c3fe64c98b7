#!/usr/bin/env bash
# Issue 15 OTA: how long a signed deploy of the whole models/digits folder takes, step by step.
# Starts mosquitto (max_packet_size 65536) on a free port and the built service with deploy on
# (health window 1 s), deploys 3 times with the CLI in 60 KiB chunks, prints the wall time of
# each CLI run and the service's step timestamps (ms after the begin was answered) for the last.
# Usage (after `npm run build`): bash bench/deploy-ota.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
D="$(mktemp -d)"
trap 'kill $(cat "$D/svc.pid" "$D/m.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$D"' EXIT
cd "$D"
P=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nmax_packet_size 65536\nuser %s\n' "$P" "$(whoami)" > m.conf
/usr/sbin/mosquitto -c m.conf >/dev/null 2>&1 & echo $! > m.pid
node "$ROOT/bin/edge-infer.js" deploy --gen-key k >/dev/null
mkdir models && cp -r "$ROOT/models/digits" models/
cat > c.json <<JSON
{"deviceId": "bench", "broker": {"url": "mqtt://127.0.0.1:$P"}, "modelsDir": "$D/models", "stateDir": "$D/state",
 "adaptive": {"enabled": false}, "log": {"format": "json"}, "deploy": {"trustedKeys": ["$D/k.pub"], "healthWindowS": 1}}
JSON
node "$ROOT/bin/edge-infer.js" run --config c.json > svc.log 2>&1 & echo $! > svc.pid
for _ in $(seq 100); do grep -q service.ready svc.log && break; sleep 0.2; done
for i in 1 2 3; do
  s=$(date +%s%N)
  node "$ROOT/bin/edge-infer.js" deploy "$ROOT/models/digits" --to bench --key k --broker "mqtt://127.0.0.1:$P" --chunk-kb 60 | grep -E '^bundle|committed|refused|rolled'
  echo "deploy $i: $(( ($(date +%s%N) - s) / 1000000 )) ms wall (CLI start to committed, health window 1 s included)"
done
grep '"deploy.step"' svc.log | tail -8 | node -e '
const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const t0 = Date.parse(rows.find((r) => r.step === "receiving").time);
for (const r of rows) if (Date.parse(r.time) >= t0) console.log(`${r.step.padEnd(10)} ${Date.parse(r.time) - t0} ms`);'
