#!/usr/bin/env bash
# Dynamic PersistentVolumes for the local cluster: rancher/local-path-provisioner (built from the Go
# module proxy by platform/build-k8s.sh), run as a platform daemon OUTSIDE the cluster (pods cannot
# reach the API server, which listens on 127.0.0.1 only), with the admin kubeconfig.
#
#   platform/storage.sh up       needs cluster.sh up and base-image.sh up; idempotent (~1-2 s warm)
#   platform/storage.sh down     stop the provisioner, delete the StorageClass and its namespace
#   platform/storage.sh status   daemon, StorageClass, PersistentVolumes
#   platform/storage.sh verify   PVC + pod writes a file -> PV Bound, file on the node; delete the
#                                PVC -> PV and directory gone (namespace storage-test, removed after)
#
# How it works (see platform/k8s/README.md, "Persistent volumes"):
#   - StorageClass `local-path` (default class): provisioner rancher.io/local-path, reclaimPolicy
#     Delete, volumeBindingMode WaitForFirstConsumer (the scheduler picks the node first; the
#     provisioner reads it from the PVC's volume.kubernetes.io/selected-node annotation).
#   - For each PVC the provisioner creates a helper pod in namespace local-path-storage on the chosen
#     node that runs the `setup` script of ConfigMap local-path-config (mkdir -m 0777 $VOL_DIR),
#     then a hostPath PV $STORAGE_DIR/<pv>_<namespace>_<pvc> with node affinity. Deleting the PVC
#     deletes the PV (reclaimPolicy Delete) after a helper pod ran `teardown` (rm -rf $VOL_DIR).
#   - Helper pods use the nginx base image (Debian rootfs: sh, mkdir, rm), imported into the node's
#     containerd from docker, imagePullPolicy Never (nothing is pulled).
#   - Config files (read by the provisioner; restarted when they change): $CONF_DIR/config.json
#     (nodePathMap: node sts-canary-node -> $STORAGE_DIR) and $CONF_DIR/helperPod.yaml.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/platform/k8s/versions.sh"
P="$REPO_ROOT/platform"

NAME=local-path-provisioner                  # daemon: $RUN/$NAME.pid, $LOGS/$NAME.log
PROVISIONER=rancher.io/local-path
CLASS=local-path
NS=local-path-storage
CONFIGMAP=local-path-config
SERVICE_ACCOUNT=local-path-provisioner-service-account
NODE_NAME="${STS_CANARY_NODE_NAME:-sts-canary-node}"
STORAGE_DIR="$STATE/local-path"              # the volumes (hostPath directories on the node)
CONF_DIR="$STATE/storage"                    # config.json, helperPod.yaml
KUBECONFIG_ADMIN="$STATE/kubeconfig"
PROVISIONER_BIN="$CACHE/tools/local-path-provisioner/$LOCAL_PATH_VERSION/local-path-provisioner"
CRICTL_CONFIG="$STATE/k8s/crictl.yaml"       # written by cluster.sh (socket of the node's containerd)
TEST_NS=storage-test
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"

kc() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
api_answers() { [[ -s "$KUBECONFIG_ADMIN" ]] && kc get --raw /readyz >/dev/null 2>&1; }

# put_file <path> : write stdin to path only if the content differs.
put_file() {
  local tmp="$1.tmp.$$"
  cat > "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

# Provisioner processes of this $STATE that no pid file tracks (e.g. $STATE wiped while it ran).
strays() {
  local p cmd tracked=""
  [[ -f "$RUN/$NAME.pid" ]] && tracked=$(cat "$RUN/$NAME.pid")
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null < "$p/cmdline") || continue
    case "$cmd" in
      *"local-path-provisioner start --kubeconfig $KUBECONFIG_ADMIN "*) [[ "${p#/proc/}" == "$tracked" ]] || echo "${p#/proc/}" ;;
    esac
  done
}

helper_image() { "$P/base-image.sh" name; }

# The helper image must be in the node's containerd (k8s.io namespace); pods use imagePullPolicy Never.
ensure_helper_image() {
  local img="$1"
  [[ -s "$CRICTL_CONFIG" ]] || die "$CRICTL_CONFIG missing: run platform/cluster.sh up first"
  if crictl --config "$CRICTL_CONFIG" inspecti "$img" >/dev/null 2>&1; then
    log "helper image $img: present in the node's containerd"
    return 0
  fi
  docker image inspect "$img" >/dev/null 2>&1 || "$P/base-image.sh" up >/dev/null
  local tmp; tmp=$(mktemp -p "$STATE" helper-image.XXXXXX.tar)
  step "import helper image $img into the node's containerd" \
    bash -c 'docker save -o "$1" "$2" && "$3" import-image "$1"' _ "$tmp" "$img" "$P/cluster.sh"
  rm -f "$tmp"
  crictl --config "$CRICTL_CONFIG" inspecti "$img" >/dev/null 2>&1 || die "$img not visible to the kubelet after import"
}

write_config() {
  local img="$1"
  mkdir -p "$CONF_DIR" "$STORAGE_DIR"
  # Volumes are only provisioned on the real node (kwok nodes have no disk): a PVC whose pod lands
  # on another node fails with "config doesn't contain node ...".
  put_file "$CONF_DIR/config.json" <<EOF
{
  "nodePathMap": [
    {"node": "$NODE_NAME", "paths": ["$STORAGE_DIR"]}
  ],
  "cmdTimeoutSeconds": 120
}
EOF
  # The provisioner adds: nodeName, the hostPath volume of the parent directory, the script volume
  # (ConfigMap $CONFIGMAP keys setup/teardown), command, args, VOL_DIR/VOL_MODE/VOL_SIZE_BYTES,
  # serviceAccountName, restartPolicy Never, a toleration for every taint. v0.0.30 ignores its
  # --helper-image flag: the image comes from this template.
  put_file "$CONF_DIR/helperPod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: helper-pod
    image: $img
    imagePullPolicy: Never
EOF
}

apply_objects() {
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: $SERVICE_ACCOUNT
  namespace: $NS
automountServiceAccountToken: false
---
# Only setup/teardown are read from here (mounted into the helper pods at /script); the provisioner
# itself runs outside the cluster and reads $CONF_DIR/config.json and helperPod.yaml.
apiVersion: v1
kind: ConfigMap
metadata:
  name: $CONFIGMAP
  namespace: $NS
data:
  setup: |-
    #!/bin/sh
    set -eu
    mkdir -m 0777 -p "\$VOL_DIR"
  teardown: |-
    #!/bin/sh
    set -eu
    rm -rf "\$VOL_DIR"
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: $PROVISIONER
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
EOF
}

start_provisioner() {
  local img="$1"
  local args=(start --kubeconfig "$KUBECONFIG_ADMIN"
    --config "$CONF_DIR/config.json" --helper-pod-file "$CONF_DIR/helperPod.yaml"
    --provisioner-name "$PROVISIONER" --namespace "$NS" --configmap-name "$CONFIGMAP"
    --service-account-name "$SERVICE_ACCOUNT" --helper-image "$img")
  local sum; sum=$({ cat "$CONF_DIR/config.json" "$CONF_DIR/helperPod.yaml"; echo "$PROVISIONER_BIN ${args[*]}"; } | sha256sum | cut -c1-16)
  if pid_alive "$NAME" && [[ "$(cat "$RUN/$NAME.confsum" 2>/dev/null)" == "$sum" ]]; then
    log "$NAME already running (pid $(cat "$RUN/$NAME.pid"))"
    return 0
  fi
  if pid_alive "$NAME"; then log "$NAME: configuration changed, restarting"; stop_daemon "$NAME"; fi
  local from=1; [[ ! -f "$LOGS/$NAME.log" ]] || from=$(( $(wc -l < "$LOGS/$NAME.log") + 1 ))
  start_daemon "$NAME" "$PROVISIONER_BIN" "${args[@]}"
  echo "$sum" > "$RUN/$NAME.confsum"
  local deadline=$((SECONDS + 60))
  until tail -n +"$from" "$LOGS/$NAME.log" | grep 'Started provisioner controller' >/dev/null; do
    if ! pid_alive "$NAME"; then tail -n 20 "$LOGS/$NAME.log" >&2; die "$NAME exited (log: $LOGS/$NAME.log)"; fi
    (( SECONDS < deadline )) || { tail -n 20 "$LOGS/$NAME.log" >&2; die "$NAME did not start its controller in 60 s"; }
    sleep 0.5
  done
}

cmd_up() {
  local t0=$SECONDS
  api_answers || die "the cluster's API server does not answer: run platform/cluster.sh up first"
  if [[ ! -x "$PROVISIONER_BIN" ]]; then "$P/build-k8s.sh" --no-apt; fi
  [[ -x "$PROVISIONER_BIN" ]] || die "$PROVISIONER_BIN missing after build-k8s.sh"
  local s; s=$(strays)
  # shellcheck disable=SC2086  # one pid per word
  if [[ -n "$s" ]]; then log "stopping untracked $NAME: ${s//$'\n'/ }"; kill $s 2>/dev/null || true; sleep 1; fi
  local img; img=$(helper_image)
  ensure_helper_image "$img"
  write_config "$img"
  # a `down` that did not wait leaves the namespace Terminating: objects applied now would vanish
  if [[ "$(kc get namespace "$NS" -o jsonpath='{.status.phase}' 2>/dev/null)" == Terminating ]]; then
    log "namespace $NS is being deleted; waiting"
    kc wait --for=delete namespace/"$NS" --timeout=120s >/dev/null
  fi
  apply_objects
  start_provisioner "$img"
  local others; others=$(kc get storageclass -o jsonpath='{range .items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")]}{.metadata.name}{" "}{end}')
  [[ "$others" == "$CLASS " ]] || log "warning: default StorageClasses: $others(expected only $CLASS)"
  log "storage up in $((SECONDS - t0))s: StorageClass $CLASS (default, $PROVISIONER, Delete, WaitForFirstConsumer) -> $STORAGE_DIR"
}

cmd_down() {
  stop_daemon "$NAME"
  # shellcheck disable=SC2086  # one pid per word
  local s; s=$(strays); [[ -z "$s" ]] || kill $s 2>/dev/null || true
  rm -f "$RUN/$NAME.confsum"
  if api_answers; then
    local pvs; pvs=$(kc get pv -o jsonpath="{range .items[?(@.spec.storageClassName==\"$CLASS\")]}{.metadata.name}{\" \"}{end}")
    [[ -z "$pvs" ]] || log "warning: PersistentVolumes of $CLASS remain (their data stays in $STORAGE_DIR): $pvs"
    kc delete storageclass "$CLASS" --ignore-not-found >/dev/null
    kc delete namespace "$NS" --ignore-not-found --wait=true --timeout=120s >/dev/null \
      || log "warning: namespace $NS not deleted within 120 s"
  fi
  rm -rf "$CONF_DIR"
  rmdir "$STORAGE_DIR" 2>/dev/null || true     # kept when volumes remain; down.sh removes $STATE
  log "storage down"
}

cmd_status() {
  local rc=0
  if pid_alive "$NAME"; then echo "$NAME: running (pid $(cat "$RUN/$NAME.pid")), volumes in $STORAGE_DIR"
  else echo "$NAME: stopped"; rc=1; fi
  if api_answers; then
    kc get storageclass "$CLASS" 2>/dev/null || { echo "StorageClass $CLASS: missing"; rc=1; }
    kc get pv 2>&1 | sed 's/^/  /'
  else
    echo "apiserver: not answering"; rc=1
  fi
  return $rc
}

cmd_verify() {
  local t0=$SECONDS
  pid_alive "$NAME" || die "$NAME is not running: run $0 up"
  kc delete namespace "$TEST_NS" --ignore-not-found --wait=true --timeout=120s >/dev/null
  kc create namespace "$TEST_NS" >/dev/null
  trap 'kc delete namespace "'"$TEST_NS"'" --ignore-not-found --wait=false >/dev/null 2>&1 || true' EXIT
  wait_until 60 "service account $TEST_NS/default" kc -n "$TEST_NS" get serviceaccount default
  kc -n "$TEST_NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: writer
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo written-by-\$(hostname) > /data/hello.txt && sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
EOF
  local phase; phase=$(kc -n "$TEST_NS" get pvc data -o jsonpath='{.status.phase}')
  log "verify: PVC data is $phase before its pod is scheduled (WaitForFirstConsumer)"
  kc -n "$TEST_NS" wait --for=condition=Ready pod/writer --timeout=180s >/dev/null \
    || { kc -n "$TEST_NS" describe pod writer pvc data >&2; tail -n 20 "$LOGS/$NAME.log" >&2; die "pod writer not Ready"; }
  local pv path class
  pv=$(kc -n "$TEST_NS" get pvc data -o jsonpath='{.spec.volumeName}')
  [[ "$(kc -n "$TEST_NS" get pvc data -o jsonpath='{.status.phase}')" == Bound ]] || die "PVC data not Bound"
  [[ "$(kc get pv "$pv" -o jsonpath='{.status.phase}')" == Bound ]] || die "PV $pv not Bound"
  class=$(kc get pv "$pv" -o jsonpath='{.spec.storageClassName}')
  path=$(kc get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
  kc get pv "$pv" >&2
  [[ "$class" == "$CLASS" && "$path" == "$STORAGE_DIR/${pv}_${TEST_NS}_data" ]] || die "unexpected PV: class=$class path=$path"
  wait_until 30 "$path/hello.txt" test -s "$path/hello.txt"
  log "verify: PV $pv Bound, $path/hello.txt = '$(cat "$path/hello.txt")' (mode $(stat -c %a "$path"))"
  kc -n "$TEST_NS" delete pod writer --wait=true --timeout=60s >/dev/null
  kc -n "$TEST_NS" delete pvc data --wait=true --timeout=60s >/dev/null
  wait_until 120 "PV $pv deleted" bash -c "! kubectl --kubeconfig '$KUBECONFIG_ADMIN' get pv '$pv' >/dev/null 2>&1"
  [[ ! -e "$path" ]] || die "$path still exists after the PV was deleted"
  log "verify: PVC deleted -> PV $pv and $path removed"
  kc delete namespace "$TEST_NS" --wait=true --timeout=120s >/dev/null
  trap - EXIT
  log "verify ok in $((SECONDS - t0))s"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  verify) cmd_verify ;;
  *) echo "usage: $0 up|down|status|verify" >&2; exit 2 ;;
esac
