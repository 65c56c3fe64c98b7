#!/usr/bin/env bash
# Maintainer scripts under a real systemd (issue 14). Boots a Debian bookworm container
# (systemd-nspawn, systemd 252 as PID 1) and inside it installs the armhf .deb: it holds no native code
# (JS + WASM), so its service really runs on this x86 host (dpkg --force-architecture; --force-depends
# because bookworm's nodejs is 18: the host's Node 20 is bind-mounted as /usr/local/bin/node). Checks:
#   install: unit enabled and active (Type=notify: READY came), the package's WASM drop-in in the
#   service's environment (MALLOC_TRIM_THRESHOLD_), `edge-infer doctor` inside passes (its
#   broker check warns: the service's embedded MQTT 3.1.1 broker answers on localhost:1883)
#   edit the conffile, remove: unit stopped, config (with the edit) and state kept
#   reinstall: the edited config survives; purge: config and state gone
# Exit 0 when all hold. Needs root and debootstrap (first run: ~1.5 min and ~240 MB from Debian's
# mirror into ${PKG_SYSTEMD_BASE:-/var/cache/edge-infer-ci/bookworm-i14}; later runs copy it).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(node -p 'require("./package.json").version')
deb=$PWD/dist/pkg/edge-infer_${version}_armhf.deb
[ -f "$deb" ] || { echo "systemd-check: $deb missing (npm run package)" >&2; exit 70; }
base=${PKG_SYSTEMD_BASE:-/var/cache/edge-infer-ci/bookworm-i14}
if [ ! -x "$base/lib/systemd/systemd" ]; then
  echo "systemd-check: debootstrap bookworm into $base (one-time)" >&2
  mkdir -p "$(dirname "$base")"; rm -rf "$base.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libnss-systemd bookworm "$base.tmp" http://deb.debian.org/debian > "$base.log" 2>&1 \
    || { tail -20 "$base.log" >&2; exit 69; }
  mv "$base.tmp" "$base"
fi
work=$(mktemp -d /tmp/systemd-check.XXXXXX); trap 'rm -rf "$work"' EXIT
cp -a "$base" "$work/root"
cp "$deb" "$work/root/var/tmp/edge-infer.deb"
# debootstrap's minbase has no /etc/hosts; a Pi OS image has this one.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$work/root/etc/hosts"
mkdir -p "$work/out"
cat > "$work/root/usr/local/sbin/pkg-check-inside" <<'EOS'
#!/bin/sh
# Runs at boot inside the container; results as key=value lines in /out/result.
exec 2>/out/trace
set -x
r() { echo "$1=$2" >> /out/result; }
wait_active() { i=0; while [ $i -lt 90 ]; do s=$(systemctl is-active edge-infer); [ "$s" = active ] && break; [ "$s" = failed ] && break; i=$((i+1)); sleep 1; done; echo "$s"; }
dpkg --force-architecture --force-depends -i /var/tmp/edge-infer.deb > /out/dpkg-install.log 2>&1; r install_rc $?
r enabled "$(systemctl is-enabled edge-infer)"
r active_after_install "$(wait_active)"
pid=$(systemctl show -p MainPID --value edge-infer)
r malloc_trim "$(tr '\0' '\n' < /proc/$pid/environ | grep -qx MALLOC_TRIM_THRESHOLD_=131072 && echo set || echo unset)"
edge-infer doctor --json > /out/doctor.json 2>/out/doctor.err; r doctor_rc $?
journalctl -u edge-infer --no-pager -n 40 > /out/journal-install.log
sed -i 's/"level": "info"/"level": "debug"/' /etc/edge-infer/config.json
dpkg -r edge-infer > /out/dpkg-remove.log 2>&1; r remove_rc $?
r active_after_remove "$(systemctl is-active edge-infer)"
r config_after_remove "$(grep -q debug /etc/edge-infer/config.json && echo kept-edited || echo gone)"
r state_after_remove "$( [ -d /var/lib/private/edge-infer ] && echo kept || echo gone)"
r command_after_remove "$( [ -e /usr/bin/edge-infer ] && echo present || echo gone)"
dpkg --force-architecture --force-depends -i /var/tmp/edge-infer.deb > /out/dpkg-reinstall.log 2>&1; r reinstall_rc $?
r config_after_reinstall "$(grep -q debug /etc/edge-infer/config.json && echo kept-edited || echo replaced)"
r active_after_reinstall "$(wait_active)"
dpkg -P edge-infer > /out/dpkg-purge.log 2>&1; r purge_rc $?
r config_after_purge "$( [ -e /etc/edge-infer/config.json ] && echo kept || echo gone)"
r state_after_purge "$( [ -e /var/lib/private/edge-infer ] || [ -e /var/lib/edge-infer ] && echo kept || echo gone)"
r done yes
systemctl poweroff
EOS
chmod 755 "$work/root/usr/local/sbin/pkg-check-inside"
cat > "$work/root/etc/systemd/system/pkg-check.service" <<'EOS'
[Unit]
Description=edge-infer package check
After=multi-user.target dbus.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pkg-check-inside
EOS
mkdir -p "$work/root/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/pkg-check.service "$work/root/etc/systemd/system/multi-user.target.wants/pkg-check.service"
t0=$SECONDS
# --private-network: the container's own loopback, where nothing listens on 1883, so the packaged
# config's embeddedBroker "auto" starts the embedded broker (whatever the host runs on 1883).
timeout 400 systemd-nspawn -q -D "$work/root" --boot --console=pipe --register=no --keep-unit --private-network \
  --bind-ro="$(readlink -f "$(command -v node)")":/usr/local/bin/node --bind="$work/out":/out > "$work/boot.log" 2>&1 || true
echo "systemd-check: container ran $((SECONDS - t0)) s"
touch "$work/out/result"
sed 's/^/systemd-check: /' "$work/out/result"
want="install_rc=0 enabled=enabled active_after_install=active malloc_trim=set doctor_rc=0 remove_rc=0 active_after_remove=inactive
config_after_remove=kept-edited state_after_remove=kept command_after_remove=gone reinstall_rc=0 config_after_reinstall=kept-edited
active_after_reinstall=active purge_rc=0 config_after_purge=gone state_after_purge=gone done=yes"
rc=0
for kv in $want; do grep -qx "$kv" "$work/out/result" || { echo "systemd-check: FAIL expected $kv" >&2; rc=1; }; done
if [ $rc != 0 ]; then
  for f in dpkg-install.log journal-install.log doctor.err trace; do [ -s "$work/out/$f" ] && { echo "--- $f" >&2; tail -30 "$work/out/$f" >&2; }; done
  tail -20 "$work/boot.log" >&2
fi
[ -s "$work/out/doctor.json" ] && node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); for (const c of r.checks) console.log(`systemd-check: doctor ${c.status} ${c.id}: ${c.detail}`)' "$work/out/doctor.json"
exit $rc
