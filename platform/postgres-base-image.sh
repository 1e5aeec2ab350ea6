#!/usr/bin/env bash
# PostgreSQL base image built from Debian packages, without Docker Hub.
#
#   platform/postgres-base-image.sh up      build (or load from cache) and tag the image; needs docker.sh up
#   platform/postgres-base-image.sh verify  run it on a root-owned 0777 directory (like a fresh PVC):
#                                           initdb, pg_isready, a table; then a derived image that sets
#                                           app.release on the same data: SHOW app.release, table kept
#   platform/postgres-base-image.sh status  print the image tags that exist
#   platform/postgres-base-image.sh name    print the versioned image name
#   platform/postgres-base-image.sh down    remove the tags from the local daemon (the $CACHE tarballs stay)
#
# How: debootstrap --variant=minbase bookworm from the host's apt mirror (platform/rootfs.sh),
# apt-get install postgresql-common (with create_main_cluster = false, so no cluster is baked in)
# and postgresql-15 pinned to the version apt on the host sees as candidate; docs, the LLVM JIT
# (~130 MB) and the ssl-cert snakeoil key stripped; tarred to
# $CACHE/images/postgres-base/<version>-r<recipe>/rootfs.tar; `docker import`, then a build that
# adds platform/postgres-base/{entrypoint.sh,postgresql-base.conf} and the image metadata; the
# result is `docker save`d to .../image-<hash of those files>.tar. A warm run only `docker load`s it
# (same image ID every time), or does nothing when the image is present.
#
# Image tags (same image ID):
#   sts-canary/postgres-base:<postgresql-15 version, '+~:' -> '_'>   e.g. sts-canary/postgres-base:15.20-0_deb12u1
#   sts-canary/postgres-base:15, sts-canary/postgres-base:latest
# Contents: USER postgres (numeric uid:gid from the package, for runAsNonRoot), PGDATA
# /var/lib/postgresql/data/pgdata (mount the volume at /var/lib/postgresql/data), PATH starts with
# /usr/lib/postgresql/15/bin (postgres, initdb, psql, pg_isready), PGUSER postgres (psql/pg_isready
# connect as postgres over the socket whatever uid runs them), LANG C.UTF-8, EXPOSE 5432,
# STOPSIGNAL SIGINT, ENTRYPOINT postgres-entrypoint, CMD postgres (see platform/postgres-base/entrypoint.sh).
# Settings of a derived image: COPY a file to /etc/postgresql-extra.d/<name>.conf, e.g.
#   FROM sts-canary/postgres-base:15.20-0_deb12u1
#   COPY release.conf /etc/postgresql-extra.d/release.conf     # app.release = 'v2'
# or `RUN echo "app.release = 'v2'" >> /etc/postgresql-extra.conf`, or CMD ["postgres", "-c", "app.release=v2"].
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/platform/rootfs.sh"

RECIPE=2                       # bump when the rootfs recipe below changes (2: the metrics exporter)
PG_MAJOR=15
PG_PKG="postgresql-$PG_MAJOR"
BASE_REPO="sts-canary/postgres-base"
ALIASES=("$BASE_REPO:$PG_MAJOR" "$BASE_REPO:latest")
FILES_DIR="$REPO_ROOT/platform/postgres-base"
IMG_CACHE="$CACHE/images/postgres-base"
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"

pg_version() { candidate_version "$PG_PKG"; }
image_name() { echo "$BASE_REPO:$(tag_of "$(pg_version)")"; }

build_rootfs() {   # build_rootfs <postgresql version> <out.tar>
  local ver="$1" out="$2"
  local work="$IMG_CACHE/build.$$" rootfs
  rootfs="$work/rootfs"
  rm -rf "$work"
  debootstrap_rootfs "$rootfs"
  # postgresql-common first: its createcluster.conf must say "no main cluster" before the server
  # package's postinst runs (the entrypoint runs initdb on the volume instead).
  step "apt-get install $PG_PKG=$ver in rootfs" timeout 900 "${IN_ROOTFS[@]}" "$rootfs" sh -euc '
      apt-get -q update
      apt-get -q install -y --no-install-recommends postgresql-common
      sed -ri "s/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/" /etc/postgresql-common/createcluster.conf
      grep -x "create_main_cluster = false" /etc/postgresql-common/createcluster.conf
      apt-get -q install -y --no-install-recommends "$1=$2"
      /usr/lib/postgresql/$3/bin/postgres --version
      # Debian'"'"'s prometheus-postgres-exporter: a sidecar from an image of this base serves the
      # server'"'"'s own metrics (pg_up, pg_stat_database_*) on a port named "metrics".
      apt-get -q install -y --no-install-recommends prometheus-postgres-exporter
      prometheus-postgres-exporter --version 2>&1 | head -n 1
    ' _ "$PG_PKG" "$ver" "$PG_MAJOR"
  [[ ! -e "$rootfs/var/lib/postgresql/$PG_MAJOR/main" ]] || die "a main cluster was created in the rootfs"
  rm -rf "$rootfs/etc/postgresql/$PG_MAJOR" "$rootfs/var/lib/postgresql/$PG_MAJOR"

  # The LLVM JIT provider pulls in libLLVM (~105 MB), its libz3 (~23 MB) and bitcode (~26 MB);
  # postgresql-base.conf sets jit = off. dpkg still lists the files; nothing else links them
  # (checked below with ldd).
  rm -rf "$rootfs/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit.so" "$rootfs/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit_types.bc" \
         "$rootfs/usr/lib/postgresql/$PG_MAJOR/lib/bitcode" "$rootfs"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* \
         "$rootfs"/usr/lib/x86_64-linux-gnu/libz3.so*
  local missing
  missing=$("${IN_ROOTFS[@]}" "$rootfs" sh -c 'for f in /usr/lib/postgresql/*/bin/* /usr/lib/postgresql/*/lib/*.so; do
      ldd "$f" 2>/dev/null | sed -n "s|^\(.*not found\)|$f: \1|p"; done')
  [[ -z "$missing" ]] || die "stripping broke PostgreSQL binaries: $missing"
  # no private key baked into the image (ssl-cert's postinst generates one; ssl is off)
  rm -f "$rootfs/etc/ssl/private/ssl-cert-snakeoil.key" "$rootfs/etc/ssl/certs/ssl-cert-snakeoil.pem"

  local ids; ids=$(awk -F: '$1 == "postgres" {print $3":"$4}' "$rootfs/etc/passwd")
  [[ "$ids" =~ ^[0-9]+:[0-9]+$ ]] || die "no postgres user in the rootfs"
  # Volume mount point (owned by postgres, so a plain `docker run` without a volume works too),
  # socket directory, and the directory derived images drop settings into.
  install -d -m 0700 -o "${ids%:*}" -g "${ids#*:}" "$rootfs/var/lib/postgresql/data"
  install -d -m 2775 -o "${ids%:*}" -g "${ids#*:}" "$rootfs/run/postgresql"
  install -d -m 0755 "$rootfs/etc/postgresql-extra.d"
  printf '%s\n' "# Settings of images derived from $BASE_REPO (see /etc/postgresql-base.conf)." \
    > "$rootfs/etc/postgresql-extra.conf"

  strip_rootfs "$rootfs"
  step "tar rootfs" tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
  mkdir -p "$(dirname "$out")"
  mv "$work/rootfs.tar" "$out"
  echo "$ver" > "$(dirname "$out")/postgresql-version"
  rm -rf "$work"
  log "rootfs cached: $out ($(du -h "$out" | cut -f1))"
}

# dockerfile <import image> <uid:gid> <version> <hash> : the metadata + files layer on the imported rootfs.
dockerfile() {
  cat <<EOF
FROM $1
COPY entrypoint.sh /usr/local/bin/postgres-entrypoint
COPY postgresql-base.conf /etc/postgresql-base.conf
ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PG_MAJOR=$PG_MAJOR \\
    PGDATA=/var/lib/postgresql/data/pgdata \\
    PGUSER=postgres \\
    LANG=C.UTF-8
LABEL org.opencontainers.image.title=sts-canary-postgres-base \\
      org.opencontainers.image.version=$3 \\
      org.opencontainers.image.base.name=debian:$SUITE \\
      sts-canary.recipe=$4
USER $2
WORKDIR /var/lib/postgresql
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["postgres-entrypoint"]
CMD ["postgres"]
EOF
}

# Hash of what decides the image besides the rootfs: the files, the Dockerfile template, the recipe.
image_hash() {
  { cat "$FILES_DIR/entrypoint.sh" "$FILES_DIR/postgresql-base.conf"; declare -f dockerfile; echo "$RECIPE"; } \
    | sha256sum | cut -c1-12
}

cmd_up() {
  local start=$SECONDS
  timeout 10 docker version >/dev/null 2>&1 || die "docker daemon not answering; run platform/docker.sh up first"
  local ver tag img dir hash
  ver=$(pg_version); tag=$(tag_of "$ver"); img="$BASE_REPO:$tag"
  dir="$IMG_CACHE/$tag-r$RECIPE"; hash=$(image_hash)
  if [[ "$(docker image inspect -f '{{index .Config.Labels "sts-canary.recipe"}}' "$img" 2>/dev/null)" == "$hash" ]]; then
    log "$img already present"
  elif [[ -s "$dir/image-$hash.tar" ]]; then
    # `docker load` keeps the image config byte-for-byte: same image ID on every run.
    step "docker load $img (cached)" timeout 300 docker load -i "$dir/image-$hash.tar"
  else
    if [[ ! -s "$dir/rootfs.tar" ]]; then
      build_rootfs "$ver" "$dir/rootfs.tar"
    else
      log "using cached rootfs $dir/rootfs.tar"
    fi
    local ids; ids=$(tar -xOf "$dir/rootfs.tar" ./etc/passwd | awk -F: '$1 == "postgres" {print $3":"$4}')
    [[ "$ids" =~ ^[0-9]+:[0-9]+$ ]] || die "no postgres user in $dir/rootfs.tar"
    step "docker import $img" timeout 300 docker import \
      --message "debootstrap $SUITE minbase + $PG_PKG $ver (recipe $RECIPE)" "$dir/rootfs.tar" "$img-import"
    local ctx; ctx=$(mktemp -d)
    cp "$FILES_DIR/entrypoint.sh" "$FILES_DIR/postgresql-base.conf" "$ctx/"
    chmod 0755 "$ctx/entrypoint.sh"; chmod 0644 "$ctx/postgresql-base.conf"
    dockerfile "$img-import" "$ids" "$ver" "$hash" > "$ctx/Dockerfile"
    step "docker build $img (entrypoint, config, metadata)" timeout 120 docker build --network none -t "$img" "$ctx"
    rm -rf "$ctx"
    docker image rm "$img-import" >/dev/null
    step "docker save $img to cache" timeout 300 docker save -o "$dir/image-$hash.tar.tmp" "$img"
    rm -f "$dir"/image-*.tar
    mv "$dir/image-$hash.tar.tmp" "$dir/image-$hash.tar"
  fi
  local a; for a in "${ALIASES[@]}"; do docker tag "$img" "$a"; done
  log "postgres base image ready in $((SECONDS - start))s: $img (+ ${ALIASES[*]}), id $(docker image inspect -f '{{.Id}}' "$img" | cut -c8-19), size $(docker image inspect -f '{{.Size}}' "$img" | awk '{printf "%.1f MB", $1/1e6}'), user $(docker image inspect -f '{{.Config.User}}' "$img")"
  echo "$img"
}

cmd_verify() {
  local img; img=$(image_name)
  docker image inspect "$img" >/dev/null 2>&1 || die "$img missing; run $0 up"
  local t0=$SECONDS ctx data name="sts-canary-pg-verify-$$" derived="sts-canary/postgres-verify:$$"
  ctx=$(mktemp -d); data=$(mktemp -d)
  trap 'docker rm -f "'"$name"'" >/dev/null 2>&1 || true; docker image rm -f "'"$derived"'" >/dev/null 2>&1 || true; rm -rf "'"$ctx"'" "'"$data"'"' EXIT
  chmod 0777 "$data"      # what local-path gives a PVC: root-owned, 0777, empty
  psql_() { docker exec "$name" psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
  run_db() { # image : start on $data, wait for pg_isready
    docker run -d --name "$name" --network none -v "$data:/var/lib/postgresql/data" "$1" >/dev/null
    wait_until 60 "pg_isready in $1" docker exec "$name" pg_isready -q
  }

  run_db "$img"
  log "verify: first start (initdb) ready after $((SECONDS - t0))s; $(docker exec "$name" pg_isready)"
  local who; who=$(docker exec "$name" id -un)
  [[ "$who" == postgres ]] || die "runs as '$who', not postgres"
  local mode; mode=$(stat -c '%u:%g %a' "$data/pgdata")
  [[ "$mode" == "$(docker image inspect -f '{{.Config.User}}' "$img") 700" ]] || die "unexpected owner/mode of PGDATA: $mode"
  psql_ -c "CREATE TABLE releases (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO releases (name) VALUES ('v1');"
  [[ "$(psql_ -c "SELECT name FROM releases")" == v1 ]] || die "table releases does not read back"
  [[ "$(psql_ -c "SHOW listen_addresses")" == '*' ]] || die "listen_addresses is not '*'"
  log "verify: user $who, PGDATA $(docker exec "$name" sh -c 'echo $PGDATA') (0700), listen_addresses '*', table releases created"
  local t=$SECONDS
  docker stop -t 30 "$name" >/dev/null
  docker logs "$name" 2>&1 | grep 'database system is shut down' >/dev/null || die "no clean shutdown in the log"
  log "verify: stopped cleanly (SIGINT) in $((SECONDS - t))s"
  docker rm "$name" >/dev/null

  # A derived image, as the example app builds it: one COPY, no RUN.
  echo "app.release = 'v2'" > "$ctx/release.conf"
  printf 'FROM %s\nCOPY release.conf /etc/postgresql-extra.d/release.conf\n' "$img" > "$ctx/Dockerfile"
  t=$SECONDS
  local out; out=$(timeout 120 docker build -q --network none -t "$derived" "$ctx" 2>&1) || { echo "$out" >&2; die "derived image build failed"; }
  log "verify: derived image (FROM base + COPY release.conf) built in $((SECONDS - t))s"
  run_db "$derived"
  local rel; rel=$(psql_ -c "SHOW app.release")
  [[ "$rel" == v2 ]] || die "SHOW app.release = '$rel', expected v2"
  [[ "$(psql_ -c "SELECT name FROM releases")" == v1 ]] || die "table releases lost across the restart"
  log "verify: derived image on the same data: SHOW app.release = $rel, table releases kept"
  log "verify ok in $((SECONDS - t0))s"
}

cmd_status() {
  local img; img=$(image_name)
  if docker image inspect "$img" >/dev/null 2>&1; then
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' | grep -E "^$BASE_REPO:" || true
  else
    echo "$img not present"; return 1
  fi
}

cmd_down() {
  local img; img=$(image_name)
  if timeout 10 docker version >/dev/null 2>&1; then
    docker image rm "$img" "${ALIASES[@]}" >/dev/null 2>&1 || true
  fi
  log "postgres base image tags removed (cache kept in $IMG_CACHE)"
}

case "${1:-up}" in
  up) mkdir -p "$IMG_CACHE"
      exec 9>"$IMG_CACHE/.lock"
      flock -w 1200 9 || die "another postgres-base-image.sh holds $IMG_CACHE/.lock"
      cmd_up ;;
  verify) cmd_verify ;;
  status) cmd_status ;;
  name) image_name ;;
  down) cmd_down ;;
  *) echo "usage: $0 up|verify|status|name|down" >&2; exit 2 ;;
esac
