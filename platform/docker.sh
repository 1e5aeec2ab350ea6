#!/usr/bin/env bash
# Local Docker Engine for the platform: Debian's dockerd (package docker.io), started by us, not systemd.
#
#   platform/docker.sh up      install docker.io if missing, start dockerd, wait for `docker info`
#   platform/docker.sh down    stop dockerd (and its managed containerd), unmount, remove $STATE/docker
#   platform/docker.sh status  exit 0 if the daemon answers
#   platform/docker.sh verify  `docker info` + a COPY-only `docker build` (no network needed)
#
# Choices:
#   - socket: the default unix:///var/run/docker.sock, so the docker CLI and @pulumi/docker need no
#     DOCKER_HOST. `up` refuses to start if another daemon already answers there.
#   - data-root: $STATE/docker/data (removed by `down`). Base images are NOT kept here across runs:
#     base-image.sh caches the nginx rootfs tarball in $CACHE and `docker import`s it in ~2 s, which
#     is cheaper and safer than keeping a live overlay2 tree in $CACHE.
#   - exec-root: /run/sts-canary-docker (short: unix socket paths are limited to 108 bytes and the
#     managed containerd socket lives under it). dockerd starts its OWN containerd under that
#     exec-root; it never talks to the kubelet's containerd in $STATE/run/containerd.
#   - network: bridge docker0 on 172.31.255.1/24 (override: STS_CANARY_DOCKER_BIP), with
#     iptables/ip-masq/ip-forward off: dockerd does not rewrite the host firewall (the kubelet's CNI
#     also uses it) nor the forwarding sysctl; we add one chain STS-DOCKER-EGRESS that drops
#     forwarded traffic leaving docker0, so containers cannot reach anything off the machine.
#     `-p 127.0.0.1:X:Y` still works (docker-proxy, host -> bridge, no forwarding involved).
#   - no daemon.json from /etc/docker is read: the config is generated under $STATE/docker.
#   - registry trust: registry.sh writes /etc/docker/certs.d/127.0.0.1:5443/ca.crt; dockerd reads
#     certs.d on every connection, so no restart is needed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKER_STATE="$STATE/docker"
DOCKER_DATA="$DOCKER_STATE/data"
DOCKER_EXEC_ROOT="${STS_CANARY_DOCKER_EXEC_ROOT:-/run/sts-canary-docker}"
DOCKER_SOCK="/var/run/docker.sock"
DOCKER_BIP="${STS_CANARY_DOCKER_BIP:-172.31.255.1/24}"
DOCKER_BRIDGE="docker0"
export DOCKER_HOST="unix://$DOCKER_SOCK"

docker_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_docker() {
  # docker.io brings dockerd, containerd, runc, tini/docker-init and docker-proxy. Its own
  # /usr/bin/docker (20.10) is shadowed by /usr/local/bin/docker (28.x) where present; both work.
  # policy-rc.d on this machine stops the package from starting a daemon itself.
  command -v dockerd >/dev/null 2>&1 && command -v docker-proxy >/dev/null 2>&1 && return 0
  apt_install docker.io
  # on a machine without a policy-rc.d the package's init script starts a stock dockerd: stop it
  if [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    log "stopping the dockerd that the docker.io package started"
    timeout 60 /etc/init.d/docker stop || true
  fi
}

write_config() {
  mkdir -p "$DOCKER_STATE" "$DOCKER_DATA"
  cat > "$DOCKER_STATE/daemon.json" <<EOF
{
  "data-root": "$DOCKER_DATA",
  "exec-root": "$DOCKER_EXEC_ROOT",
  "pidfile": "$DOCKER_EXEC_ROOT/dockerd.pid",
  "deprecated-key-path": "$DOCKER_STATE/key.json",
  "hosts": ["unix://$DOCKER_SOCK"],
  "storage-driver": "overlay2",
  "bip": "$DOCKER_BIP",
  "iptables": false,
  "ip6tables": false,
  "ip-masq": false,
  "ip-forward": false,
  "userland-proxy": true,
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "2"}
}
EOF
}

# Containers on docker0 must not reach anything off the machine: no NAT (ip-masq false) and, in case
# someone else enables IPv4 forwarding (a kubelet CNI does), a FORWARD drop for traffic leaving
# docker0 for any other interface. Own chain, so `down` removes exactly what we added.
EGRESS_CHAIN=STS-DOCKER-EGRESS
egress_guard_add() {
  command -v iptables >/dev/null 2>&1 || { log "iptables missing: docker0 egress guard not installed"; return 0; }
  iptables -w 10 -N "$EGRESS_CHAIN" 2>/dev/null || iptables -w 10 -F "$EGRESS_CHAIN"
  iptables -w 10 -A "$EGRESS_CHAIN" -i "$DOCKER_BRIDGE" ! -o "$DOCKER_BRIDGE" -j DROP
  iptables -w 10 -C FORWARD -j "$EGRESS_CHAIN" 2>/dev/null || iptables -w 10 -I FORWARD 1 -j "$EGRESS_CHAIN"
}
egress_guard_del() {
  command -v iptables >/dev/null 2>&1 || return 0
  while iptables -w 10 -D FORWARD -j "$EGRESS_CHAIN" 2>/dev/null; do :; done
  iptables -w 10 -F "$EGRESS_CHAIN" 2>/dev/null || true
  iptables -w 10 -X "$EGRESS_CHAIN" 2>/dev/null || true
}

cmd_up() {
  install_docker
  egress_guard_add
  if pid_alive dockerd; then
    wait_until 60 "dockerd to answer" docker_answers
    log "dockerd already running (pid $(cat "$RUN/dockerd.pid")), server $(docker version --format '{{.Server.Version}}')"
    return 0
  fi
  if [[ -S "$DOCKER_SOCK" ]]; then
    docker_answers && die "another Docker daemon already answers on $DOCKER_SOCK (not started by this script); stop it first"
    log "removing stale socket $DOCKER_SOCK"; rm -f "$DOCKER_SOCK"
  fi
  # leftovers of a crashed run
  rm -f "$DOCKER_EXEC_ROOT/dockerd.pid"
  write_config
  mkdir -p "$DOCKER_EXEC_ROOT"
  start_daemon dockerd /usr/sbin/dockerd --config-file "$DOCKER_STATE/daemon.json"
  local start=$SECONDS
  local deadline=$((SECONDS + 90))
  until docker_answers; do
    pid_alive dockerd || { tail -n 30 "$LOGS/dockerd.log" >&2; die "dockerd exited (log: $LOGS/dockerd.log)"; }
    (( SECONDS < deadline )) || { tail -n 30 "$LOGS/dockerd.log" >&2; die "dockerd did not answer in 90s"; }
    sleep 1
  done
  log "dockerd up in $((SECONDS - start))s: $(docker version --format 'server {{.Server.Version}} API {{.Server.APIVersion}}, client {{.Client.Version}}')"
}

cleanup_mounts() {
  # Unmount whatever dockerd / its containerd left below our roots (deepest first), so that
  # `rm -rf $STATE` never walks into a live overlay or netns mount.
  local m
  for root in "$DOCKER_DATA" "$DOCKER_EXEC_ROOT"; do
    awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r | \
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  done
}

cmd_down() {
  if pid_alive dockerd; then
    log "stopping dockerd (pid $(cat "$RUN/dockerd.pid"))"
    # dockerd gives each container 10 s to stop; stop them first with a shorter grace period
    if docker_answers; then
      local ids; ids=$(docker ps -q 2>/dev/null || true)
      [[ -n "$ids" ]] && timeout 60 docker stop -t 2 $ids >/dev/null 2>&1 || true
    fi
    stop_daemon dockerd
  else
    rm -f "$RUN/dockerd.pid"
  fi
  # the managed containerd normally exits with dockerd; if dockerd was KILLed it may linger
  local cpid_file="$DOCKER_EXEC_ROOT/containerd/containerd.pid"
  if [[ -f "$cpid_file" ]]; then
    local cpid; cpid=$(cat "$cpid_file")
    if [[ -n "$cpid" ]] && kill -0 "$cpid" 2>/dev/null && grep -q "$DOCKER_EXEC_ROOT" "/proc/$cpid/cmdline" 2>/dev/null; then
      log "stopping leftover docker-managed containerd (pid $cpid)"
      kill "$cpid" 2>/dev/null || true
      for _ in $(seq 1 10); do kill -0 "$cpid" 2>/dev/null || break; sleep 1; done
      kill -9 "$cpid" 2>/dev/null || true
    fi
  fi
  cleanup_mounts
  ip link show "$DOCKER_BRIDGE" >/dev/null 2>&1 && ip link delete "$DOCKER_BRIDGE" 2>/dev/null || true
  egress_guard_del
  [[ -S "$DOCKER_SOCK" ]] && ! docker_answers && rm -f "$DOCKER_SOCK"
  rm -rf "$DOCKER_EXEC_ROOT" "$DOCKER_STATE"
  log "docker down"
}

cmd_status() {
  if pid_alive dockerd && docker_answers; then
    echo "dockerd running (pid $(cat "$RUN/dockerd.pid")) on $DOCKER_SOCK, data-root $DOCKER_DATA, $(docker version --format 'server {{.Server.Version}}')"
  else
    echo "dockerd not running"; return 1
  fi
}

cmd_verify() {
  docker_answers || die "dockerd not answering; run $0 up"
  docker info --format 'docker info: {{.ServerVersion}} driver={{.Driver}} cgroup={{.CgroupDriver}}/{{.CgroupVersion}} root={{.DockerRootDir}}' >&2
  # COPY-only build with no base image and no network
  local ctx; ctx=$(mktemp -d)
  echo hello > "$ctx/hello.txt"
  printf 'FROM scratch\nCOPY hello.txt /hello.txt\n' > "$ctx/Dockerfile"
  timeout 120 docker build -q --network none -t sts-canary/docker-selftest:latest "$ctx" >&2
  rm -rf "$ctx"
  docker image rm sts-canary/docker-selftest:latest >/dev/null
  log "docker verify ok (info + COPY-only build)"
}

case "${1:-up}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  verify) cmd_verify ;;
  *) echo "usage: $0 up|down|status|verify" >&2; exit 2 ;;
esac
