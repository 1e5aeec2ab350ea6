#!/usr/bin/env bash
# Harbor-compatible private registry with permissions per account, like Harbor's robot accounts:
# Debian's docker-registry (CNCF distribution 2.8, the registry Harbor runs inside) serves the
# storage on a unix socket only root and nginx can reach; Debian's nginx in front of it terminates
# TLS on https://127.0.0.1:5443 (self-signed CA), authenticates with htpasswd (bcrypt) and allows
# writes (push, delete) only to the pushing account: the pull account `robot$library+puller`
# (Harbor's robot naming, `$` included) reads and is answered 403 on any write. This is the nginx
# front distribution documents (per-method rules added); see platform/registry/README.md.
# Images are addressed like Harbor: 127.0.0.1:5443/library/<name>:<tag>.
#
#   platform/registry.sh up        create CA/cert/htpasswd/config if missing, start, wait for /v2/
#   platform/registry.sh stop      take the registry down, keep data/certs (e2e: "registry is down")
#   platform/registry.sh start     bring it back (same as up)
#   platform/registry.sh down      stop and remove $STATE/registry and the docker certs.d entries
#   platform/registry.sh status    exit 0 if /v2/ answers over TLS
#   platform/registry.sh verify    docker login, push a test image, _catalog, 401 without auth,
#                                  the pull account pulls (docker, containerd) and its push is denied
#   platform/registry.sh login     `docker login` in the current docker config (~/.docker)
#   platform/registry.sh pushes [FROM_LINE]   count manifest PUTs (image pushes) in the access log
#   platform/registry.sh uploads [FROM_LINE]  count blob uploads (layers actually sent) in the access log
#   platform/registry.sh env       print shell exports (REGISTRY, user, password, CA paths)
#
# Env: STS_CANARY_REGISTRY_PASSWORD (default Harbor12345, Harbor's documented default),
#      STS_CANARY_REGISTRY_USER (default admin): the pushing account (image builds only).
#      The pull account's password is random, made once: $STATE/registry/auth/puller.password.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REG_HOST=127.0.0.1
REG_PORT="${STS_CANARY_REGISTRY_PORT:-5443}"   # another port only to try this script beside a running platform
REGISTRY="$REG_HOST:$REG_PORT"
REG_USER="${STS_CANARY_REGISTRY_USER:-admin}"
REG_PASSWORD="${STS_CANARY_REGISTRY_PASSWORD:-Harbor12345}"
REG_STATE="$STATE/registry"
CERTS="$REG_STATE/certs"
CA_CRT="$CERTS/ca.crt"
CA_KEY="$CERTS/ca.key"
SRV_CRT="$CERTS/server.crt"
SRV_KEY="$CERTS/server.key"
CA_BUNDLE="$CERTS/ca-bundle.crt"          # system roots + our CA, for SSL_CERT_FILE (Go, curl, openssl)
HTPASSWD="$REG_STATE/auth/htpasswd"
PULL_USER='robot$library+puller'           # Harbor robot account naming: robot$<project>+<name>
PULL_PASSWORD_FILE="$REG_STATE/auth/puller.password"
BACKEND_SOCK="$REG_STATE/socket/registry.sock"   # distribution listens here only (no TCP port)
NGINX_CONF="$REG_STATE/nginx.conf"
NGINX_TMP="$REG_STATE/nginx-tmp"
FRONT_LOG="$LOGS/registry-front.log"       # nginx error log
FRONT_ACCESS_LOG="$LOGS/registry-front-access.log"   # account, request and status of every request
CONFIG="$REG_STATE/config.yml"
DATA="$REG_STATE/data"
CONTAINERD_CERTS_D="$REG_STATE/containerd-certs.d"   # a containerd config_path (hosts.toml)
REG_LOG="$LOGS/registry.log"               # application log (stderr): startup, auth warnings, errors
ACCESS_LOG="$LOGS/registry-access.log"     # access log (stdout): one Combined Log Format line per request
DOCKER_CERTS_D=(/etc/docker/certs.d/127.0.0.1:$REG_PORT /etc/docker/certs.d/localhost:$REG_PORT)
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"

# /v2/ answers 401 (auth required) when the registry is up and TLS verifies against our CA
v2_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 3 --cacert "$CA_CRT" "https://$REGISTRY/v2/" 2>/dev/null) || true
  [[ "$code" == 401 || "$code" == 200 ]]
}

pull_password() {
  if [[ ! -s "$PULL_PASSWORD_FILE" ]]; then
    mkdir -p "$(dirname "$PULL_PASSWORD_FILE")"
    (umask 077; openssl rand -hex 20 > "$PULL_PASSWORD_FILE")
  fi
  cat "$PULL_PASSWORD_FILE"
}

make_certs() {
  mkdir -p "$CERTS"; chmod 700 "$CERTS"
  if [[ ! -s "$CA_CRT" || ! -s "$CA_KEY" ]]; then
    log "creating CA $CA_CRT"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout "$CA_KEY" -out "$CA_CRT" -subj "/O=sts-canary/CN=sts-canary local registry CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" 2>/dev/null
    rm -f "$SRV_CRT"
  fi
  if [[ ! -s "$SRV_CRT" || ! -s "$SRV_KEY" ]] || ! openssl verify -CAfile "$CA_CRT" "$SRV_CRT" >/dev/null 2>&1 \
     || ! openssl x509 -in "$SRV_CRT" -noout -checkend 86400 >/dev/null 2>&1; then
    log "creating server certificate (SAN IP:127.0.0.1, DNS:localhost)"
    local ext; ext=$(mktemp)
    cat > "$ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF
    openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$SRV_KEY" -out "$CERTS/server.csr" \
      -subj "/O=sts-canary/CN=127.0.0.1" 2>/dev/null
    openssl x509 -req -sha256 -days 825 -in "$CERTS/server.csr" -CA "$CA_CRT" -CAkey "$CA_KEY" \
      -CAcreateserial -out "$SRV_CRT" -extfile "$ext" 2>/dev/null
    rm -f "$ext" "$CERTS/server.csr"
  fi
  chmod 600 "$CA_KEY" "$SRV_KEY"; chmod 644 "$CA_CRT" "$SRV_CRT"
  cat /etc/ssl/certs/ca-certificates.crt "$CA_CRT" > "$CA_BUNDLE" 2>/dev/null || cp "$CA_CRT" "$CA_BUNDLE"

  # Docker: certs.d is read on every connection (no dockerd restart needed)
  local d; for d in "${DOCKER_CERTS_D[@]}"; do
    mkdir -p "$d"; cmp -s "$CA_CRT" "$d/ca.crt" || cp "$CA_CRT" "$d/ca.crt"
  done
  # containerd (CRI) registry host config, for a containerd whose
  # [plugins."io.containerd.grpc.v1.cri".registry] config_path points at $CONTAINERD_CERTS_D
  local h; for h in "127.0.0.1:$REG_PORT" "localhost:$REG_PORT"; do
    mkdir -p "$CONTAINERD_CERTS_D/$h"
    cp "$CA_CRT" "$CONTAINERD_CERTS_D/$h/ca.crt"
    cat > "$CONTAINERD_CERTS_D/$h/hosts.toml" <<EOF
server = "https://$h"

[host."https://$h"]
  capabilities = ["pull", "resolve", "push"]
  ca = "$CONTAINERD_CERTS_D/$h/ca.crt"
EOF
  done
}

# Both accounts in one htpasswd (bcrypt); nginx's workers (www-data) may read it, nobody else.
make_htpasswd() {
  mkdir -p "$(dirname "$HTPASSWD")"
  local pull; pull=$(pull_password)
  if [[ -s "$HTPASSWD" ]] && htpasswd -vb "$HTPASSWD" "$REG_USER" "$REG_PASSWORD" >/dev/null 2>&1 \
     && htpasswd -vb "$HTPASSWD" "$PULL_USER" "$pull" >/dev/null 2>&1; then
    return 1   # unchanged
  fi
  log "writing htpasswd for $REG_USER (push) and $PULL_USER (pull only), bcrypt"
  htpasswd -Bbc "$HTPASSWD" "$REG_USER" "$REG_PASSWORD" 2>/dev/null
  htpasswd -Bb "$HTPASSWD" "$PULL_USER" "$pull" 2>/dev/null
  chgrp www-data "$HTPASSWD"; chmod 640 "$HTPASSWD"
  return 0     # changed
}

# nginx front: TLS, basic auth for every request, writes only by the pushing account. The rule
# runs in nginx's rewrite phase (before auth_basic): a known read-only account gets 403 on a write
# (Harbor answers its robots the same); anyone else still has to authenticate (401).
write_nginx_conf() {
  mkdir -p "$NGINX_TMP"; chown www-data "$NGINX_TMP"
  cat > "$NGINX_CONF.tmp" <<EOF
# generated by platform/registry.sh
user www-data;
worker_processes 1;
daemon off;
pid $RUN/registry-front.nginx.pid;
error_log $FRONT_LOG warn;
events { worker_connections 256; }
http {
  # Who asked (the account, also for refused requests) and the answer; distribution's own access
  # log (one line per request it served) is what the image push counters read.
  log_format front '\$time_iso8601 \$remote_user "\$request" \$status';
  access_log $FRONT_ACCESS_LOG front;
  client_body_temp_path $NGINX_TMP/body;
  proxy_temp_path $NGINX_TMP/proxy;
  fastcgi_temp_path $NGINX_TMP/fastcgi;
  uwsgi_temp_path $NGINX_TMP/uwsgi;
  scgi_temp_path $NGINX_TMP/scgi;
  map \$remote_user \$account_role {
    "$REG_USER" push;
    "$PULL_USER" pull;
    default unknown;
  }
  map "\$account_role:\$request_method" \$write_denied {
    "~^pull:(GET|HEAD)\$" 0;
    "~^pull:" 1;
    default 0;
  }
  upstream distribution { server unix:$BACKEND_SOCK; }
  server {
    listen $REG_HOST:$REG_PORT ssl;
    server_name $REG_HOST localhost;
    ssl_certificate $SRV_CRT;
    ssl_certificate_key $SRV_KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 0;              # layers of any size
    chunked_transfer_encoding on;
    location /v2/ {
      if (\$write_denied) {
        add_header Docker-Distribution-Api-Version registry/2.0 always;
        return 403 '{"errors":[{"code":"DENIED","message":"this account may pull only"}]}';
      }
      auth_basic "sts-canary-registry";
      auth_basic_user_file $HTPASSWD;
      add_header Docker-Distribution-Api-Version registry/2.0 always;
      proxy_pass http://distribution;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 900;
    }
  }
}
EOF
  if cmp -s "$NGINX_CONF.tmp" "$NGINX_CONF"; then rm -f "$NGINX_CONF.tmp"; return 1; fi
  mv "$NGINX_CONF.tmp" "$NGINX_CONF"
  return 0
}

write_config() {
  mkdir -p "$DATA"
  local secret
  secret=$(awk '/^  secret:/ {print $2}' "$CONFIG" 2>/dev/null || true)
  [[ -n "$secret" ]] || secret=$(openssl rand -hex 16)
  cat > "$CONFIG.tmp" <<EOF
# generated by platform/registry.sh
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false        # Combined Log Format line per request on stdout -> $ACCESS_LOG
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $DATA
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  net: unix                # only the nginx front (TLS, accounts) reaches it
  addr: $BACKEND_SOCK
  secret: $secret
  relativeurls: false
  draintimeout: 0s
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
  if cmp -s "$CONFIG.tmp" "$CONFIG"; then rm -f "$CONFIG.tmp"; return 1; fi
  mv "$CONFIG.tmp" "$CONFIG"; chmod 600 "$CONFIG"
  return 0
}

port_busy() { ss -Hltn "sport = :$REG_PORT" 2>/dev/null | grep . >/dev/null; }

cmd_up() {
  if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1 || ! command -v nginx >/dev/null 2>&1; then
    # policy-rc.d: the packages' init scripts must not start a stock registry on :5000 or nginx on :80
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e "$policy" ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; own_policy=1; fi
    apt_install docker-registry apache2-utils nginx-light
    (( own_policy )) && rm -f "$policy"
    if [[ -f /var/run/docker-registry.pid ]] && kill -0 "$(cat /var/run/docker-registry.pid)" 2>/dev/null; then
      timeout 30 /etc/init.d/docker-registry stop || true
    fi
  fi
  local changed=0
  make_certs
  make_htpasswd && changed=1
  write_config && changed=1
  write_nginx_conf && changed=1
  if pid_alive registry && pid_alive registry-front; then
    if (( changed )); then log "registry config/credentials changed: restarting"; cmd_stop
    else
      wait_until 30 "registry on https://$REGISTRY/v2/" v2_answers
      log "registry already running (pid $(cat "$RUN/registry.pid"), front $(cat "$RUN/registry-front.pid")) on https://$REGISTRY"
      return 0
    fi
  fi
  stop_daemon registry-front; stop_daemon registry
  port_busy && die "port $REG_PORT is already in use by another process: $(ss -Hltnp "sport = :$REG_PORT")"
  local start=$SECONDS
  # The socket's directory: root and nginx's workers (group www-data) only.
  mkdir -p "$(dirname "$BACKEND_SOCK")"; rm -f "$BACKEND_SOCK"
  chgrp www-data "$(dirname "$BACKEND_SOCK")"; chmod 750 "$(dirname "$BACKEND_SOCK")"
  # not start_daemon: the registry writes its access log to stdout and its application log to
  # stderr, and we keep them in separate files so the access log has exactly one line per request.
  log "starting registry (access log: $ACCESS_LOG, log: $REG_LOG)"
  (umask 007; exec setsid /usr/bin/docker-registry serve "$CONFIG" >>"$ACCESS_LOG" 2>>"$REG_LOG" </dev/null) &
  echo $! > "$RUN/registry.pid"
  local deadline=$((SECONDS + 30))
  until [[ -S "$BACKEND_SOCK" ]]; do
    pid_alive registry || { tail -n 20 "$REG_LOG" >&2; die "registry exited (log: $REG_LOG)"; }
    (( SECONDS < deadline )) || { tail -n 20 "$REG_LOG" >&2; die "registry made no socket in 30s"; }
    sleep 0.1
  done
  chgrp www-data "$BACKEND_SOCK"
  nginx -t -q -c "$NGINX_CONF" 2>>"$FRONT_LOG" || { tail -n 5 "$FRONT_LOG" >&2; die "nginx front config invalid: $NGINX_CONF"; }
  start_daemon registry-front nginx -c "$NGINX_CONF"
  until v2_answers; do
    pid_alive registry || { tail -n 20 "$REG_LOG" >&2; die "registry exited (log: $REG_LOG)"; }
    pid_alive registry-front || { tail -n 20 "$FRONT_LOG" "$LOGS/registry-front.log" >&2; die "nginx front exited (log: $FRONT_LOG)"; }
    (( SECONDS < deadline )) || { tail -n 20 "$REG_LOG" "$FRONT_LOG" >&2; die "registry did not answer in 30s"; }
    sleep 0.2
  done
  log "registry up in $((SECONDS - start))s on https://$REGISTRY (push: $REG_USER, pull only: $PULL_USER; CA $CA_CRT, access log $ACCESS_LOG)"
}

cmd_stop() {
  if pid_alive registry || pid_alive registry-front; then
    local start=$SECONDS
    stop_daemon registry-front
    stop_daemon registry
    log "registry stopped in $((SECONDS - start))s (data kept in $DATA)"
  else
    rm -f "$RUN/registry.pid" "$RUN/registry-front.pid"; log "registry not running"
  fi
}

cmd_down() {
  cmd_stop
  rm -rf "$REG_STATE"
  local d; for d in "${DOCKER_CERTS_D[@]}"; do rm -rf "$d"; done
  rmdir /etc/docker/certs.d 2>/dev/null || true
  log "registry down (state removed)"
}

cmd_status() {
  if pid_alive registry && pid_alive registry-front && v2_answers; then
    echo "registry running (pid $(cat "$RUN/registry.pid"), nginx front pid $(cat "$RUN/registry-front.pid")) on https://$REGISTRY, data $DATA, access log $ACCESS_LOG"
  else
    echo "registry not running"; return 1
  fi
}

cmd_login() {
  printf '%s' "$REG_PASSWORD" | timeout 30 docker login "$REGISTRY" -u "$REG_USER" --password-stdin
}

# pushes [FROM_LINE]: number of successful manifest PUTs (= image pushes) in the access log, from
# line FROM_LINE+1 on (take `wc -l < $ACCESS_LOG` before the action, pass it afterwards).
cmd_pushes() {
  local from="${1:-0}"
  [[ -f "$ACCESS_LOG" ]] || { echo 0; return 0; }
  tail -n +"$((from + 1))" "$ACCESS_LOG" | grep -cE '"PUT /v2/[^ ]+/manifests/[^ ]+ HTTP/[0-9.]+" 20[0-9] ' || true
}

# uploads [FROM_LINE]: number of blob uploads started (POST .../blobs/uploads/ answered 202), i.e.
# layers/configs actually sent; 0 when every blob already existed (or was cross-mounted).
cmd_uploads() {
  local from="${1:-0}"
  [[ -f "$ACCESS_LOG" ]] || { echo 0; return 0; }
  tail -n +"$((from + 1))" "$ACCESS_LOG" | grep -cE '"POST /v2/[^ ]+/blobs/uploads/[^ ]* HTTP/[0-9.]+" 202 ' || true
}

cmd_env() {
  cat <<EOF
export STS_CANARY_REGISTRY=$REGISTRY
export STS_CANARY_REGISTRY_USER=$REG_USER
export STS_CANARY_REGISTRY_PASSWORD=$REG_PASSWORD
export STS_CANARY_PULL_USER='$PULL_USER'
export STS_CANARY_PULL_PASSWORD=$(pull_password)
export STS_CANARY_REGISTRY_CA=$CA_CRT
export STS_CANARY_REGISTRY_CA_BUNDLE=$CA_BUNDLE
export STS_CANARY_REGISTRY_FRONT_ACCESS_LOG=$FRONT_ACCESS_LOG
# Go clients without a CA option of their own (cosign) trust the registry through this bundle.
export SSL_CERT_FILE=$CA_BUNDLE
export STS_CANARY_REGISTRY_ACCESS_LOG=$ACCESS_LOG
export STS_CANARY_REGISTRY_LOG=$REG_LOG
export STS_CANARY_REGISTRY_CONTAINERD_CERTS_D=$CONTAINERD_CERTS_D
EOF
}

cmd_verify() {
  v2_answers || die "registry not answering; run $0 up"
  local base="sts-canary/nginx-base:latest" img="$REGISTRY/library/sts-canary-selftest:v1"
  docker image inspect "$base" >/dev/null 2>&1 || die "$base missing; run platform/base-image.sh up"
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "'"$tmp"'"' EXIT
  mkdir -p "$tmp/auth" "$tmp/noauth" "$tmp/ctx"
  echo '<h1>This is V1</h1>' > "$tmp/ctx/index.html"; cp "$tmp/ctx/index.html" "$tmp/ctx/version.html"
  printf 'FROM %s\nCOPY index.html version.html /usr/share/nginx/html/\n' "$base" > "$tmp/ctx/Dockerfile"
  timeout 120 docker build -q -t "$img" "$tmp/ctx" >/dev/null 2>&1

  # unauthenticated API access and push must fail
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$CA_CRT" "https://$REGISTRY/v2/_catalog")
  [[ "$code" == 401 ]] || die "unauthenticated /v2/_catalog returned $code, expected 401"
  if DOCKER_CONFIG="$tmp/noauth" timeout 60 docker push "$img" >"$tmp/noauth.log" 2>&1; then
    die "push without login succeeded"
  fi
  log "unauthenticated: _catalog 401, push refused ($(grep -m1 -iE 'denied|unauthorized|no basic auth' "$tmp/noauth.log" | cut -c1-100))"

  # wrong password must fail
  if printf 'wrong' | DOCKER_CONFIG="$tmp/noauth" timeout 30 docker login "$REGISTRY" -u "$REG_USER" --password-stdin >/dev/null 2>&1; then
    die "login with a wrong password succeeded"
  fi

  # login + push in a throwaway docker config (the user's ~/.docker is left alone)
  printf '%s' "$REG_PASSWORD" | DOCKER_CONFIG="$tmp/auth" timeout 30 docker login "$REGISTRY" -u "$REG_USER" --password-stdin >/dev/null
  local before t; before=$(wc -l < "$ACCESS_LOG"); t=$SECONDS
  DOCKER_CONFIG="$tmp/auth" timeout 300 docker push "$img" >"$tmp/push.log" 2>&1 || { cat "$tmp/push.log" >&2; die "push failed"; }
  log "push $img: $((SECONDS - t))s, $(cmd_pushes "$before") manifest PUT(s), $(cmd_uploads "$before") blob upload(s) in the access log; $(grep -m1 digest "$tmp/push.log")"
  before=$(wc -l < "$ACCESS_LOG")
  DOCKER_CONFIG="$tmp/auth" timeout 120 docker push "$img" >/dev/null 2>&1
  log "re-push of the unchanged image: $(cmd_pushes "$before") manifest PUT(s), $(cmd_uploads "$before") blob upload(s) (docker always re-PUTs the manifest)"

  local cat_json
  cat_json=$(curl -fsS -m 5 --cacert "$CA_CRT" -u "$REG_USER:$REG_PASSWORD" "https://$REGISTRY/v2/_catalog")
  [[ "$cat_json" == *'"library/sts-canary-selftest"'* ]] || die "_catalog lacks the pushed repo: $cat_json"
  log "_catalog (authenticated): $cat_json"

  # pull: unauthenticated fails, authenticated works
  docker image rm "$img" >/dev/null
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$CA_CRT" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "https://$REGISTRY/v2/library/sts-canary-selftest/manifests/v1")
  [[ "$code" == 401 ]] || die "unauthenticated manifest GET returned $code, expected 401"
  if DOCKER_CONFIG="$tmp/noauth" timeout 60 docker pull "$img" >"$tmp/pull.log" 2>&1; then die "pull without auth succeeded"; fi
  log "unauthenticated pull refused: $(tail -n1 "$tmp/pull.log" | cut -c1-120)"
  DOCKER_CONFIG="$tmp/auth" timeout 120 docker pull -q "$img" >/dev/null
  docker image rm "$img" >/dev/null

  # containerd (what a kubelet uses) with our hosts.toml: full TLS verification against the CA.
  # Uses dockerd's own managed containerd in a throwaway namespace; the kubelet's containerd is not touched.
  local csock="${STS_CANARY_DOCKER_EXEC_ROOT:-/run/sts-canary-docker}/containerd/containerd.sock"
  if command -v ctr >/dev/null 2>&1 && [[ -S "$csock" ]]; then
    local ns="sts-canary-registry-verify"
    local -a C=(ctr --address "$csock" -n "$ns")
    # content fetch = resolve + download + digest-check every blob, without unpacking snapshots
    timeout 120 "${C[@]}" content fetch --hosts-dir "$CONTAINERD_CERTS_D" --user "$REG_USER:$REG_PASSWORD" "$img" \
      >"$tmp/ctr.log" 2>&1 || { tail -n 3 "$tmp/ctr.log" >&2; die "containerd fetch with $CONTAINERD_CERTS_D failed"; }
    "${C[@]}" images rm "$img" >/dev/null 2>&1 || true
    "${C[@]}" content ls -q 2>/dev/null | xargs -r "${C[@]}" content rm >/dev/null 2>&1 || true
    ctr --address "$csock" namespaces rm "$ns" >/dev/null 2>&1 || true
    log "containerd fetch over verified TLS with hosts.toml from $CONTAINERD_CERTS_D ok"
  fi
  # The pull account: pulls (docker and containerd), and every write is refused by the front.
  local pull_cfg="$tmp/pull"; mkdir -p "$pull_cfg"
  pull_password | DOCKER_CONFIG="$pull_cfg" timeout 30 docker login "$REGISTRY" -u "$PULL_USER" --password-stdin >/dev/null
  DOCKER_CONFIG="$pull_cfg" timeout 120 docker pull -q "$img" >/dev/null || die "pull with $PULL_USER failed"
  if DOCKER_CONFIG="$pull_cfg" timeout 60 docker push "$img" >"$tmp/pull-push.log" 2>&1; then die "push with the pull-only account $PULL_USER succeeded"; fi
  grep -qiE 'denied|may pull only' "$tmp/pull-push.log" || { cat "$tmp/pull-push.log" >&2; die "push with $PULL_USER failed for another reason than a denial"; }
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$CA_CRT" -u "$PULL_USER:$(pull_password)" -X DELETE \
    "https://$REGISTRY/v2/library/sts-canary-selftest/manifests/v1")
  [[ "$code" == 403 ]] || die "DELETE with $PULL_USER returned $code, expected 403"
  docker image rm "$img" >/dev/null
  if [[ -n "${C[*]:-}" ]]; then
    timeout 120 "${C[@]}" content fetch --hosts-dir "$CONTAINERD_CERTS_D" --user "$PULL_USER:$(pull_password)" "$img" \
      >"$tmp/ctr.log" 2>&1 || { tail -n 3 "$tmp/ctr.log" >&2; die "containerd fetch with $PULL_USER failed"; }
    "${C[@]}" images rm "$img" >/dev/null 2>&1 || true
    "${C[@]}" content ls -q 2>/dev/null | xargs -r "${C[@]}" content rm >/dev/null 2>&1 || true
    ctr --address "$csock" namespaces rm "$ns" >/dev/null 2>&1 || true
  fi
  log "pull account $PULL_USER: docker pull ok, containerd fetch ok, push denied ($(grep -m1 -ioE 'denied[^"]*|may pull only' "$tmp/pull-push.log" | cut -c1-80)), DELETE 403"
  log "registry verify ok"
}

case "${1:-up}" in
  up|start) cmd_up ;;
  stop) cmd_stop ;;
  down) cmd_down ;;
  status) cmd_status ;;
  verify) cmd_verify ;;
  login) cmd_login ;;
  pushes) shift; cmd_pushes "$@" ;;
  uploads) shift; cmd_uploads "$@" ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|start|stop|down|status|verify|login|pushes [FROM_LINE]|uploads [FROM_LINE]|env" >&2; exit 2 ;;
esac
