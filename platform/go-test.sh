#!/usr/bin/env bash
# Runs the tests of every Go module of ours (`npm run test:go`): one line per module with the
# result and time, the full output in $LOGS/go-test-<module>.log; exits non-zero if any fails, or
# if a platform/**/go.mod is not listed below (a new module must say what covers it).
#
# What runs per module (all with CGO_ENABLED=0 -trimpath -mod=readonly, the flags of the build
# scripts, so the dependencies come out of the Go build cache that platform/up.sh fills and
# go.mod/go.sum are never rewritten):
#
#   engine/language-nodejs  go test ./...   our Node.js language host: gRPC service tests against
#                                           fixture programs/plugins/policy packs (needs node)
#   k8s/pause               go test ./...   our pod sandbox process
#   engine/kubernetes       in a copy under $CACHE/go-test/kubernetes (as build-engine.sh builds it,
#                           so the generated 5 MB schema never lands in the work tree): embedgen
#                           writes the embed files, then go test ./... (embedgen's tests) and
#                           go vet ./... (type-checks our provider main against the provider module)
#   engine/cli, engine/language-yaml, engine/actionlint, engine/cosign, k8s/kube, k8s/etcd, k8s/kwok,
#   k8s/crictl, k8s/local-path
#                           wrapper modules that only build an upstream tool (no package of ours,
#                           so `go test ./...` has nothing to run and fails with "no packages to
#                           test"): compile check of the tool packages as the build scripts build
#                           them (`go list -deps -export`: every package compiled, nothing linked),
#                           which checks go.mod/go.sum against the sources and that the tool builds
#
# Warm (after platform/up.sh) this takes well under a minute; on an empty cache the compile checks
# cost about as much as the platform build itself. Network: the Go module proxy only (GOPROXY).
# Usage: platform/go-test.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export GOPROXY="${STS_CANARY_GOPROXY:-https://proxy.golang.org}"
export CGO_ENABLED=0
GOFL=(-mod=readonly -trimpath -buildvcs=false)
command -v go >/dev/null || die "go is not installed"

# go_test : go test of the module's own packages; -count=1 because the tests run node and fake
# tools that Go's test cache does not track.
go_test() { go test "${GOFL[@]}" -count=1 -v ./...; }

# compile_check [go list flags] <packages...> : compile (no link) the packages and all their deps.
compile_check() {
  local list
  list=$(go list "${GOFL[@]}" -deps -export -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "$@") || return 1
  echo "compiled $(grep -c . <<<"$list") packages"
}

# (Each step ends the function on failure explicitly: `set -e` does not apply inside the `if` that
# runs these functions.)
mod_kubernetes() {
  local version moddir src="$CACHE/go-test/kubernetes" mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  version=$(sed -n 's/^K8S_PROVIDER_VERSION=\([0-9.]*\).*/\1/p' "$REPO_ROOT/platform/build-engine.sh")
  [[ -n "$version" ]] || { echo "K8S_PROVIDER_VERSION not found in build-engine.sh"; return 1; }
  rm -rf "$src" && mkdir -p "$src" && cp -R . "$src/" && cd "$src" || return 1
  moddir=$(go list "${GOFL[@]}" -m -f '{{.Dir}}' "$mod") || return 1
  if [[ -z "$moddir" || ! -f "$moddir/cmd/pulumi-resource-kubernetes/schema.json" ]]; then
    go mod download "$mod" && moddir=$(go list "${GOFL[@]}" -m -f '{{.Dir}}' "$mod") || return 1
  fi
  go run "${GOFL[@]}" ./cmd/embedgen "$moddir" "$version" cmd/pulumi-resource-kubernetes || return 1
  go_test || return 1
  go vet "${GOFL[@]}" ./... || return 1
  echo "vet ok"
}

# module dir (under platform/) -> "<what is shown> <function and arguments>"
declare -A MODULES=(
  [engine/language-nodejs]="go test ./...|go_test"
  [k8s/pause]="go test ./...|go_test"
  [engine/kubernetes]="embedgen + go test ./... + go vet ./... (copy)|mod_kubernetes"
  [engine/cli]="compile check pulumi|compile_check github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
  [engine/language-yaml]="compile check pulumi-language-yaml|compile_check github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
  [engine/actionlint]="compile check actionlint|compile_check github.com/rhysd/actionlint/cmd/actionlint"
  [engine/cosign]="compile check cosign|compile_check github.com/sigstore/cosign/v2/cmd/cosign"
  [k8s/kube]="compile check 6 kubernetes commands|compile_check -tags providerless k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl"
  [k8s/etcd]="compile check etcd|compile_check go.etcd.io/etcd/server/v3"
  [k8s/kwok]="compile check kwok|compile_check sigs.k8s.io/kwok/cmd/kwok"
  [k8s/crictl]="compile check crictl|compile_check sigs.k8s.io/cri-tools/cmd/crictl"
  [k8s/local-path]="compile check local-path-provisioner|compile_check github.com/rancher/local-path-provisioner"
)
# Our own code first: quick feedback before the long compile checks.
ORDER=(engine/language-nodejs k8s/pause engine/kubernetes engine/cli engine/language-yaml
  engine/actionlint engine/cosign k8s/kube k8s/etcd k8s/kwok k8s/crictl k8s/local-path)

failed=0
row() { printf '%-4s  %-32s %-48s %7s  %s\n' "$@"; }

# Every module in the tree must be covered.
mapfile -t present < <(cd "$REPO_ROOT/platform" && find . -name go.mod -not -path '*/node_modules/*' -printf '%h\n' | sed 's|^\./||' | sort)
for m in "${present[@]}"; do
  if [[ -z "${MODULES[$m]:-}" ]]; then
    row FAIL "platform/$m" "not covered: add it to platform/go-test.sh" "-" ""
    failed=1
  fi
done

total_start=$EPOCHREALTIME
for m in "${ORDER[@]}"; do
  [[ -f "$REPO_ROOT/platform/$m/go.mod" ]] || continue
  what="${MODULES[$m]%%|*}"
  read -r -a cmd <<<"${MODULES[$m]#*|}"
  logfile="$LOGS/go-test-${m//\//-}.log"
  start=$EPOCHREALTIME
  if (cd "$REPO_ROOT/platform/$m" && "${cmd[@]}") >"$logfile" 2>&1; then result=PASS; else result=FAIL; failed=1; fi
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }')
  detail=""
  if tests=$(grep -c '^--- PASS' "$logfile"); then detail="$tests tests passed"; fi
  if [[ "$result" == FAIL ]] && fails=$(grep -c '^--- FAIL' "$logfile"); then detail="$fails tests failed"; fi
  [[ -n "$detail" ]] || detail=$(grep -E '^compiled [0-9]+ packages$' "$logfile" | tail -n 1 || true)
  row "$result" "platform/$m" "$what" "$secs" "$detail"
  if [[ "$result" == FAIL ]]; then
    # the failed tests and their messages if there are any, else the end of the log
    summary=$(grep -E '^(--- FAIL|FAIL|panic:|\s+\S+_test\.go:[0-9]+:)' "$logfile" | head -n 40 || true)
    [[ -n "$summary" ]] || summary=$(tail -n 15 "$logfile")
    while IFS= read -r line; do echo "      | $line"; done <<<"$summary"
    echo "      (full log: $logfile)"
  fi
done
total=$(awk -v a="$total_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
if (( failed )); then
  echo "go-test: FAILED after ${total}s" >&2
  exit 1
fi
echo "go-test: all Go modules passed in ${total}s"
