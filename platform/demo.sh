#!/usr/bin/env bash
# `npm run demo`: the seed's canary on the local platform, through this Pulumi program.
#   1. build (first run) and start the platform   2. a `local` stack pointing at it
#   3. v1 on 5 replicas                            4. v2 with partition 3
#   5. which ordinal runs which version, and how 100 requests to the NodePort split.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
STACK="${STS_CANARY_DEMO_STACK:-local}"
NAMESPACE=sts APP=nginx NODE_PORT=30080

[[ -d node_modules/@pulumi/pulumi ]] || step "npm ci" npm ci --no-audit --no-fund
# The program, the component package and the sts-canary tool run compiled (dist/, components/dist/, tool/dist/).
step "npm run build:run" npm run build:run
"$REPO_ROOT/platform/up.sh"
set -a; source "$STATE/platform.env"; set +a

log "=== stack $STACK on the local platform (backend $PULUMI_BACKEND_URL)"
pulumi stack select --create "$STACK" --non-interactive >/dev/null
pulumi config set registryServer "$STS_CANARY_REGISTRY"
pulumi config set registryUsername "$STS_CANARY_REGISTRY_USER"
printf '%s' "$STS_CANARY_REGISTRY_PASSWORD" | pulumi config set --secret registryPassword
# The pods pull with the registry's pull-only robot account; the pushing one stays with the builds.
pulumi config set pullUsername "$STS_CANARY_PULL_USER"
printf '%s' "$STS_CANARY_PULL_PASSWORD" | pulumi config set --secret pullPassword
pulumi config set baseImage "$STS_CANARY_BASE_IMAGE"
pulumi config set imageBuilder docker-cli
pulumi config set namespace "$NAMESPACE"
pulumi config set appName "$APP"
pulumi config set nodePort "$NODE_PORT"
pulumi config set kubernetes:kubeconfig "$KUBECONFIG"

deploy() {
  local s=$SECONDS
  log "=== pulumi config set imageTag $1 && pulumi config set partition $2 && pulumi up"
  pulumi config set imageTag "$1"
  pulumi config set partition "$2"
  pulumi up --yes --non-interactive --color never --suppress-progress
  log "pulumi up (imageTag=$1 partition=$2) took $((SECONDS - s))s"
}
deploy v1 0
deploy v2 3

echo
echo "Pods and their images (the seed's check):"
kubectl get pods -n "$NAMESPACE" -o=jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.spec.containers[*].image}{"\n"}{end}'
echo
printf '%-8s %-10s %-8s %s\n' ORDINAL POD VERSION READY
for i in 0 1 2 3 4; do
  pod="$APP-$i"
  image=$(kubectl get pod "$pod" -n "$NAMESPACE" -o jsonpath='{.spec.containers[0].image}')
  ready=$(kubectl get pod "$pod" -n "$NAMESPACE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')
  tag=${image%%@*}; tag=${tag##*:}
  printf '%-8s %-10s %-8s %s\n' "$i" "$pod" "$tag" "$ready"
done
echo
echo "100 requests to http://127.0.0.1:$NODE_PORT/ (a new connection each):"
v1=0 v2=0 other=0
for _ in $(seq 1 100); do
  body=$(curl -s -m 3 -H 'Connection: close' "http://127.0.0.1:$NODE_PORT/" || true)
  case "$body" in
    *"This is V1"*) v1=$((v1 + 1)) ;;
    *"This is V2"*) v2=$((v2 + 1)) ;;
    *) other=$((other + 1)) ;;
  esac
done
printf '  V1: %3d  V2: %3d  other/errors: %d   (expected about 60/40: 3 of 5 pods on V1)\n' "$v1" "$v2" "$other"
echo
log "=== npx sts-canary status (the tool, on the stack's own cluster)"
npx sts-canary --stack "$STACK" status
echo
echo "Next: pulumi config set partition 0 && pulumi up   (promote)    |   npx sts-canary promote --plan 1,0   |   npm run platform:down   (stop, remove state)"
