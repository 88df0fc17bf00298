#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when missing: Mosquitto (a real broker
# beside the embedded one), PostgreSQL 15 (the oldest supported server, beside the embedded 18), Chromium for
# the browser tests (Playwright drives it; its own browser download cannot work offline), CJK fonts so the
# Chinese pages render in screenshots, and espeak-ng for the simulated home unit's voice.
set -euo pipefail
needed=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || needed+=(mosquitto)
[ -x /usr/lib/postgresql/15/bin/postgres ] || needed+=(postgresql-15)
[ -x /usr/bin/chromium ] || needed+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || needed+=(fonts-noto-cjk)
command -v espeak-ng >/dev/null 2>&1 || needed+=(espeak-ng)
if [ ${#needed[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${needed[*]} — run: sudo apt-get install -y ${needed[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
# The tests start their own brokers on free ports; the packaged service is not needed.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
