import * as k8s from "@pulumi/kubernetes";

const ns = new k8s.core.v1.Namespace("bad", { metadata: { name: "policy-bad" } });
const labels = { app: "bad" };
new k8s.apps.v1.StatefulSet("bad", {
    metadata: { name: "bad", namespace: ns.metadata.name },
    spec: {
        serviceName: "bad",
        replicas: 1,                                                            // prod-replicas-at-least-2
        selector: { matchLabels: labels },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 3 } }, // partition-within-bounds
        template: {
            metadata: { labels },
            spec: {
                containers: [{
                    name: "nginx",
                    // no-mutable-tags-in-prod, images-pinned-by-digest, images-from-configured-registry
                    image: "nginx:latest",
                    // resource-limits-set: no limits
                    resources: { requests: { cpu: "10m" } },
                }],
            },
        },
    },
});
