#!/usr/bin/env bash
# `make run-mongo`: the service on a real wire-protocol server, in the foreground.
# With MONGODB_URL set, that server (for example `docker run -p 27017:27017 mongo:7`).
# Otherwise FerretDB (built by `make mongo-server` into .tools/) on 127.0.0.1:$MONGO_PORT
# (default 27017), its data in .data/ferretdb so that runs survive a restart
# (`make clean-data` removes them). Ctrl-C stops the service and FerretDB, leaving no
# process and no port behind.
set -euo pipefail
cd "$(dirname "$0")"
# A real database gets no default admin password: the service refuses one under 8 characters.
if [ -z "${ADMIN_PASSWORD:-}" ]; then
  echo "error: set ADMIN_PASSWORD (8 characters or more) for the admin of the real database," \
    "e.g. ADMIN_PASSWORD='…' make run-mongo" >&2
  exit 2
fi
export ADMIN_USERNAME="${ADMIN_USERNAME:-admin}" ADMIN_PASSWORD

if [ -n "${MONGODB_URL:-}" ]; then
  echo "loadwatch service on MONGODB_URL, at http://127.0.0.1:${PORT:-8000} (Ctrl-C stops it)"
  exec .venv/bin/python -m rest_service serve
fi

port="${MONGO_PORT:-27017}"
data=".data/ferretdb"
pids=()
stop_all() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

.tools/mongo-server -listen-addr "127.0.0.1:$port" -data-dir "$data" &
pids+=($!)
for _ in $(seq 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "${pids[0]}" 2>/dev/null || { echo "error: FerretDB did not start on port $port" >&2; exit 1; }
  sleep 0.05
done

cat <<URLS
loadwatch on a real server (Ctrl-C stops both):
  service   http://127.0.0.1:${PORT:-8000}  (docs at /docs, admin $ADMIN_USERNAME)
  FerretDB  mongodb://127.0.0.1:$port/  (data in $data)
URLS
MONGODB_URL="mongodb://127.0.0.1:$port/" .venv/bin/python -m rest_service serve &
pids+=($!)
wait "${pids[1]}"
