# Shared shell helpers for the local platform scripts. Source it; do not run it.
# Conventions:
#   CACHE  - survives between runs on the same machine (built binaries by version, Go caches,
#            base image tarballs). Never holds running state.
#   STATE  - runtime state of the local platform (etcd data, containerd/docker roots, registry
#            storage, certificates, logs). `npm run platform:down` removes it.
set -euo pipefail
# Note: never `cmd | grep -q` here: with pipefail, grep exiting early makes cmd die of SIGPIPE
# and the pipeline report failure; use `grep ... >/dev/null`.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${STS_CANARY_CACHE:-/var/cache/sts-canary}"
STATE="${STS_CANARY_STATE:-$REPO_ROOT/.platform}"
BIN="$CACHE/bin"            # versioned tool binaries live in $CACHE/tools/<name>/<version>/, linked here
LOGS="$STATE/logs"
RUN="$STATE/run"            # pid files and sockets

export GOMODCACHE="${GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE:-$CACHE/go/build}"
export GOFLAGS="${GOFLAGS:--mod=mod}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export PATH="$BIN:$PATH"

mkdir -p "$CACHE" "$BIN" "$STATE" "$LOGS" "$RUN"

_ts() { date -u +%H:%M:%S; }
log()  { printf '[%s] %s\n' "$(_ts)" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(_ts)" "$*" >&2; exit 1; }

# step "title" cmd args... : runs a long command with its output in a log file and a heartbeat
# every 15 s so the user sees progress; prints the elapsed time; on failure shows the log tail.
step() {
  local title="$1"; shift
  local logfile="$LOGS/$(echo "$title" | tr -c 'a-zA-Z0-9\n' '-' | tr -s '-' | cut -c1-60).log"
  local start=$SECONDS
  log "$title ..."
  ( "$@" ) >"$logfile" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( (SECONDS - start) % 15 == 0 )); then
      log "  ... $title: $((SECONDS - start))s ($(tail -n 1 "$logfile" 2>/dev/null | cut -c1-100))"
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$logfile" >&2
    die "$title failed after $((SECONDS - start))s (full log: $logfile)"
  fi
  log "$title done in $((SECONDS - start))s"
}

# wait_until <timeout-seconds> <description> cmd args... : bounded poll, 1 s interval.
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "timed out after ${timeout}s waiting for $what"
    sleep 1
  done
}

# pid_alive <name> : true if the process recorded in $RUN/<name>.pid is running.
pid_alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# start_daemon <name> cmd args... : idempotent background start with log and pid file.
start_daemon() {
  local name="$1"; shift
  if pid_alive "$name"; then log "$name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  log "starting $name (log: $LOGS/$name.log)"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

# stop_daemon <name> : TERM, wait up to 20 s, then KILL.
stop_daemon() {
  local name="$1"
  pid_alive "$name" || { rm -f "$RUN/$name.pid"; return 0; }
  local pid; pid=$(cat "$RUN/$name.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$RUN/$name.pid"
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  (( ${#missing[@]} == 0 )) && return 0
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}
