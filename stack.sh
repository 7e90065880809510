#!/usr/bin/env bash
# `make stack`: start the Procfile's processes under honcho, in the foreground.
# Prometheus runs if its binary is installed; this script offers to install it, and never
# does so silently. MONITOR=1 adds cpu-monitor. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")"

processes=(service locust-master locust-worker-1 locust-worker-2)
if command -v prometheus >/dev/null 2>&1; then
  processes+=(prometheus)
elif [ -t 0 ] && [ "${CI:-}" != "true" ]; then
  read -r -p "Prometheus is not installed. Install Debian's prometheus package now? [y/N] " answer
  if [[ "$answer" =~ ^[Yy] ]]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends prometheus
    processes+=(prometheus)
  fi
fi
[ "${MONITOR:-0}" = 1 ] && processes+=(cpu-monitor)
mkdir -p "${LOADWATCH_RESULTS:-results}"

cat <<URLS
loadwatch stack (Ctrl-C stops every process):
  service     http://127.0.0.1:8000  (docs at /docs, admin ${ADMIN_USERNAME:-admin})
  Locust UI   http://127.0.0.1:8089  (pacing: GET/POST /pacing)
  exporter    http://127.0.0.1:9646/metrics
URLS
if [[ " ${processes[*]} " == *" prometheus "* ]]; then
  echo "  Prometheus  http://127.0.0.1:9090  (targets: /targets)"
else
  echo "  Prometheus  not started: its binary is not installed"
fi
[ "${MONITOR:-0}" = 1 ] && echo "  cpu-monitor recording this machine's CPU into the service"
echo
exec .venv/bin/honcho -f Procfile start "${processes[@]}"
