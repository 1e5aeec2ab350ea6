#!/usr/bin/env bash
# Local single-node Kubernetes cluster for the project's tests.
#
#   platform/cluster.sh up          build/reuse binaries, start everything, wait until the node is Ready
#   platform/cluster.sh down        stop everything, remove pods, netns, mounts, iptables chains, state
#   platform/cluster.sh status      what runs, node and pods
#   platform/cluster.sh kubeconfig  print the admin kubeconfig path (export KUBECONFIG=$(...))
#   platform/cluster.sh smoke       prove it works: pod, partitioned StatefulSet, NodePort via curl
#   platform/cluster.sh import-image FILE   load an image archive into the cluster's containerd
#   platform/cluster.sh kwok up [N] | kwok down   N simulated (kwok) nodes beside the real one
#   platform/cluster.sh restart-apiserver --down S  fault test: stop kube-apiserver, keep it down S s,
#                                   start it as `up` does, restart its clients, wait (<= 60 s) until the
#                                   controllers work; last line "apiserver down Ss, ready again after Ns (...)"
#
# Components (all on loopback or on the pod bridge this script creates):
#   etcd 127.0.0.1:2379 -> kube-apiserver 127.0.0.1:6443 -> controller-manager, scheduler
#   containerd (a private instance: own config, socket $RUN/containerd/containerd.sock, root and
#   state under $STATE/k8s) -> kubelet (node IP = pod bridge gateway) -> kube-proxy (iptables).
# Pods 10.244.0.0/24 on bridge stscni0 (gateway/node IP 10.244.0.1), services 10.96.0.0/16.
# See platform/k8s/README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/platform/k8s/versions.sh"

K8S="$STATE/k8s"
PKI="$K8S/pki"
KUBECONFIG_ADMIN="$STATE/kubeconfig"
NODE_NAME="${STS_CANARY_NODE_NAME:-sts-canary-node}"
POD_CIDR=10.244.0.0/24
NODE_IP=10.244.0.1            # gateway of the pod bridge; not routable off this machine
BRIDGE=stscni0
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
APISERVER=https://127.0.0.1:6443
CTR_SOCK="$RUN/containerd/containerd.sock"
# Unix socket paths are limited to 107 bytes (+ ".ttrpc"): fall back to /run for deep checkouts.
(( ${#CTR_SOCK} <= 90 )) || CTR_SOCK="/run/sts-canary-k8s-$(echo "$STATE" | sha256sum | cut -c1-8)/containerd.sock"
CNI_BIN=/usr/lib/cni
FWD_CHAIN=STS-K8S-FORWARD
DAEMONS=(k8s-etcd k8s-apiserver k8s-controller-manager k8s-scheduler k8s-containerd k8s-kubelet k8s-proxy k8s-kwok)
# Long-running clients of kube-apiserver whose work depends on informer (watch) caches. One that is
# older than the running kube-apiserver is restarted after it (see "API server restarts" in
# platform/k8s/README.md): otherwise its informers come back one by one, minutes later. Not the
# kubelet: a restarted kubelet reports every pod with a readiness probe NotReady until its next probe.
APISERVER_CLIENTS=(k8s-controller-manager k8s-scheduler k8s-proxy k8s-kwok)
KWOK_POD_CIDR=10.245.0.0/16   # fake IPs of pods on kwok nodes; routed onto the pod bridge only
KWOK_NODE_IP=10.245.255.254

kc() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctr_() { ctr --address "$CTR_SOCK" --namespace k8s.io "$@"; }
crictl_() { crictl --config "$K8S/crictl.yaml" "$@"; }

# await <timeout-s> <what> <daemon or -> cmd... : bounded poll with a progress line every 10 s;
# fails early with the daemon's log tail if the daemon died.
await() {
  local timeout="$1" what="$2" daemon="$3"; shift 3
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if [[ "$daemon" != - ]] && ! pid_alive "$daemon"; then
      tail -n 30 "$LOGS/$daemon.log" >&2 || true
      die "$daemon exited while waiting for $what (log: $LOGS/$daemon.log)"
    fi
    if (( SECONDS - start >= timeout )); then
      [[ "$daemon" == - ]] || tail -n 30 "$LOGS/$daemon.log" >&2 || true
      die "timed out after ${timeout}s waiting for $what"
    fi
    if (( SECONDS > start && (SECONDS - start) % 10 == 0 )); then
      local hint=""; [[ "$daemon" == - ]] || hint=$(tail -n 1 "$LOGS/$daemon.log" 2>/dev/null | cut -c1-110)
      log "  ... waiting for $what: $((SECONDS - start))s ${hint:+($hint)}"
    fi
    sleep 1
  done
  log "$what: ok after $((SECONDS - start))s"
}

# our_strays : pids of this cluster's daemons that no pid file tracks (e.g. after $STATE was
# wiped while they ran). Matched by their command line naming a path under $K8S.
our_strays() {
  local p cmd tracked=" " d
  for d in "${DAEMONS[@]}"; do if [[ -f "$RUN/$d.pid" ]]; then tracked+="$(cat "$RUN/$d.pid") "; fi; done
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null < "$p/cmdline") || continue
    case "$cmd" in
      "etcd --name sts-canary --data-dir $K8S/etcd "*|kube-*"$K8S/"*|"kubelet --config=$K8S/"*|"containerd --config $K8S/"*|"kwok --config=$K8S/"*)
        [[ "$tracked" == *" ${p#/proc/} "* ]] || echo "${p#/proc/}" ;;
    esac
  done
}

kill_strays() {
  local pids; pids=$(our_strays)
  [[ -n "$pids" ]] || return 0
  log "stopping untracked cluster processes: $(echo $pids)"
  kill $pids 2>/dev/null || true
  local i; for i in $(seq 1 20); do kill -0 $pids 2>/dev/null || return 0; sleep 1; done
  kill -9 $pids 2>/dev/null || true
}

# proc_start <pid> : start time of a process (clock ticks since boot; field 22 of /proc/<pid>/stat).
# shellcheck disable=SC2086  # the fields after "(comm) " are split on purpose
proc_start() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; set -- ${st##*) }; echo "${20}"; }

# older_than_apiserver <name> : true if daemon <name> runs and was started before the running
# kube-apiserver process, i.e. it lived through an API server restart.
older_than_apiserver() {
  pid_alive "$1" && pid_alive k8s-apiserver || return 1
  local mine api
  mine=$(proc_start "$(cat "$RUN/$1.pid")") && api=$(proc_start "$(cat "$RUN/k8s-apiserver.pid")") || return 1
  (( mine < api ))
}

is_apiserver_client() { local c; for c in "${APISERVER_CLIENTS[@]}"; do [[ "$c" == "$1" ]] && return 0; done; return 1; }

# ensure_daemon <name> <config file or -> cmd... : start, or restart if its command line or its
# config file changed (e.g. new *_EXTRA_ARGS, or a config edit in this script), or if it is one of
# APISERVER_CLIENTS and kube-apiserver was restarted since it started.
ensure_daemon() {
  local name="$1" conf="$2"; shift 2
  local sum; sum=$({ [[ "$conf" == - ]] || cat "$conf"; echo "$*"; } | sha256sum | cut -c1-16)
  if pid_alive "$name" && [[ "$(cat "$RUN/$name.confsum" 2>/dev/null)" != "$sum" ]]; then
    log "$name: configuration changed, restarting"
    stop_daemon "$name"
  elif is_apiserver_client "$name" && older_than_apiserver "$name"; then
    log "$name: started before the running kube-apiserver (pid $(cat "$RUN/k8s-apiserver.pid")), restarting it so its informers start fresh"
    stop_daemon "$name"
  fi
  start_daemon "$name" "$@"
  echo "$sum" > "$RUN/$name.confsum"
}

# ---------------------------------------------------------------- certificates and kubeconfigs
pki_cert() { # name CN O SANs(openssl list or "") server|client|both
  local n="$1" cn="$2" o="$3" san="$4" kind="$5"
  [[ -s "$PKI/$n.crt" && -s "$PKI/$n.key" ]] && return 0
  local subj="/CN=$cn"; [[ -z "$o" ]] || subj="/O=$o/CN=$cn"
  local eku=clientAuth; [[ "$kind" == server ]] && eku=serverAuth; [[ "$kind" == both ]] && eku=serverAuth,clientAuth
  {
    echo "[v3]"
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -z "$san" ]] || echo "subjectAltName=$san"
  } > "$PKI/$n.ext"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$n.key" 2>/dev/null
  openssl req -new -key "$PKI/$n.key" -subj "$subj" -out "$PKI/$n.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$n.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$PKI/$n.ext" -extensions v3 -out "$PKI/$n.crt" 2>/dev/null
  rm -f "$PKI/$n.csr" "$PKI/$n.ext"
}

write_kubeconfig() { # file cert-name user
  local f="$1" c="$2" user="$3"
  put_file "$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sts-canary
  cluster:
    server: $APISERVER
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 < "$PKI/$c.crt")
    client-key-data: $(base64 -w0 < "$PKI/$c.key")
contexts:
- name: sts-canary
  context:
    cluster: sts-canary
    user: $user
current-context: sts-canary
EOF
  chmod 600 "$f"
}

make_pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  if [[ ! -s "$PKI/ca.crt" ]]; then
    log "generating cluster CA and certificates in $PKI"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=sts-canary-ca" -days 3650 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$PKI/ca.crt" 2>/dev/null
  fi
  [[ -s "$PKI/sa.key" ]] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null; openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  pki_cert apiserver kube-apiserver "" \
    "IP:127.0.0.1,IP:$SERVICE_IP,IP:$NODE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" server
  pki_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" client
  pki_cert admin admin system:masters "" client
  pki_cert controller-manager system:kube-controller-manager "" "" client
  pki_cert scheduler system:kube-scheduler "" "" client
  pki_cert kube-proxy system:kube-proxy "" "" client
  pki_cert kubelet "system:node:$NODE_NAME" system:nodes "" client
  pki_cert kubelet-server "$NODE_NAME" "" "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost" server
  write_kubeconfig "$KUBECONFIG_ADMIN" admin admin
  write_kubeconfig "$K8S/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  write_kubeconfig "$K8S/scheduler.kubeconfig" scheduler system:kube-scheduler
  write_kubeconfig "$K8S/kube-proxy.kubeconfig" kube-proxy system:kube-proxy
  write_kubeconfig "$K8S/kubelet.kubeconfig" kubelet "system:node:$NODE_NAME"
}

# ---------------------------------------------------------------- host networking
# Host sysctls this cluster changes: ours (forwarding, localhost NodePorts) and the kubelet's
# (it sets vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1, ... at start).
# Saved once per cluster, restored by `down`.
HOST_SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet vm.overcommit_memory vm.panic_on_oom
  kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
save_sysctls() {
  [[ -s "$K8S/sysctl.orig" ]] && return 0
  local k; for k in "${HOST_SYSCTLS[@]}"; do sysctl -e "$k" 2>/dev/null; done > "$K8S/sysctl.orig" || true
}
restore_sysctls() {
  [[ -s "$K8S/sysctl.orig" ]] || return 0
  local k v; while IFS=' = ' read -r k v; do sysctl -qw "$k=$v" 2>/dev/null || true; done < "$K8S/sysctl.orig"
  log "restored host sysctls: $(tr '\n' ' ' < "$K8S/sysctl.orig")"
}

setup_host_network() {
  save_sysctls
  # Forwarding between pods and to services; localhost NodePorts need route_localnet.
  sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.route_localnet=1
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "warning: bridge-nf-call-iptables not settable"
  # The pod bridge exists before the kubelet so that its gateway address is the node IP.
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip addr show dev "$BRIDGE" | grep "inet $NODE_IP/" >/dev/null || ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Service IPs without endpoints, and the fake pod/node IPs of kwok nodes, must never follow the
  # default route off this machine: route them onto the pod bridge (where nothing answers).
  # kube-proxy DNATs real service traffic before this route matters.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
  ip route replace "$KWOK_POD_CIDR" dev "$BRIDGE"
  # Pods talk to each other and to this host only: nothing forwarded into or out of the pod
  # bridge from/to another interface (the host may forward for others, e.g. docker).
  iptables -w 5 -N "$FWD_CHAIN" 2>/dev/null || iptables -w 5 -F "$FWD_CHAIN"
  iptables -w 5 -A "$FWD_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  iptables -w 5 -A "$FWD_CHAIN" -i "$BRIDGE" -j DROP
  iptables -w 5 -A "$FWD_CHAIN" -o "$BRIDGE" -j DROP
  iptables -w 5 -C FORWARD -j "$FWD_CHAIN" 2>/dev/null || iptables -w 5 -I FORWARD 1 -j "$FWD_CHAIN"
}

# ---------------------------------------------------------------- component configs
# put_file <path> : write stdin to path only if the content differs (kube-proxy exits when its
# config file is touched; unchanged files keep running daemons undisturbed).
put_file() {
  local tmp="$1.tmp.$$"
  cat > "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

write_configs() {
  mkdir -p "$K8S/cni/net.d" "$K8S/cni/ipam" "$K8S/containerd/root" "$K8S/containerd/state" \
    "$K8S/kubelet" "$K8S/pod-logs" "$(dirname "$CTR_SOCK")" "$K8S/etcd"
  # Pods get a route to the service range only (no default route): nothing leaves the machine.
  put_file "$K8S/cni/net.d/10-sts-canary.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sts-canary",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "$SERVICE_CIDR"}],
        "dataDir": "$K8S/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  # The project's TLS registry (platform/registry.sh) on 127.0.0.1:5443 / localhost:5443, with a
  # self-signed CA that registry.sh creates; read by containerd at pull time. Credentials come from
  # the pod's imagePullSecrets.
  local reg
  for reg in 127.0.0.1:5443 localhost:5443; do
    mkdir -p "$K8S/containerd/certs.d/$reg"
    put_file "$K8S/containerd/certs.d/$reg/hosts.toml" <<EOF
server = "https://$reg"

[host."https://$reg"]
  capabilities = ["pull", "resolve"]
  ca = "$STATE/registry/certs/ca.crt"
EOF
  done
  put_file "$K8S/containerd/config.toml" <<EOF
# Private containerd for the kubelet; independent of any system/docker containerd.
version = 2
root = "$K8S/containerd/root"
state = "$K8S/containerd/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CTR_SOCK"

[ttrpc]
  address = "$CTR_SOCK.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_selinux = false
  disable_apparmor = true
  # This sandbox lacks CAP_SYS_RESOURCE: negative oom_score_adj (pause: -998) fails with EIO
  # and runc dies with "can't get final child's PID from pipe". Clamp to containerd's own (0).
  restrict_oom_score_adj = true
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$RUN/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$K8S/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$K8S/containerd/certs.d"
EOF
  printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 20\n' "$CTR_SOCK" "$CTR_SOCK" | put_file "$K8S/crictl.yaml"
  # Pods get no usable DNS server: nothing in a pod may query a resolver off this machine.
  echo "nameserver 127.0.0.1" | put_file "$K8S/resolv.conf"
  local qos="${KUBELET_CGROUPS_PER_QOS:-true}" alloc="${KUBELET_ENFORCE_NODE_ALLOCATABLE:-[\"pods\"]}"
  put_file "$K8S/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CTR_SOCK
imageServiceEndpoint: unix://$CTR_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: $qos
enforceNodeAllocatable: $alloc
resolvConf: $K8S/resolv.conf
clusterDomain: cluster.local
podLogsDir: $K8S/pod-logs
serializeImagePulls: false
# Locally imported images (imagePullPolicy: Never) must never be garbage-collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
nodeStatusReportFrequency: 1m
syncFrequency: 10s
fileCheckFrequency: 20s
EOF
  put_file "$K8S/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $K8S/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts answer on loopback (kube-proxy sets route_localnet=1 for this).
nodePortAddresses: ["127.0.0.0/8"]
iptables:
  localhostNodePorts: true
  masqueradeAll: false
  syncPeriod: 30s
  minSyncPeriod: 1s
# Leave the host's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# ---------------------------------------------------------------- daemons
start_etcd() {
  ensure_daemon k8s-etcd - etcd --name sts-canary --data-dir "$K8S/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster sts-canary=http://127.0.0.1:2380 --initial-cluster-state new \
    --listen-metrics-urls "" --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
  await 60 "etcd health" k8s-etcd curl -fsS --max-time 3 http://127.0.0.1:2379/health
}

start_apiserver() {
  ensure_daemon k8s-apiserver - kube-apiserver \
    --bind-address=127.0.0.1 --secure-port=6443 --advertise-address="$NODE_IP" \
    --etcd-servers=http://127.0.0.1:2379 \
    --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --shutdown-watch-termination-grace-period=2s \
    --allow-privileged=true --profiling=false --v=1 ${KUBE_APISERVER_EXTRA_ARGS:-}
  await 180 "kube-apiserver /readyz" k8s-apiserver \
    curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$APISERVER/readyz"
}

start_controllers() {
  ensure_daemon k8s-controller-manager - kube-controller-manager \
    --kubeconfig="$K8S/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$K8S/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$K8S/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allocate-node-cidrs=false \
    --kube-api-qps=100 --kube-api-burst=200 \
    --profiling=false --v=1 ${KUBE_CONTROLLER_MANAGER_EXTRA_ARGS:-}
  ensure_daemon k8s-scheduler - kube-scheduler \
    --kubeconfig="$K8S/scheduler.kubeconfig" \
    --authentication-kubeconfig="$K8S/scheduler.kubeconfig" \
    --authorization-kubeconfig="$K8S/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1 ${KUBE_SCHEDULER_EXTRA_ARGS:-}
  await 90 "kube-controller-manager /healthz" k8s-controller-manager curl -fsSk --max-time 3 https://127.0.0.1:10257/healthz
  await 90 "kube-scheduler /healthz" k8s-scheduler curl -fsSk --max-time 3 https://127.0.0.1:10259/healthz
  await 60 "controllers: service account default/default" k8s-controller-manager \
    kubectl --kubeconfig "$KUBECONFIG_ADMIN" -n default get serviceaccount default
}

start_containerd() {
  ensure_daemon k8s-containerd "$K8S/containerd/config.toml" containerd --config "$K8S/containerd/config.toml"
  await 60 "containerd socket" k8s-containerd ctr_ version
  import_images
}

import_images() {
  local f
  for f in "$CACHE/images/k8s/pause.tar" "$CACHE/images/k8s/busybox.tar"; do
    [[ -s "$f" ]] || die "$f missing: run platform/build-k8s.sh"
    ctr_ images import --no-unpack=false "$f" >/dev/null 2>>"$LOGS/k8s-containerd.log" || die "importing $f failed"
  done
  ctr_ images ls -q | grep -x "$PAUSE_IMAGE" >/dev/null || die "pause image $PAUSE_IMAGE missing after import"
  log "images in cluster containerd: $(ctr_ images ls -q | grep -v '^sha256:' | tr '\n' ' ')"
}

start_kubelet() {
  ensure_daemon k8s-kubelet "$K8S/kubelet/config.yaml" kubelet --config="$K8S/kubelet/config.yaml" \
    --kubeconfig="$K8S/kubelet.kubeconfig" --root-dir="$K8S/kubelet" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1 ${KUBELET_EXTRA_ARGS:-}
  await 60 "kubelet /healthz" k8s-kubelet curl -fsS --max-time 3 http://127.0.0.1:10248/healthz
  await 120 "node $NODE_NAME Ready" k8s-kubelet \
    bash -c "kubectl --kubeconfig '$KUBECONFIG_ADMIN' get node '$NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
}

start_proxy() {
  ensure_daemon k8s-proxy "$K8S/kube-proxy.yaml" kube-proxy --config="$K8S/kube-proxy.yaml" --v=1
  await 60 "kube-proxy /healthz" k8s-proxy curl -fsS --max-time 3 http://127.0.0.1:10256/healthz
}

cmd_up() {
  local t0=$SECONDS
  "$REPO_ROOT/platform/build-k8s.sh"
  local tb=$SECONDS
  kill_strays
  make_pki
  write_configs
  setup_host_network
  start_etcd
  start_apiserver
  refresh_apiserver_clients
  start_controllers
  start_containerd
  start_kubelet
  start_proxy
  log "cluster up: $((SECONDS - tb))s to start (+$((tb - t0))s build check); export KUBECONFIG=$KUBECONFIG_ADMIN"
  kc get nodes -o wide >&2
}

# ---------------------------------------------------------------- API server restarts
# refresh_apiserver_clients : run right after kube-apiserver (re)started. Stops, in parallel, the
# clients that are older than it: kube-controller-manager and kube-scheduler (started again by
# start_controllers), kwok and the PV provisioner of platform/storage.sh (started again here with
# their own command line). kube-proxy is left to ensure_daemon in start_proxy (same rule), so that
# it is not down while `up` waits for the kubelet.
refresh_apiserver_clients() {
  local name names=() pids=() argv=()
  for name in k8s-controller-manager k8s-scheduler k8s-kwok local-path-provisioner; do
    older_than_apiserver "$name" && names+=("$name")
  done
  (( ${#names[@]} > 0 )) || return 0
  log "kube-apiserver (pid $(cat "$RUN/k8s-apiserver.pid")) is newer than ${names[*]}: restarting them so their informers start fresh"
  for name in "${names[@]}"; do
    case "$name" in k8s-kwok|local-path-provisioner) cat "/proc/$(cat "$RUN/$name.pid")/cmdline" > "$RUN/$name.argv" 2>/dev/null || true ;; esac
    stop_daemon "$name" & pids+=($!)
  done
  wait "${pids[@]}"   # only these: the daemons start_daemon started are jobs of this shell too
  for name in k8s-kwok local-path-provisioner; do
    [[ -s "$RUN/$name.argv" ]] || continue
    mapfile -d '' -t argv < "$RUN/$name.argv"
    rm -f "$RUN/$name.argv"
    start_daemon "$name" "${argv[@]}"
  done
}

# poll <deadline (a $SECONDS value)> cmd... : bounded poll, 0.5 s interval; 1 once the deadline passed.
poll() {
  local deadline="$1"; shift
  until "$@" >/dev/null 2>&1; do (( SECONDS < deadline )) || return 1; sleep 0.5; done
}
node_ready() {
  [[ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
pod_bound() { [[ -n "$(kc -n "$1" get pod "$2" -o jsonpath='{.spec.nodeName}')" ]]; }

# controllers_working <timeout-s> : cheap proof that the controllers act on fresh watch events: in a
# new namespace kube-controller-manager creates ServiceAccount default (serviceaccount controller)
# and ConfigMap kube-root-ca.crt (root-ca publisher); kube-scheduler binds a pod there to a node;
# the node is Ready. Pod and namespace are deleted afterwards.
controllers_working() {
  local deadline=$((SECONDS + $1)) ns failed=""
  ns="apiserver-restart-probe-$(date +%s)-$RANDOM"
  curl -fsSk --max-time 3 https://127.0.0.1:10257/healthz >/dev/null 2>&1 || failed="kube-controller-manager /healthz"
  [[ -n "$failed" ]] || curl -fsSk --max-time 3 https://127.0.0.1:10259/healthz >/dev/null 2>&1 || failed="kube-scheduler /healthz"
  [[ -n "$failed" ]] || kc create namespace "$ns" >/dev/null || failed="namespace $ns created"
  [[ -n "$failed" ]] || poll "$deadline" kc -n "$ns" get serviceaccount default || failed="ServiceAccount $ns/default (kube-controller-manager)"
  [[ -n "$failed" ]] || poll "$deadline" kc -n "$ns" get configmap kube-root-ca.crt || failed="ConfigMap $ns/kube-root-ca.crt (kube-controller-manager)"
  if [[ -z "$failed" ]]; then
    kc -n "$ns" apply -f - >/dev/null <<EOF || failed="pod $ns/probe created"
apiVersion: v1
kind: Pod
metadata: {name: probe}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers: [{name: pause, image: $PAUSE_IMAGE, imagePullPolicy: Never}]
EOF
  fi
  [[ -n "$failed" ]] || poll "$deadline" pod_bound "$ns" probe || failed="pod $ns/probe bound to a node (kube-scheduler)"
  [[ -n "$failed" ]] || poll "$deadline" node_ready || failed="node $NODE_NAME Ready"
  # Bound is all that is checked: force-deleted, so the namespace does not wait for the kubelet.
  kc -n "$ns" delete pod probe --grace-period=0 --force >/dev/null 2>&1 || true
  kc delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  [[ -z "$failed" ]] || die "controllers not working $1 s after the API server restart: no $failed"
}

# restart-apiserver --down <seconds> : fault injection for end-to-end tests. Stops kube-apiserver
# (stop_daemon: TERM, KILL after 20 s), keeps it down, starts it exactly as `up` does
# (start_apiserver, which waits for /readyz), restarts the clients that lived through the outage
# (kube-controller-manager, kube-scheduler, kube-proxy; kwok and the PV provisioner if running),
# then waits at most 60 s until the controllers demonstrably work. Last line on stdout: timings.
cmd_restart_apiserver() {
  local usage="usage: cluster.sh restart-apiserver --down <seconds> (0..600)" down=""
  while (( $# > 0 )); do
    case "$1" in
      --down) (( $# >= 2 )) || die "$usage"; down="$2"; shift 2 ;;
      --down=*) down="${1#--down=}"; shift ;;
      *) die "$usage" ;;
    esac
  done
  [[ "$down" =~ ^[0-9]+$ ]] && (( down <= 600 )) || die "$usage"
  pid_alive k8s-apiserver || die "kube-apiserver is not running: run platform/cluster.sh up"
  local t0=$SECONDS
  log "stopping kube-apiserver (pid $(cat "$RUN/k8s-apiserver.pid"))"
  stop_daemon k8s-apiserver
  local stopped=$SECONDS
  log "kube-apiserver stopped after $((stopped - t0))s; keeping it down for ${down}s"
  sleep "$down"
  local started=$SECONDS
  start_apiserver
  local ready=$SECONDS
  refresh_apiserver_clients
  start_controllers
  start_proxy
  controllers_working 60
  log "controllers working again $((SECONDS - ready))s after kube-apiserver /readyz"
  echo "apiserver down ${down}s, ready again after $((ready - started))s (stop took $((stopped - t0))s; controllers working after $((SECONDS - started))s)"
}

# ---------------------------------------------------------------- teardown
# Kill containerd shims of our instance only (their command line names our socket).
kill_our_shims() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -- "-address $CTR_SOCK" >/dev/null && kill -9 "${p#/proc/}" 2>/dev/null || true
  done
}

unmount_under() { # unmount everything mounted below $1, deepest first
  local m
  for m in $(awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

# Remove rules jumping to (and then the) chains named KUBE-*, CNI-* or ours, in every table.
cleanup_iptables() {
  local table line chain
  for table in filter nat mangle raw; do
    { iptables-save -t "$table" 2>/dev/null | grep -E '^-A .* -j (KUBE-|CNI-|'"$FWD_CHAIN"')' || true; } | while read -r line; do
      eval "iptables -w 5 -t $table -D ${line#-A }" 2>/dev/null || true
    done
    for chain in $(iptables-save -t "$table" 2>/dev/null | grep -oE '^:(KUBE-|CNI-|'"$FWD_CHAIN"')[^ ]*' | tr -d ':'); do
      iptables -w 5 -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables-save -t "$table" 2>/dev/null | grep -oE '^:(KUBE-|CNI-|'"$FWD_CHAIN"')[^ ]*' | tr -d ':'); do
      iptables -w 5 -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

cmd_down() {
  local t0=$SECONDS
  stop_daemon k8s-kwok
  stop_daemon k8s-proxy
  [[ -x "$BIN/kube-proxy" ]] && timeout 60 kube-proxy --cleanup >>"$LOGS/k8s-proxy.log" 2>&1 || true
  stop_daemon k8s-kubelet
  if pid_alive k8s-containerd; then
    log "removing pod sandboxes (CNI teardown)"
    [[ -f "$K8S/crictl.yaml" ]] || write_configs
    timeout 120 crictl_ rmp -af >>"$LOGS/k8s-containerd.log" 2>&1 || log "warning: crictl rmp failed (see $LOGS/k8s-containerd.log); killing shims"
  fi
  stop_daemon k8s-containerd
  kill_our_shims
  stop_daemon k8s-scheduler
  stop_daemon k8s-controller-manager
  stop_daemon k8s-apiserver
  stop_daemon k8s-etcd
  # Network namespaces of pods that were not torn down through CRI.
  # Pod network namespaces left behind (normally removed by `crictl rmp` above): CRI names them
  # /run/netns/cni-*; ours are those holding an address of our pod range.
  local ns
  for ns in /run/netns/cni-*; do
    [[ -e "$ns" ]] || continue
    if ip netns exec "$(basename "$ns")" ip -o addr show 2>/dev/null | grep "inet ${POD_CIDR%.*}\." >/dev/null; then
      ip netns delete "$(basename "$ns")" 2>/dev/null || { umount "$ns" 2>/dev/null; rm -f "$ns"; }
    fi
  done
  unmount_under "$K8S"
  unmount_under "$RUN/runc"
  cleanup_iptables
  restore_sysctls
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE" || true
  rm -rf "$K8S" "$(dirname "$CTR_SOCK")" "$RUN/runc" "$KUBECONFIG_ADMIN" "$RUN"/k8s-*.confsum
  log "cluster down in $((SECONDS - t0))s (logs kept in $LOGS/k8s-*.log)"
}

cmd_status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if pid_alive "$d"; then echo "$d: running (pid $(cat "$RUN/$d.pid"))"
    elif [[ "$d" == k8s-kwok ]]; then echo "$d: not running (optional: cluster.sh kwok up N)"
    else echo "$d: stopped"; rc=1; fi
  done
  if [[ -s "$KUBECONFIG_ADMIN" ]] && kc get --raw /readyz >/dev/null 2>&1; then
    kc get nodes -o wide
    kc get pods -A -o wide
  else
    echo "apiserver: not answering"; rc=1
  fi
  return $rc
}

cmd_import_image() {
  [[ -s "${1:-}" ]] || die "usage: cluster.sh import-image FILE (docker save / OCI archive)"
  ctr_ images import "$1"
}

# ---------------------------------------------------------------- kwok (simulated nodes)
# kwok fakes nodes labelled type=kwok (tainted kwok.x-k8s.io/node=fake:NoSchedule); pods that
# tolerate the taint and select type=kwok are "run" by kwok, everything else (scheduler,
# StatefulSet controller, ...) is real. Fake pod IPs come from $KWOK_POD_CIDR.
cmd_kwok() {
  local action="${1:-}" n="${2:-5}"
  case "$action" in
    up)
      [[ "$n" =~ ^[0-9]+$ ]] && (( n >= 1 && n <= 1000 )) || die "usage: cluster.sh kwok up N (1..1000)"
      pid_alive k8s-apiserver || die "cluster is not up"
      local src="$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
      [[ -d "$src" ]] || (cd "$REPO_ROOT/platform/k8s/kwok" && go mod download sigs.k8s.io/kwok)
      mkdir -p "$K8S/kwok"
      local f; for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
          pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
        cat "$src/$f"; echo "---"
      done > "$K8S/kwok/stages.yaml"
      ensure_daemon k8s-kwok - kwok --config="$K8S/kwok/stages.yaml" --kubeconfig="$KUBECONFIG_ADMIN" \
        --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
        --cidr="$KWOK_POD_CIDR" --node-ip="$KWOK_NODE_IP" --node-lease-duration-seconds=40 ${KWOK_EXTRA_ARGS:-}
      local i
      for i in $(seq 0 $((n - 1))); do
        cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
spec:
  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
---
EOF
      done | kc apply -f - >/dev/null
      await 120 "$n kwok nodes Ready" k8s-kwok bash -c \
        "[[ \$(kubectl --kubeconfig '$KUBECONFIG_ADMIN' get nodes -l type=kwok --no-headers | grep -cw Ready) -ge $n ]]"
      log "kwok: $n fake nodes (label type=kwok, taint kwok.x-k8s.io/node=fake:NoSchedule)"
      ;;
    down)
      stop_daemon k8s-kwok
      pid_alive k8s-apiserver && kc delete nodes -l type=kwok --wait=false >/dev/null 2>&1 || true
      log "kwok stopped, fake nodes deleted"
      ;;
    *) die "usage: cluster.sh kwok up [N]|down" ;;
  esac
}

# ---------------------------------------------------------------- smoke test
cmd_smoke() {
  local ns=sts-smoke t0=$SECONDS
  export KUBECONFIG="$KUBECONFIG_ADMIN"
  kc delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null
  kc create namespace "$ns" >/dev/null
  await 60 "service account $ns/default" - kubectl --kubeconfig "$KUBECONFIG_ADMIN" -n "$ns" get serviceaccount default
  log "smoke: a plain pod"
  kc -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo hello from \$(hostname) on \$(cat /proc/1/cgroup | head -1); sleep 3600"]
EOF
  kc -n "$ns" wait --for=condition=Ready pod/hello --timeout=120s >&2
  kc -n "$ns" logs hello >&2

  log "smoke: StatefulSet web (3 replicas) + NodePort service"
  sts_manifest() { # version partition
    cat <<EOF
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {partition: $2}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: $BUSYBOX_IMAGE
        imagePullPolicy: Never
        env: [{name: VERSION, value: "$1"}]
        command: ["sh", "-c", "mkdir -p /www && echo \"\$(hostname) \$VERSION\" > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080, name: http}]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 2
EOF
  }
  kc -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-nodeport}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, name: http}]
EOF
  sts_manifest v1 0 | kc -n "$ns" apply -f - >/dev/null
  kc -n "$ns" rollout status statefulset/web --timeout=180s >&2
  log "smoke: partitioned update (partition=2: only web-2 gets v2)"
  sts_manifest v2 2 | kc -n "$ns" apply -f - >/dev/null
  local out; out=$(kc -n "$ns" rollout status statefulset/web --timeout=180s 2>&1) || { echo "$out" >&2; die "rollout failed"; }
  echo "$out" >&2
  grep -q "partitioned roll out complete" <<<"$out" || die "expected 'partitioned roll out complete'"
  local upd cur
  upd=$(kc -n "$ns" get sts web -o jsonpath='{.status.updateRevision}')
  cur=$(kc -n "$ns" get sts web -o jsonpath='{.status.currentRevision}')
  kc -n "$ns" get pods -l app=web -L controller-revision-hash -o wide >&2
  [[ "$(kc -n "$ns" get pod web-2 -o jsonpath='{.metadata.labels.controller-revision-hash}')" == "$upd" ]] || die "web-2 not on update revision"
  [[ "$(kc -n "$ns" get pod web-0 -o jsonpath='{.metadata.labels.controller-revision-hash}')" == "$cur" ]] || die "web-0 not on current revision"

  local port; port=$(kc -n "$ns" get svc web-nodeport -o jsonpath='{.spec.ports[0].nodePort}')
  log "smoke: curl http://127.0.0.1:$port/ (NodePort)"
  local i body="" seen=""
  for i in $(seq 1 30); do
    body=$(curl -fsS --max-time 3 "http://127.0.0.1:$port/" 2>/dev/null) && { seen+="$body"$'\n'; [[ $(sort -u <<<"$seen" | grep -c web-) -ge 2 || $i -ge 12 ]] && break; }
    sleep 1
  done
  [[ -n "$seen" ]] || die "NodePort 127.0.0.1:$port did not answer"
  sort -u <<<"$seen" | sed '/^$/d;s/^/    answered: /' >&2
  if [[ "${1:-}" != "--keep" ]]; then kc delete namespace "$ns" --wait=false >/dev/null; fi
  log "smoke: all passed in $((SECONDS - t0))s"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kubeconfig) echo "$KUBECONFIG_ADMIN" ;;
  smoke) shift; cmd_smoke "$@" ;;
  kwok) shift; cmd_kwok "$@" ;;
  import-image) shift; cmd_import_image "$@" ;;
  restart-apiserver) shift; cmd_restart_apiserver "$@" ;;
  *) echo "usage: $0 up|down|status|kubeconfig|smoke [--keep]|import-image FILE|kwok up [N]|kwok down|restart-apiserver --down SECONDS" >&2; exit 2 ;;
esac
