import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

const registry = new pulumi.Config().require("registryServer");

const ns = new k8s.core.v1.Namespace("bad", { metadata: { name: "policy-bad" } });
const labels = { app: "bad" };
// pull-secret-not-push-account: the pushing account (the stack's registryUsername) in the cluster
new k8s.core.v1.Secret("bad-pull", {
    metadata: { name: "bad-pull", namespace: ns.metadata.name },
    type: "kubernetes.io/dockerconfigjson",
    stringData: { ".dockerconfigjson": JSON.stringify({ auths: { [registry]: { username: "admin", password: "not-a-real-one" } } }) },
});
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
                // prod-pulls-with-credentials: from the private registry, no imagePullSecrets
                initContainers: [{ name: "init", image: `${registry}/library/version-test:v1`, resources: { limits: { cpu: "10m", memory: "16Mi" } } }],
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
