#!/usr/bin/env bash
# Prometheus for the canary analysis: Debian's `prometheus` package (2.42 in bookworm) as a daemon
# on http://127.0.0.1:19090, scraping every container port named `metrics` of the cluster's pods
# every 2 s. Each series carries `namespace`, `pod`, `controller_revision_hash` (the pod's
# revision: canary or baseline), `statefulset` and `container`: the labels a kube-prometheus-stack
# PodMonitor gives with the same relabelling.
#
# Discovery: Debian builds its prometheus without Kubernetes service discovery (a config with
# `kubernetes_sd_configs` is refused: "field kubernetes_sd_configs not found"), so a small loop
# (prometheus-sd, below) lists the pods every 2 s with kubectl and writes them as a file_sd target
# file with those labels. A Prometheus with Kubernetes SD (any upstream build) does the same with
# `kubernetes_sd_configs: [{role: pod}]` and the relabelling in platform/prometheus/README.md.
#
#   platform/prometheus.sh up       install if missing, write the config, start, wait for /-/ready
#   platform/prometheus.sh stop     stop it, keep its data (e2e: "Prometheus is down")
#   platform/prometheus.sh start    same as up
#   platform/prometheus.sh down     stop and remove $STATE/prometheus
#   platform/prometheus.sh status   exit 0 if /-/ready answers
#   platform/prometheus.sh env      print STS_CANARY_PROMETHEUS_URL
#
# Port 19090, not 9090: the package's own service (if a machine starts it) keeps 9090.
# Pods on kwok nodes have fake IPs (10.245.0.0/16) that nothing answers on: they are not scraped.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROM_PORT="${STS_CANARY_PROMETHEUS_PORT:-19090}"
PROM_URL="http://127.0.0.1:$PROM_PORT"
PROM_STATE="$STATE/prometheus"
PROM_CONFIG="$PROM_STATE/prometheus.yml"
SCRAPE_INTERVAL="${STS_CANARY_PROMETHEUS_SCRAPE_INTERVAL:-2s}"

ready() { curl -fsS -m 2 "$PROM_URL/-/ready" >/dev/null 2>&1; }

install() {
  command -v prometheus >/dev/null 2>&1 && return 0
  # policy-rc.d: the package's init script must not start a stock Prometheus
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e "$policy" ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; own_policy=1; fi
  apt_install prometheus
  (( own_policy )) && rm -f "$policy"
  return 0
}

write_config() {
  mkdir -p "$PROM_STATE/data"
  cat > "$PROM_CONFIG.tmp" <<YAML
# written by platform/prometheus.sh
global:
  scrape_interval: $SCRAPE_INTERVAL
  scrape_timeout: $SCRAPE_INTERVAL
scrape_configs:
  - job_name: pods
    file_sd_configs:
      - files: [$PROM_STATE/targets.json]
        refresh_interval: 2s
YAML
  cat > "$PROM_STATE/discover.sh" <<SH
#!/usr/bin/env bash
# Writes the pods' metrics ports as file_sd targets every 2 s while Prometheus runs.
set -uo pipefail
while kill -0 "\$(cat "$RUN/prometheus.pid" 2>/dev/null)" 2>/dev/null; do
  if "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" get pods -A -o json --request-timeout=5s 2>>"$LOGS/prometheus-sd.err" \\
      | jq -c -f "$REPO_ROOT/platform/prometheus/targets.jq" > "$PROM_STATE/targets.json.tmp"; then
    cmp -s "$PROM_STATE/targets.json.tmp" "$PROM_STATE/targets.json" || mv "$PROM_STATE/targets.json.tmp" "$PROM_STATE/targets.json"
  fi
  sleep 2
done
SH
  chmod +x "$PROM_STATE/discover.sh"
  if cmp -s "$PROM_CONFIG.tmp" "$PROM_CONFIG"; then rm -f "$PROM_CONFIG.tmp"; return 1; fi
  mv "$PROM_CONFIG.tmp" "$PROM_CONFIG"
  return 0
}

cmd_up() {
  install
  local changed=0
  write_config && changed=1
  if pid_alive prometheus && (( changed == 0 )) && ready; then
    pid_alive prometheus-sd || start_daemon prometheus-sd "$PROM_STATE/discover.sh"
    log "prometheus already running (pid $(cat "$RUN/prometheus.pid")) on $PROM_URL"; return 0
  fi
  stop_daemon prometheus-sd; stop_daemon prometheus
  [[ -f "$PROM_STATE/targets.json" ]] || echo '[]' > "$PROM_STATE/targets.json"
  local start=$SECONDS
  start_daemon prometheus prometheus --config.file="$PROM_CONFIG" --storage.tsdb.path="$PROM_STATE/data" \
    --storage.tsdb.retention.time=6h --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-lifecycle
  start_daemon prometheus-sd "$PROM_STATE/discover.sh"
  local deadline=$((SECONDS + 60))
  until ready; do
    pid_alive prometheus || { tail -n 20 "$LOGS/prometheus.log" >&2; die "prometheus exited (log: $LOGS/prometheus.log)"; }
    (( SECONDS < deadline )) || { tail -n 20 "$LOGS/prometheus.log" >&2; die "prometheus not ready in 60s"; }
    sleep 0.5
  done
  log "prometheus $(prometheus --version 2>&1 | head -n1 | awk '{print $3}') up in $((SECONDS - start))s on $PROM_URL (scrape every $SCRAPE_INTERVAL)"
}

cmd_stop() { stop_daemon prometheus-sd; stop_daemon prometheus; log "prometheus stopped (data kept)"; }

case "${1:-up}" in
  up|start) cmd_up ;;
  stop) cmd_stop ;;
  down) cmd_stop; rm -rf "$PROM_STATE" ;;
  status) ready ;;
  env) echo "export STS_CANARY_PROMETHEUS_URL=$PROM_URL" ;;
  *) echo "usage: $0 up|start|stop|down|status|env" >&2; exit 2 ;;
esac
