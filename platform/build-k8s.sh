#!/usr/bin/env bash
# Build (or reuse from $CACHE) everything the local Kubernetes cluster needs:
#   - kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl
#     from k8s.io/kubernetes via the wrapper module platform/k8s/kube
#   - etcd from go.etcd.io/etcd/server/v3 via platform/k8s/etcd
#   - kwok (node simulator) via platform/k8s/kwok, crictl via platform/k8s/crictl
#   - local-path-provisioner (dynamic PersistentVolumes, run by platform/storage.sh) via platform/k8s/local-path
#   - the pause (pod sandbox) binary from platform/k8s/pause, and the local OCI images
#     sts-canary.local/pause and sts-canary.local/busybox (platform/k8s/oci-image.py)
#   - Debian packages for the node: containerd, runc, CNI plugins, iptables, conntrack, ...
# Idempotent: binaries are cached in $CACHE/tools/<name>/<version>/ keyed by a stamp of the
# wrapper go.mod/go.sum and build flags, and linked into $BIN.
# Usage: platform/build-k8s.sh [--no-apt]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source "$REPO_ROOT/platform/k8s/versions.sh"
K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
MODS="$REPO_ROOT/platform/k8s"

export CGO_ENABLED=0
# A whole cold build must fit CI's budget on 2 cores: no DWARF/symbols (faster link, smaller).
GO_BUILD_FLAGS=(-trimpath -buildvcs=false)

# The wrapper modules must agree with the versions above.
grep -q "k8s.io/kubernetes $K8S_VERSION\$" "$MODS/kube/go.mod" || die "platform/k8s/kube/go.mod does not require k8s.io/kubernetes $K8S_VERSION"
grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$MODS/etcd/go.mod" || die "platform/k8s/etcd/go.mod does not require etcd $ETCD_VERSION"
grep -q "sigs.k8s.io/kwok $KWOK_VERSION\$" "$MODS/kwok/go.mod" || die "platform/k8s/kwok/go.mod does not require kwok $KWOK_VERSION"
grep -q "sigs.k8s.io/cri-tools $CRICTL_VERSION\$" "$MODS/crictl/go.mod" || die "platform/k8s/crictl/go.mod does not require cri-tools $CRICTL_VERSION"
grep -q "github.com/rancher/local-path-provisioner $LOCAL_PATH_VERSION\$" "$MODS/local-path/go.mod" || die "platform/k8s/local-path/go.mod does not require local-path-provisioner $LOCAL_PATH_VERSION"

# stamp <module dir> <extra> : hash of what decides the build output.
stamp() {
  { cat "$1"/go.mod "$1"/*.go; [[ ! -f "$1/go.sum" ]] || cat "$1/go.sum"
    echo "$2 $(go version) ${GO_BUILD_FLAGS[*]} CGO=$CGO_ENABLED"; } | sha256sum | cut -c1-16
}

# link_bins <dir> names... : symlink cached binaries into $BIN.
link_bins() { local d="$1"; shift; for b in "$@"; do ln -sfn "$d/$b" "$BIN/$b"; done; }

# report_trace <trace.json> : per-binary link timings from `go build -debug-trace`.
report_trace() {
  python3 - "$1" <<'PY' >&2 || true
import json, sys, re
ev = json.load(open(sys.argv[1]))
t0 = min(e["ts"] for e in ev if "ts" in e)
begin = {}
rows = []
for e in ev:
    m = re.match(r"Executing action \(link (.+)\)$", e.get("name", ""))
    if not m or e.get("ph") not in ("B", "E"):
        continue
    if e["ph"] == "B":
        begin[m.group(1)] = e["ts"]
    elif m.group(1) in begin:
        rows.append((e["ts"], m.group(1).rsplit("/", 1)[-1], e["ts"] - begin[m.group(1)]))
for end, name, dur in sorted(rows):
    print(f"    {name:<26} ready at {(end - t0) / 1e6:7.1f}s (link {dur / 1e6:5.1f}s)")
PY
}

build_kubernetes() {
  local key; key=$(stamp "$MODS/kube" "$K8S_VERSION providerless")
  local out="$CACHE/tools/kubernetes/$K8S_VERSION"
  if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$key" ]] && for b in "${K8S_BINS[@]}"; do [[ -x "$out/$b" ]] || exit 1; done; then
    log "kubernetes $K8S_VERSION: cached in $out"
  else
    rm -rf "$out.tmp"; mkdir -p "$out.tmp"
    local major=${K8S_VERSION#v}; major=${major%%.*}
    local minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
    local date; date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    local ld="-s -w" p
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
      ld+=" -X $p.gitTreeState=clean -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=$date"
    done
    local pkgs=(); for b in "${K8S_BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    local t=$SECONDS
    # One invocation: the six commands share most packages, and links run in parallel.
    step "go build kubernetes $K8S_VERSION (${K8S_BINS[*]})" \
      bash -c 'cd "$0" && exec go build -v "${@:4}" -tags providerless -ldflags "$1" -debug-trace="$2" -o "$3/" '"${pkgs[*]}" \
      "$MODS/kube" "$ld" "$out.tmp/.trace.json" "$out.tmp" "${GO_BUILD_FLAGS[@]}"
    log "kubernetes $K8S_VERSION built in $((SECONDS - t))s; per binary (time since build start):"
    report_trace "$out.tmp/.trace.json"
    rm -f "$out.tmp/.trace.json"
    echo "$key" > "$out.tmp/.stamp"
    rm -rf "$out"; mv "$out.tmp" "$out"
  fi
  link_bins "$out" "${K8S_BINS[@]}"
}

# build_tool <name> <version> <module dir> <package> [ldflags] : one static binary named <name>.
build_tool() {
  local name="$1" version="$2" mod="$MODS/$3" pkg="$4" ld="-s -w${5:+ $5}"
  local key; key=$(stamp "$mod" "$version${5:+ $5}")   # (unchanged keys for tools without extra ldflags)
  local out="$CACHE/tools/$name/$version"
  if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$key" && -x "$out/$name" ]]; then
    log "$name $version: cached in $out"
  else
    rm -rf "$out.tmp"; mkdir -p "$out.tmp"
    local t=$SECONDS
    step "go build $name $version" \
      bash -c 'cd "$0" && exec go build -v "${@:4}" -ldflags "$3" -o "$1" "$2"' \
      "$mod" "$out.tmp/$name" "$pkg" "$ld" "${GO_BUILD_FLAGS[@]}"
    log "$name $version built in $((SECONDS - t))s"
    echo "$key" > "$out.tmp/.stamp"
    rm -rf "$out"; mv "$out.tmp" "$out"
  fi
  link_bins "$out" "$name"
}

# Local images (no registry is reachable): the pod sandbox image from our pause binary,
# and a busybox-static image for smoke tests. OCI archives in $CACHE/images, imported into
# the cluster's containerd by cluster.sh (regenerated if missing).
build_images() {
  local dir="$CACHE/images/k8s" tmp
  mkdir -p "$dir"
  local pause_key; pause_key=$(sha256sum "$CACHE/tools/pause/$PAUSE_VERSION/pause" "$MODS/oci-image.py" | sha256sum | cut -c1-16)
  if [[ ! -s "$dir/pause.tar" || "$(cat "$dir/pause.stamp" 2>/dev/null)" != "$pause_key" ]]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs"
    cp "$CACHE/tools/pause/$PAUSE_VERSION/pause" "$tmp/rootfs/pause"
    python3 "$MODS/oci-image.py" --rootfs "$tmp/rootfs" --ref "$PAUSE_IMAGE" --entrypoint '["/pause"]' --out "$dir/pause.tar" >&2
    echo "$pause_key" > "$dir/pause.stamp"; rm -rf "$tmp"
  fi
  local bb=/bin/busybox
  local bb_key; bb_key=$(sha256sum "$bb" "$MODS/oci-image.py" | sha256sum | cut -c1-16)
  if [[ ! -s "$dir/busybox.tar" || "$(cat "$dir/busybox.stamp" 2>/dev/null)" != "$bb_key" ]]; then
    tmp=$(mktemp -d); local r="$tmp/rootfs"
    mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/var/www" "$r/root"
    cp "$bb" "$r/bin/busybox"
    local applet
    for applet in $("$bb" --list); do [[ "$applet" == busybox ]] || ln -s busybox "$r/bin/$applet"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' > "$r/etc/group"
    chmod 1777 "$r/tmp"
    python3 "$MODS/oci-image.py" --rootfs "$r" --ref "$BUSYBOX_IMAGE" --cmd '["/bin/sh"]' --out "$dir/busybox.tar" >&2
    echo "$bb_key" > "$dir/busybox.stamp"; rm -rf "$tmp"
  fi
  log "images: $PAUSE_IMAGE ($dir/pause.tar), $BUSYBOX_IMAGE ($dir/busybox.tar)"
}

install_node_packages() {
  # containerd 1.6 (CRI v1) + runc; CNI plugins (bridge, host-local, loopback, portmap) in
  # /usr/lib/cni; iptables/conntrack/ipset for kube-proxy; busybox-static for the pause and
  # smoke-test images; openssl for certificates; curl for health checks.
  apt_install containerd runc containernetworking-plugins iptables conntrack ipset socat \
    busybox-static openssl curl iproute2 kmod python3
}

# One build at a time: concurrent runs (up.sh, cluster.sh up, storage.sh up) would share $out.tmp.
mkdir -p "$CACHE/tools"
exec 9>"$CACHE/tools/.build-k8s.lock"
flock -w 1800 9 || die "another build-k8s.sh holds $CACHE/tools/.build-k8s.lock"

total=$SECONDS
[[ "${1:-}" == "--no-apt" ]] || install_node_packages
build_tool pause "$PAUSE_VERSION" pause sts-canary.local/platform/k8s/pause
build_images
build_tool etcd "$ETCD_VERSION" etcd go.etcd.io/etcd/server/v3
build_tool crictl "$CRICTL_VERSION" crictl sigs.k8s.io/cri-tools/cmd/crictl
build_tool kwok "$KWOK_VERSION" kwok sigs.k8s.io/kwok/cmd/kwok
build_tool local-path-provisioner "$LOCAL_PATH_VERSION" local-path github.com/rancher/local-path-provisioner \
  "-X main.VERSION=$LOCAL_PATH_VERSION"
build_kubernetes
log "build-k8s: all done in $((SECONDS - total))s; binaries linked into $BIN"
