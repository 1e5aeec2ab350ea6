# Environment for running Pulumi offline with the engine built by platform/build-engine.sh.
# Source it (bash or zsh):   source platform/engine/env.sh
# It only sets variables: no network, no side effects besides creating two directories.
# Variables already set by the caller win (e.g. export PULUMI_BACKEND_URL=... before sourcing).

_sts_engine_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/../.." && pwd)"
_sts_cache="${STS_CANARY_CACHE:-/var/cache/sts-canary}"   # same defaults as platform/lib.sh
_sts_state="${STS_CANARY_STATE:-$_sts_engine_root/.platform}"

# pulumi, pulumi-language-nodejs, pulumi-language-yaml, pulumi-resource-pulumi-nodejs.
case ":$PATH:" in *":$_sts_cache/bin:"*) ;; *) export PATH="$_sts_cache/bin:$PATH" ;; esac

# Plugin cache (kubernetes provider installed there by build-engine.sh), workspace settings, logs.
export PULUMI_HOME="${PULUMI_HOME:-$_sts_cache/pulumi-home}"
# Never try to download plugins or check for CLI updates (no access to get.pulumi.com / GitHub).
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Plugins are also looked up on $PATH (the default); keep that on.
unset PULUMI_IGNORE_AMBIENT_PLUGINS
# Package names given to `pulumi package add` are not resolved through the Pulumi Registry.
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
# No "explain this failure with Neo" links in error output.
export PULUMI_SUPPRESS_NEO_LINK=true
# Local state backend (overrides `pulumi login`; set PULUMI_BACKEND_URL yourself to use another).
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_sts_state/pulumi-backend}"
# Passphrase secrets provider for local stacks; a fixed default is fine for throw-away local state.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-sts-canary-local}"

case "$PULUMI_BACKEND_URL" in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac
mkdir -p "$PULUMI_HOME"
unset _sts_engine_root _sts_cache _sts_state
