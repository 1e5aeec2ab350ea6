#!/usr/bin/env bash
# nginx base image built from Debian packages, without Docker Hub.
#
#   platform/base-image.sh up       build (or import from cache) and tag the base image; needs docker.sh up
#   platform/base-image.sh verify   FROM base + COPY index.html/version.html, run on 127.0.0.1:18080, curl it
#   platform/base-image.sh status   print the image tags that exist
#   platform/base-image.sh name     print the versioned image name (sts-canary/nginx-base:<version>)
#   platform/base-image.sh down     remove the tags from the local daemon (the $CACHE tarball stays)
#
# How: debootstrap --variant=minbase bookworm (same mirror as /etc/apt), apt-get install nginx
# (pinned to the version apt on the host sees as candidate), foreground config, docs/apt lists
# stripped, tarred to $CACHE/images/nginx-base/<nginx version>-r<recipe>/rootfs.tar, then
# `docker import` with CMD/EXPOSE (+ STOPSIGNAL via a metadata-only build); the result is `docker save`d
# to $CACHE/images/nginx-base/<tag>-r<recipe>/image.tar. A warm run only `docker load`s it (~2-3 s)
# and yields the same image ID every time.
#
# Image tags (same image ID):
#   sts-canary/nginx-base:<nginx version, '+' and '~' -> '_'>-r<recipe>   e.g. sts-canary/nginx-base:1.22.1-9_deb12u11-r2
#   sts-canary/nginx-base:latest
#   local/nginx:bookworm
# Contents: nginx (+ its Lua module: per-request metrics on :9113/metrics) serves /usr/share/nginx/html (index.html at /) on port 80, access log to stdout,
# error log to stderr, runs in the foreground (CMD nginx -g 'daemon off;', like the official image,
# so a Dockerfile that repeats that CMD also works).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/platform/rootfs.sh"   # SUITE=bookworm, debootstrap_rootfs, IN_ROOTFS, strip_rootfs

RECIPE=2                       # bump when the rootfs recipe below changes (2: per-request metrics)
NGINX_PKG=nginx                # in bookworm nginx-light is only nginx + the echo module
LUA_PKG=libnginx-mod-http-lua  # per-request metrics (status codes, latency histogram) on :9113/metrics
METRICS_DIR="$REPO_ROOT/platform/base-image"
BASE_REPO="sts-canary/nginx-base"
ALIASES=("sts-canary/nginx-base:latest" "local/nginx:bookworm")
VERIFY_PORT="${STS_CANARY_BASE_VERIFY_PORT:-18080}"
IMG_CACHE="$CACHE/images/nginx-base"
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"

nginx_version() { candidate_version "$NGINX_PKG"; }

build_rootfs() {   # build_rootfs <nginx-version> <out.tar>
  local ver="$1" out="$2"
  local work="$IMG_CACHE/build.$$" rootfs
  rootfs="$work/rootfs"
  rm -rf "$work"
  debootstrap_rootfs "$rootfs"

  step "apt-get install $NGINX_PKG=$ver in rootfs" timeout 900 "${IN_ROOTFS[@]}" "$rootfs" sh -euc '
      apt-get -q update
      apt-get -q install -y --no-install-recommends "$1=$2" "$3"
      nginx -v
    ' _ "$NGINX_PKG" "$ver" "$LUA_PKG"

  # nginx configuration: foreground-friendly, logs to stdout/stderr, static files from /usr/share/nginx/html
  rm -f "$rootfs/etc/nginx/sites-enabled/"* "$rootfs/etc/nginx/sites-available/default"
  cat > "$rootfs/etc/nginx/nginx.conf" <<'EOF'
# sts-canary nginx base image. The container runs `nginx -g 'daemon off;'` (CMD), so this file must
# not contain a `daemon` directive. Logs go to stdout/stderr.
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /dev/stderr notice;
include /etc/nginx/modules-enabled/*.conf;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    server_tokens off;
    include /etc/nginx/conf.d/*.conf;
}
EOF
  cat > "$rootfs/etc/nginx/conf.d/default.conf" <<'EOF'
server {
    listen 80 default_server;
    server_name _;
    root /usr/share/nginx/html;
    index index.html;
    location / {
        try_files $uri $uri/ =404;
    }
}
EOF
  # Per-request metrics: counted inside nginx by the Lua module (log phase), exposed in Prometheus'
  # text format on :9113/metrics; see platform/base-image/README.md for why this and not an exporter.
  mkdir -p "$rootfs/etc/nginx/metrics"
  cp "$METRICS_DIR/metrics.conf" "$rootfs/etc/nginx/conf.d/00-metrics.conf"
  cp "$METRICS_DIR/log.lua" "$METRICS_DIR/expose.lua" "$rootfs/etc/nginx/metrics/"
  mkdir -p "$rootfs/usr/share/nginx/html" "$rootfs/var/log/nginx"
  ln -sf /dev/stdout "$rootfs/var/log/nginx/access.log"
  ln -sf /dev/stderr "$rootfs/var/log/nginx/error.log"
  "${IN_ROOTFS[@]}" "$rootfs" /usr/sbin/nginx -t -q -g "daemon off;" || die "nginx -t failed in the rootfs"

  strip_rootfs "$rootfs"

  step "tar rootfs" tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
  echo "$ver" > "$work/nginx-version"
  mkdir -p "$(dirname "$out")"
  mv "$work/rootfs.tar" "$out"
  echo "$ver" > "$(dirname "$out")/nginx-version"
  rm -rf "$work"
  log "rootfs cached: $out ($(du -h "$out" | cut -f1))"
}

image_name() { echo "$BASE_REPO:$(tag_of "$(nginx_version)")-r$RECIPE"; }

cmd_up() {
  local start=$SECONDS
  timeout 10 docker version >/dev/null 2>&1 || die "docker daemon not answering; run platform/docker.sh up first"
  local ver tag img dir
  ver=$(nginx_version); tag=$(tag_of "$ver"); img=$(image_name)
  dir="$IMG_CACHE/$tag-r$RECIPE"
  if docker image inspect "$img" >/dev/null 2>&1; then
    log "$img already present"
  elif [[ -s "$dir/image.tar" ]]; then
    # warm path: `docker load` keeps the image config byte-for-byte, so the image ID (and the
    # digests of images built FROM it) are the same on every run, unlike a fresh `docker import`.
    step "docker load $img (cached)" timeout 300 docker load -i "$dir/image.tar"
  else
    if [[ ! -s "$dir/rootfs.tar" ]]; then
      build_rootfs "$ver" "$dir/rootfs.tar"
    else
      log "using cached rootfs $dir/rootfs.tar"
    fi
    step "docker import $img" timeout 300 docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'WORKDIR /' \
      --change 'EXPOSE 80' \
      --change 'ENTRYPOINT []' \
      --change 'CMD ["nginx", "-g", "daemon off;"]' \
      --change "LABEL org.opencontainers.image.title=sts-canary-nginx-base org.opencontainers.image.version=$ver org.opencontainers.image.base.name=debian:$SUITE" \
      --message "debootstrap $SUITE minbase + $NGINX_PKG $ver (recipe $RECIPE)" \
      "$dir/rootfs.tar" "$img-import"
    # `docker import --change` does not accept STOPSIGNAL: add it with a metadata-only build
    # (no RUN, no network, no new layer). SIGQUIT = graceful nginx shutdown, as in the official image.
    local ctx; ctx=$(mktemp -d)
    printf 'FROM %s\nSTOPSIGNAL SIGQUIT\n' "$img-import" > "$ctx/Dockerfile"
    step "docker build $img (STOPSIGNAL)" timeout 120 docker build --network none -t "$img" "$ctx"
    rm -rf "$ctx"
    docker image rm "$img-import" >/dev/null
    step "docker save $img to cache" timeout 300 docker save -o "$dir/image.tar.tmp" "$img"
    mv "$dir/image.tar.tmp" "$dir/image.tar"
  fi
  local a; for a in "${ALIASES[@]}"; do docker tag "$img" "$a"; done
  log "base image ready in $((SECONDS - start))s: $img (+ ${ALIASES[*]}), id $(docker image inspect -f '{{.Id}}' "$img" | cut -c8-19), size $(docker image inspect -f '{{.Size}}' "$img" | awk '{printf "%.1f MB", $1/1e6}')"
  echo "$img"
}

cmd_verify() {
  local img; img=$(image_name)
  docker image inspect "$img" >/dev/null 2>&1 || die "$img missing; run $0 up"
  local ctx; ctx=$(mktemp -d)
  local name="sts-canary-base-verify-$$" test_img="sts-canary/base-verify:$$"
  trap 'docker rm -f "'"$name"'" >/dev/null 2>&1 || true; docker image rm -f "'"$test_img"'" >/dev/null 2>&1 || true; rm -rf "'"$ctx"'"' EXIT
  echo '<h1>This is V1</h1>' > "$ctx/index.html"
  echo '<h1>This is V1</h1>' > "$ctx/version.html"
  printf 'FROM %s\nCOPY index.html version.html /usr/share/nginx/html/\n' "$img" > "$ctx/Dockerfile"
  local t=$SECONDS
  timeout 120 docker build -q -t "$test_img" "$ctx" >/dev/null
  log "app build (FROM base + COPY) took $((SECONDS - t))s"
  docker run -d --name "$name" -p "127.0.0.1:$VERIFY_PORT:80" "$test_img" >/dev/null
  wait_until 30 "nginx on 127.0.0.1:$VERIFY_PORT" curl -fsS -m 2 "http://127.0.0.1:$VERIFY_PORT/version.html"
  local v r
  v=$(curl -fsS -m 5 "http://127.0.0.1:$VERIFY_PORT/version.html")
  r=$(curl -fsS -m 5 "http://127.0.0.1:$VERIFY_PORT/")
  [[ "$v" == '<h1>This is V1</h1>' && "$r" == '<h1>This is V1</h1>' ]] || die "unexpected answers: /version.html='$v' /='$r'"
  docker logs "$name" 2>&1 | grep 'GET /version.html' >/dev/null || die "access log not on container stdout"
  log "verify ok: / and /version.html serve '<h1>This is V1</h1>'; access log on stdout"
}

cmd_status() {
  local img; img=$(image_name)
  if docker image inspect "$img" >/dev/null 2>&1; then
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' | grep -E "^($BASE_REPO|local/nginx):" || true
  else
    echo "$img not present"; return 1
  fi
}

cmd_down() {
  local img; img=$(image_name)
  if timeout 10 docker version >/dev/null 2>&1; then
    docker image rm "$img" "${ALIASES[@]}" >/dev/null 2>&1 || true
  fi
  log "base image tags removed (cache kept in $IMG_CACHE)"
}

case "${1:-up}" in
  up) mkdir -p "$IMG_CACHE"
      exec 9>"$IMG_CACHE/.lock"
      flock -w 1200 9 || die "another base-image.sh holds $IMG_CACHE/.lock"
      cmd_up ;;
  verify) cmd_verify ;;
  status) cmd_status ;;
  name) image_name ;;
  down) cmd_down ;;
  *) echo "usage: $0 up|verify|status|name|down" >&2; exit 2 ;;
esac
