# kubectl get pods -A -o json -> Prometheus file_sd targets: one per container port named
# `metrics` of a running pod with an IP (pods on kwok nodes, 10.245.0.0/16, answer nothing: left out).
[ .items[]
  | select(.status.phase == "Running" and (.status.podIP // "") != "" and (.status.podIP | startswith("10.245.") | not))
  | . as $pod
  | .spec.containers[] as $c
  | ($c.ports // [])[]
  | select(.name == "metrics")
  | { targets: ["\($pod.status.podIP):\(.containerPort)"],
      labels: ({ namespace: $pod.metadata.namespace, pod: $pod.metadata.name, container: $c.name,
                 controller_revision_hash: ($pod.metadata.labels["controller-revision-hash"] // "") }
               + ([$pod.metadata.ownerReferences[]? | select(.kind == "StatefulSet") | { statefulset: .name }] | add // {})) } ]
