#!/usr/bin/env bash
# A real Gitea forge for the end-to-end tests of PR comments and promotion pull requests (GitHub is
# the primary target; Gitea/Forgejo speak a close dialect of its REST API, see platform/gitea/README.md).
#
#   platform/gitea.sh up       build Gitea if not cached, write app.ini, start it on
#                              http://127.0.0.1:13000, create the admin sts-admin and its token
#   platform/gitea.sh start    same as up
#   platform/gitea.sh stop     stop it, keep its data
#   platform/gitea.sh down     stop and remove $STATE/gitea
#   platform/gitea.sh status   exit 0 if /api/v1/version answers
#   platform/gitea.sh env      print STS_CANARY_GITEA_URL, _TOKEN_FILE, _USER
#
# Build: Gitea v1.27.3 from the Go module proxy. Its go.mod declares `module gitea.dev` (not the
# path it is published under, code.gitea.io/gitea) and has replace directives, so `go install
# code.gitea.io/gitea@v1.27.3` is refused; `go mod download` fetches the source (checked against
# the checksum database) and we build it as the main module from a writable copy. CGO_ENABLED=0
# and no build tags: since 1.27 the pure-Go modernc SQLite driver is the default (`!sqlite_mattn`;
# the old `sqlite sqlite_unlock_notify` tags belong to the cgo driver). No `bindata` tag, so no
# `go generate`/frontend build: Gitea reads templates/ and options/ from STATIC_ROOT_PATH, which
# we copy next to the binary. The web UI has no JS/CSS (public/assets is built by the frontend
# toolchain); the REST API and git over HTTP, which the tests use, need none of it.
# Cached in $CACHE/tools/gitea/<version>/ (binary `gitea`, templates/, options/, public/).
#
# Runtime: SQLite database, repositories, secrets and app.ini in $STATE/gitea; HTTP on
# 127.0.0.1:13000 only; no SSH, no registration, no mailer, offline mode, update checker off,
# webhooks only to loopback; log $LOGS/gitea.log. The admin password ($STATE/gitea/admin-password)
# and the access token with all scopes ($STATE/gitea/admin-token) are mode 600.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GITEA_VERSION=1.27.3
GITEA_MODULE=code.gitea.io/gitea
GITEA_PORT="${STS_CANARY_GITEA_PORT:-13000}"
GITEA_URL="http://127.0.0.1:$GITEA_PORT"
GITEA_TOOL="$CACHE/tools/gitea/$GITEA_VERSION"
GITEA_BIN="$GITEA_TOOL/gitea"
GITEA_STATE="$STATE/gitea"
APP_INI="$GITEA_STATE/app.ini"
SECRETS="$GITEA_STATE/secrets"
ADMIN_USER=sts-admin
ADMIN_EMAIL=sts-admin@example.invalid
PWFILE="$GITEA_STATE/admin-password"
TOKEN_FILE="$GITEA_STATE/admin-token"

# Gitea refuses to start as root (log.Fatal in modules/setting/setting.go) unless this variable
# (or I_AM_BEING_UNSAFE_RUNNING_AS_ROOT in app.ini) is true; CI runs everything as root and this
# forge is a throw-away on loopback. Its CLI (admin user create, git hooks) checks it too.
[[ "$(id -u)" == 0 ]] && export GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true

# Only the module proxy; never fall back to direct VCS access (same as build-engine.sh).
export GOPROXY="${STS_CANARY_GOPROXY:-https://proxy.golang.org}"

ready() { curl -fsS -m 2 "$GITEA_URL/api/v1/version" >/dev/null 2>&1; }
gitea_cli() { "$GITEA_BIN" --config "$APP_INI" --work-path "$GITEA_STATE" "$@"; }

build_gitea() {
  local out="$1" dir
  cd "$out" || return 1   # outside any module: the download must not touch a go.mod/go.sum of ours
  dir=$(go mod download -json "$GITEA_MODULE@v$GITEA_VERSION" | jq -r '.Dir // empty')
  [[ -n "$dir" && -f "$dir/go.mod" ]] || { echo "go mod download $GITEA_MODULE@v$GITEA_VERSION gave no source"; return 1; }
  local src="$out/src"
  mkdir -p "$src"; cp -R "$dir/." "$src/"; chmod -R u+w "$src"; cd "$src" || return 1
  CGO_ENABLED=0 go build -v -mod=readonly -trimpath -buildvcs=false -o "$out/gitea" \
    -ldflags "-s -w -X main.Version=$GITEA_VERSION -X main.Tags=" .
  cp -R templates options public "$out/"
  cd "$out" && rm -rf "$src"
  "$out/gitea" --version
}

install() {
  if [[ ! -f "$GITEA_TOOL/.complete" ]]; then
    command -v go >/dev/null || die "go is not installed"
    local tmp="$GITEA_TOOL.tmp"
    rm -rf "$tmp"; mkdir -p "$tmp"
    step "build gitea $GITEA_VERSION" build_gitea "$tmp"
    touch "$tmp/.complete"
    rm -rf "$GITEA_TOOL"; mv "$tmp" "$GITEA_TOOL"
  fi
  [[ -x "$GITEA_BIN" ]] || die "gitea: $GITEA_BIN missing"
  ln -sfn "$GITEA_BIN" "$BIN/gitea"
  command -v git >/dev/null 2>&1 || apt_install git
}

# secret <name> <gitea generate secret NAME> : made once, mode 600, read by Gitea via *_URI=file:
secret() {
  local f="$SECRETS/$1"
  [[ -s "$f" ]] && return 0
  ( umask 077; "$GITEA_BIN" generate secret "$2" > "$f.tmp" ) && mv "$f.tmp" "$f"
}

# returns 0 when app.ini changed. Secrets come from files so Gitea never rewrites app.ini itself.
write_config() {
  mkdir -p "$GITEA_STATE/data" "$GITEA_STATE/repositories" "$SECRETS"
  chmod 700 "$GITEA_STATE" "$SECRETS"
  secret internal_token INTERNAL_TOKEN
  secret secret_key SECRET_KEY
  secret jwt_secret JWT_SECRET
  cat > "$APP_INI.tmp" <<INI
; written by platform/gitea.sh
APP_NAME = sts-canary test forge
RUN_MODE = prod
RUN_USER = $(id -un)
WORK_PATH = $GITEA_STATE

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = $GITEA_PORT
DOMAIN = 127.0.0.1
ROOT_URL = $GITEA_URL/
LOCAL_ROOT_URL = $GITEA_URL/
APP_DATA_PATH = $GITEA_STATE/data
STATIC_ROOT_PATH = $GITEA_TOOL
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = $GITEA_STATE/data/gitea.db
SQLITE_JOURNAL_MODE = WAL
SQLITE_TIMEOUT = 10000

[repository]
ROOT = $GITEA_STATE/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
INTERNAL_TOKEN_URI = file:$SECRETS/internal_token
SECRET_KEY_URI = file:$SECRETS/secret_key
ALLOWED_HOST_LIST = loopback

[oauth2]
JWT_SECRET_URI = file:$SECRETS/jwt_secret

[service]
DISABLE_REGISTRATION = true
ENABLE_NOTIFY_MAIL = false

[mailer]
ENABLED = false

[indexer]
ISSUE_INDEXER_TYPE = db

[actions]
ENABLED = false

[cron.update_checker]
ENABLED = false

[log]
MODE = console
LEVEL = Info
INI
  if cmp -s "$APP_INI.tmp" "$APP_INI"; then rm -f "$APP_INI.tmp"; return 1; fi
  mv "$APP_INI.tmp" "$APP_INI"; chmod 600 "$APP_INI"
  return 0
}

token_ok() {
  [[ -s "$TOKEN_FILE" ]] || return 1
  local login
  login=$(curl -fsS -m 5 -H "Authorization: token $(cat "$TOKEN_FILE")" "$GITEA_URL/api/v1/user" 2>/dev/null | jq -r '.login // empty') || return 1
  [[ "$login" == "$ADMIN_USER" ]]
}

# the admin user (Gitea's CLI, against the same SQLite database) and an all-scopes token; idempotent
ensure_admin() {
  token_ok && return 0
  if [[ ! -s "$PWFILE" ]]; then
    ( umask 077; openssl rand -hex 20 > "$PWFILE.tmp" ); mv "$PWFILE.tmp" "$PWFILE"
  fi
  chmod 600 "$PWFILE"
  local out
  out=$(gitea_cli admin user list --admin 2>>"$LOGS/gitea-cli.log") || die "gitea admin user list failed (log: $LOGS/gitea-cli.log)"
  if awk -v u="$ADMIN_USER" '$2 == u { found = 1 } END { exit !found }' <<<"$out"; then
    # the user exists but we lost its token: make the password match ours again
    gitea_cli admin user change-password --username "$ADMIN_USER" --password "$(cat "$PWFILE")" \
      --must-change-password=false >>"$LOGS/gitea-cli.log" 2>&1 || die "gitea admin user change-password failed (log: $LOGS/gitea-cli.log)"
  else
    gitea_cli admin user create --admin --username "$ADMIN_USER" --email "$ADMIN_EMAIL" \
      --password "$(cat "$PWFILE")" --must-change-password=false >>"$LOGS/gitea-cli.log" 2>&1 \
      || die "gitea admin user create failed (log: $LOGS/gitea-cli.log)"
    log "created the gitea admin $ADMIN_USER (password in $PWFILE)"
  fi
  # token names are unique per user and a token cannot be read back: a new name each time
  local name token
  name="sts-canary-$(date -u +%Y%m%dT%H%M%S)"
  token=$(gitea_cli admin user generate-access-token --username "$ADMIN_USER" --token-name "$name" \
    --scopes all --raw 2>>"$LOGS/gitea-cli.log" | grep -E '^[0-9a-f]{40}$' | tail -n 1) || true
  [[ -n "$token" ]] || die "gitea admin user generate-access-token gave no token (log: $LOGS/gitea-cli.log)"
  ( umask 077; printf '%s\n' "$token" > "$TOKEN_FILE.tmp" ); mv "$TOKEN_FILE.tmp" "$TOKEN_FILE"
  chmod 600 "$TOKEN_FILE"
  token_ok || die "the new token of $ADMIN_USER is refused by $GITEA_URL/api/v1/user"
  log "gitea access token $name (all scopes) in $TOKEN_FILE"
}

listener_pids() { ss -Hltnp "sport = :$GITEA_PORT" 2>/dev/null | grep -oE 'pid=[0-9]+' | cut -d= -f2 | sort -u; }

# A gitea of ours whose $STATE was deleted under it (rm -rf .platform without `down`) still holds
# the port: its working directory is the (deleted) $GITEA_STATE. Stop it.
reap_orphan() {
  local pid cwd
  for pid in $(listener_pids); do
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
    if [[ "$cwd" == "$GITEA_STATE (deleted)" ]]; then
      log "stopping an orphaned gitea (pid $pid) whose state directory was deleted"
      kill "$pid" 2>/dev/null || true
      local _; for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

cmd_up() {
  local t0=$SECONDS
  install
  local changed=0
  write_config && changed=1
  if pid_alive gitea && (( changed == 0 )) && ready; then
    ensure_admin
    log "gitea already running (pid $(cat "$RUN/gitea.pid")) on $GITEA_URL"; return 0
  fi
  stop_daemon gitea
  reap_orphan
  if ss -Hltn "sport = :$GITEA_PORT" 2>/dev/null | grep . >/dev/null; then
    die "port $GITEA_PORT is already in use by another process: $(ss -Hltnp "sport = :$GITEA_PORT"); set STS_CANARY_GITEA_PORT"
  fi
  local start=$SECONDS
  # cwd = $GITEA_STATE: reap_orphan recognises an orphan by it
  (cd "$GITEA_STATE" && start_daemon gitea "$GITEA_BIN" web --config "$APP_INI" --work-path "$GITEA_STATE")
  local deadline=$((SECONDS + 60))
  until ready; do
    pid_alive gitea || { tail -n 20 "$LOGS/gitea.log" >&2; die "gitea exited (log: $LOGS/gitea.log)"; }
    (( SECONDS < deadline )) || { tail -n 20 "$LOGS/gitea.log" >&2; die "gitea not ready in 60s (log: $LOGS/gitea.log)"; }
    sleep 0.5
  done
  log "gitea $("$GITEA_BIN" --version | awk '{print $3}') answers after $((SECONDS - start))s on $GITEA_URL"
  ensure_admin
  log "gitea up in $((SECONDS - t0))s: $GITEA_URL, admin $ADMIN_USER, token $TOKEN_FILE"
}

cmd_stop() { stop_daemon gitea; log "gitea stopped (data kept in $GITEA_STATE)"; }

case "${1:-up}" in
  up|start) cmd_up ;;
  stop) cmd_stop ;;
  down) stop_daemon gitea; rm -rf "$GITEA_STATE"; log "gitea down (state removed)" ;;
  status) ready ;;
  env)
    cat <<EOF
export STS_CANARY_GITEA_URL=$GITEA_URL
export STS_CANARY_GITEA_TOKEN_FILE=$TOKEN_FILE
export STS_CANARY_GITEA_USER=$ADMIN_USER
EOF
    ;;
  *) echo "usage: $0 up|start|stop|down|status|env" >&2; exit 2 ;;
esac
