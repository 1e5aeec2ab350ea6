#!/usr/bin/env bash
# Stops the local platform and removes its runtime state ($STATE, which holds the local Pulumi
# backend, and the config files of the stacks created for it). Built tools in $CACHE are kept for the next start.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
P="$REPO_ROOT/platform"
"$P/gitea.sh" down || log "gitea.sh down reported an error; continuing"
"$P/prometheus.sh" down || log "prometheus.sh down reported an error; continuing"
"$P/storage.sh" down || log "storage.sh down reported an error; continuing"
"$P/cluster.sh" down || log "cluster.sh down reported an error; continuing"
"$P/registry.sh" down || log "registry.sh down reported an error; continuing"
"$P/postgres.sh" down || log "postgres.sh down reported an error; continuing"
"$P/docker.sh" down || log "docker.sh down reported an error; continuing"
rm -rf "$REPO_ROOT"/Pulumi.local.yaml "$REPO_ROOT"/Pulumi.e2e-*.yaml "$REPO_ROOT"/Pulumi.bench-*.yaml
rm -rf "$STATE"
log "platform stopped and its state removed (cache kept in $CACHE)"
