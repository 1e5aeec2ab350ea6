#!/usr/bin/env bash
# Builds (first run: minutes; later: seconds, from $CACHE) and starts the whole local platform:
# Pulumi engine, Docker Engine, nginx and PostgreSQL base images, TLS registry with auth, PostgreSQL
# state backend, single-node Kubernetes with dynamic PersistentVolumes (local-path), Prometheus.
# Idempotent. Writes $STATE/platform.env, which the demo, the e2e tests and the CLI read.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
P="$REPO_ROOT/platform"
t0=$SECONDS
declare -a TIMINGS=()
phase() {
  local name="$1"; shift
  local s=$SECONDS
  log "=== $name"
  "$@"
  TIMINGS+=("$(printf '%-28s %5ss' "$name" "$((SECONDS - s))")")
}

phase "pulumi engine (build/cache)" "$P/build-engine.sh"
phase "kubernetes (build/cache)" "$P/build-k8s.sh"
phase "docker engine" "$P/docker.sh" up
phase "nginx base image" "$P/base-image.sh" up
phase "postgres base image" "$P/postgres-base-image.sh" up
phase "registry" "$P/registry.sh" up
phase "state backend (postgres)" "$P/postgres.sh" up
phase "kubernetes node" "$P/cluster.sh" up
phase "storage (local-path PVs)" "$P/storage.sh" up
phase "prometheus" "$P/prometheus.sh" up
phase "gitea (build/cache)" "$P/gitea.sh" up

# Everything a client of the platform needs, as KEY=VALUE lines (also valid shell).
# shellcheck disable=SC1091
source "$P/engine/env.sh"
{
  echo "# written by platform/up.sh at $(date -u +%FT%TZ); source it or load it as KEY=VALUE"
  echo "PATH=$PATH"
  echo "KUBECONFIG=$STATE/kubeconfig"
  echo "KUBECTL=$BIN/kubectl"
  for var in $(compgen -e | grep -E '^PULUMI_' | sort); do echo "$var=${!var}"; done
  "$P/registry.sh" env | sed -E 's/^export //'
  "$P/postgres.sh" env | sed -E 's/^export //'
  "$P/prometheus.sh" env | sed -E 's/^export //'
  "$P/gitea.sh" env | sed -E 's/^export //'
  echo "STS_CANARY_BASE_IMAGE=$("$P/base-image.sh" name)"
  echo "STS_CANARY_POSTGRES_BASE_IMAGE=$("$P/postgres-base-image.sh" name)"
  echo "DOCKER_HOST=unix:///var/run/docker.sock"
} > "$STATE/platform.env.tmp"
mv "$STATE/platform.env.tmp" "$STATE/platform.env"

log "platform is up in $((SECONDS - t0))s"
printf '  %s\n' "${TIMINGS[@]}" >&2
