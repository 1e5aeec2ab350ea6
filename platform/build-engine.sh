#!/usr/bin/env bash
# Builds the Pulumi engine this project runs with, from Go modules only (the Go module proxy is the
# only network access), into $CACHE/tools/<name>/<version>-<hash>/ and links the binaries into $BIN
# (the Kubernetes provider is installed into the Pulumi plugin cache instead, see below):
#
#   pulumi                          CLI/engine v3.248.0            (platform/engine/cli)
#   pulumi-language-nodejs          our Node.js language host      (platform/engine/language-nodejs)
#   pulumi-resource-pulumi-nodejs   dynamic provider launcher      (platform/engine/language-nodejs)
#   pulumi-resource-kubernetes      Kubernetes provider 4.25.0     (platform/engine/kubernetes)
#   pulumi-language-yaml            YAML language host v1.25.0     (platform/engine/language-yaml)
#   actionlint                      GitHub workflow linter v1.7.12 (platform/engine/actionlint), for the tests
#   cosign                          image signing v2.6.5 (platform/engine/cosign): the component signs
#                                   what it pushes and verifies digests before the template moves
#
# Idempotent: a tool is rebuilt only when its version or the hash of its wrapper sources changes.
# Usage: platform/build-engine.sh; then: source platform/engine/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENGINE_DIR="$REPO_ROOT/platform/engine"
PULUMI_VERSION=v3.248.0
K8S_PROVIDER_VERSION=4.25.0   # = github.com/pulumi/pulumi-kubernetes tag v4.25.0 (commit f47bc2d6f199)
K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
YAML_VERSION=v1.25.0
ACTIONLINT_VERSION=v1.7.12
COSIGN_VERSION=v2.6.5

# Only the module proxy; never fall back to direct VCS access.
export GOPROXY="${STS_CANARY_GOPROXY:-https://proxy.golang.org}"
export CGO_ENABLED=0
GOBUILD=(go build -v -mod=readonly -trimpath -buildvcs=false)   # -v: package names feed the step heartbeat

command -v go >/dev/null || die "go is not installed"

# hash of the files that define a tool's build (wrapper module + this script's recipe for it)
src_hash() {
  local dir="$1"
  { (cd "$dir" && find . -type f ! -name '*-embed.json' ! -name '.gitignore' | LC_ALL=C sort | xargs sha256sum)
    declare -f "build_$2"; } | sha256sum | cut -c1-12
}

declare -A TIMES=() TOOL_DIR=()

# ensure_tool <name> <version> <wrapper-dir> <binaries...>
#   builds with build_<name> <out-dir> <version> <wrapper-dir> unless already present.
ensure_tool() {
  local name="$1" version="$2" dir="$3"; shift 3
  local key; key="$version-$(src_hash "$dir" "${name//-/_}")"
  local dest="$CACHE/tools/$name/$key"
  local start=$SECONDS
  if [[ -f "$dest/.complete" ]]; then
    log "$name $key: up to date"
  else
    local tmp="$dest.tmp"
    rm -rf "$tmp"; mkdir -p "$tmp"
    step "build $name $version" "build_${name//-/_}" "$tmp" "$version" "$dir"
    touch "$tmp/.complete"
    rm -rf "$dest"; mv "$tmp" "$dest"
  fi
  local b
  for b in "$@"; do
    [[ -x "$dest/$b" ]] || die "$name: $dest/$b missing"
  done
  TOOL_DIR[$name]="$dest"
  TIMES[$name]=$((SECONDS - start))
}

build_pulumi() {
  local out="$1" version="$2" dir="$3"
  cd "$dir"
  "${GOBUILD[@]}" -o "$out/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  "$out/pulumi" version
}

build_pulumi_language_nodejs() {
  local out="$1" version="$2" dir="$3"
  cd "$dir"
  "${GOBUILD[@]}" -o "$out/pulumi-language-nodejs" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" .
  install -m 0755 pulumi-resource-pulumi-nodejs "$out/pulumi-resource-pulumi-nodejs"
  "$out/pulumi-language-nodejs" -version
}

build_pulumi_resource_kubernetes() {
  local out="$1" version="$2" dir="$3"
  # Build from a copy so the generated 5 MB schema never lands in the work tree.
  local src="$out/src"
  mkdir -p "$src"; cp -R "$dir/." "$src/"; cd "$src"
  local moddir; moddir="$(go list -mod=readonly -m -f '{{.Dir}}' "$K8S_PROVIDER_MODULE")"
  [[ -n "$moddir" && -f "$moddir/cmd/pulumi-resource-kubernetes/schema.json" ]] \
    || { go mod download "$K8S_PROVIDER_MODULE" && moddir="$(go list -mod=readonly -m -f '{{.Dir}}' "$K8S_PROVIDER_MODULE")"; }
  go run -mod=readonly ./cmd/embedgen "$moddir" "$version" cmd/pulumi-resource-kubernetes
  "${GOBUILD[@]}" -o "$out/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X $K8S_PROVIDER_MODULE/pkg/version.Version=$version" ./cmd/pulumi-resource-kubernetes
  cd "$out"; rm -rf "$src"
}

build_pulumi_language_yaml() {
  local out="$1" version="$2" dir="$3"
  cd "$dir"
  "${GOBUILD[@]}" -o "$out/pulumi-language-yaml" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$version" \
    github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
}

build_actionlint() {
  local out="$1" version="$2" dir="$3"
  cd "$dir"
  "${GOBUILD[@]}" -o "$out/actionlint" \
    -ldflags "-s -w -X github.com/rhysd/actionlint.version=$version" github.com/rhysd/actionlint/cmd/actionlint
}

build_cosign() {
  local out="$1" version="$2" dir="$3"
  cd "$dir"
  "${GOBUILD[@]}" -o "$out/cosign" \
    -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$version" github.com/sigstore/cosign/v2/cmd/cosign
  "$out/cosign" version >/dev/null
}

total_start=$SECONDS
ensure_tool pulumi "$PULUMI_VERSION" "$ENGINE_DIR/cli" pulumi
ensure_tool pulumi-language-nodejs "$PULUMI_VERSION" "$ENGINE_DIR/language-nodejs" \
  pulumi-language-nodejs pulumi-resource-pulumi-nodejs
ensure_tool pulumi-language-yaml "$YAML_VERSION" "$ENGINE_DIR/language-yaml" pulumi-language-yaml
ensure_tool pulumi-resource-kubernetes "$K8S_PROVIDER_VERSION" "$ENGINE_DIR/kubernetes" pulumi-resource-kubernetes
ensure_tool actionlint "$ACTIONLINT_VERSION" "$ENGINE_DIR/actionlint" actionlint
apt_install shellcheck   # actionlint checks the workflows' run: scripts with it
ln -sfn "${TOOL_DIR[actionlint]}/actionlint" "$BIN/actionlint"
ensure_tool cosign "$COSIGN_VERSION" "$ENGINE_DIR/cosign" cosign
ln -sfn "${TOOL_DIR[cosign]}/cosign" "$BIN/cosign"

# The CLI looks for its "bundled" plugins (language hosts, the pulumi-nodejs dynamic provider) next
# to its own resolved executable and warns when $PATH yields a different file. So the CLI and those
# plugins are hard-linked into one directory, and $BIN points there.
bundle="$CACHE/tools/pulumi-engine/${TOOL_DIR[pulumi]##*/}_${TOOL_DIR[pulumi-language-nodejs]##*/}_${TOOL_DIR[pulumi-language-yaml]##*/}"
if [[ ! -f "$bundle/.complete" ]]; then
  rm -rf "$bundle"; mkdir -p "$bundle"
  ln -f "${TOOL_DIR[pulumi]}/pulumi" "$bundle/"
  ln -f "${TOOL_DIR[pulumi-language-nodejs]}"/{pulumi-language-nodejs,pulumi-resource-pulumi-nodejs} "$bundle/"
  ln -f "${TOOL_DIR[pulumi-language-yaml]}/pulumi-language-yaml" "$bundle/"
  touch "$bundle/.complete"
fi
for b in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-language-yaml; do
  ln -sfn "$bundle/$b" "$BIN/$b"
done

# The Kubernetes provider goes into the plugin cache of PULUMI_HOME (see engine/env.sh) as
# resource-kubernetes-v$K8S_PROVIDER_VERSION, where the engine finds it for the version that
# @pulumi/kubernetes@$K8S_PROVIDER_VERSION requests. (On $PATH it would also be used, for any
# requested version, but with a "using pulumi-resource-kubernetes from $PATH" warning on every run.)
source "$ENGINE_DIR/env.sh"
k8s_bin="${TOOL_DIR[pulumi-resource-kubernetes]}/pulumi-resource-kubernetes"
k8s_installed="$PULUMI_HOME/plugins/resource-kubernetes-v$K8S_PROVIDER_VERSION/pulumi-resource-kubernetes"
if ! cmp -s "$k8s_bin" "$k8s_installed"; then
  step "install kubernetes plugin v$K8S_PROVIDER_VERSION into $PULUMI_HOME" \
    "$BIN/pulumi" plugin install resource kubernetes "v$K8S_PROVIDER_VERSION" --file "$k8s_bin" --reinstall
fi

for t in pulumi pulumi-language-nodejs pulumi-language-yaml pulumi-resource-kubernetes actionlint cosign; do
  log "  $t: ${TIMES[$t]}s (${TOOL_DIR[$t]})"
done
log "engine ready in $((SECONDS - total_start))s: $BIN/pulumi $("$BIN/pulumi" version); source platform/engine/env.sh"
