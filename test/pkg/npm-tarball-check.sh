#!/usr/bin/env bash
# npm tarball check (issue 14): `npm install -g --omit=dev --ignore-scripts dist/pkg/edge-infer-<v>.tgz` into a temp
# prefix (dependencies from the registry, as a user gets them), then checks that no TypeScript or
# test tooling came with it, that nothing was built at install, and that the installed command
# answers the digits sample. Prints the installed size. Exit 0 when all pass.
# --ignore-scripts: a global install has no project package.json, so "allowScripts" does not apply and
# npm 10/11 run onnxruntime-node's postinstall, which on x64 downloads CUDA libraries from outside
# (it failed here, offline from NuGet). Nothing in edge-infer's tree needs an install script.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(node -p 'require("./package.json").version')
tgz=$PWD/dist/pkg/edge-infer-$version.tgz
[ -f "$tgz" ] || { echo "npm-check: $tgz missing (npm run package)" >&2; exit 70; }
prefix=$(mktemp -d /tmp/npm-tarball-check.XXXXXX); trap 'rm -rf "$prefix"' EXIT
t0=$SECONDS
npm install -g --prefix "$prefix" --omit=dev --ignore-scripts --no-audit --no-fund --foreground-scripts "$tgz" > "$prefix/install.log" 2>&1 || { cat "$prefix/install.log" >&2; echo "npm-check: FAIL install" >&2; exit 1; }
pkgdir=$prefix/lib/node_modules/edge-infer
rc=0
if grep -q '> edge-infer@.* \(prepare\|install\|postinstall\)' "$prefix/install.log"; then echo "npm-check: FAIL a script of edge-infer ran at install" >&2; rc=1; fi
# (@types/node does come: mqtt's typings depend on it at runtime level, tiny)
for dev in typescript tap @tapjs/core; do
  if [ -e "$pkgdir/node_modules/$dev" ]; then echo "npm-check: FAIL $dev was installed" >&2; rc=1; fi
done
out=$(cd /tmp && "$prefix/bin/edge-infer" infer digits --input "$pkgdir/models/digits/eval/sample-3.json" --profile rpi4-2gb --json)
node -e 'const r = JSON.parse(process.argv[1]); if (r.top?.[0]?.label !== "3") { console.error(`npm-check: FAIL answer ${r.top?.[0]?.label}, expected 3`); process.exit(1); } console.log(`npm-check: installed command answered ${r.top[0].label} (variant ${r.variant}, backend ${r.backend})`)' "$out" || rc=1
echo "npm-check: npm $(npm --version), install took $((SECONDS - t0)) s; installed size:"
for d in "$pkgdir" "$pkgdir/node_modules/onnxruntime-node" "$pkgdir/node_modules/onnxruntime-web"; do du -sm "$d"; done | sed 's/^/npm-check:   /'
exit $rc
