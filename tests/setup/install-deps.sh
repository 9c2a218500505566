#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine with Node 20: the real servers and
# clients the tests talk to (InfluxDB, PostgreSQL, snmpd, Redis, Mosquitto clients), and the npm
# packages. Idempotent: skips what is already there. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v influxd >/dev/null || need+=(influxdb)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/sbin/snmpd ] || need+=(snmpd)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v runuser >/dev/null || need+=(util-linux)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)   # browser tests drive Debian's Chromium (never a downloaded one)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)   # CJK glyphs in the console's screenshots
/usr/bin/python3 -c 'import pymodbus' 2>/dev/null || need+=(python3-pymodbus)
/usr/bin/python3 -c 'import serial' 2>/dev/null || need+=(python3-serial)
/usr/bin/python3 -c 'import serial_asyncio' 2>/dev/null || need+=(python3-serial-asyncio)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian packages start system services on install; the tests never use them (they start
# private instances on free ports), so nothing here depends on those.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
