/**
 * The Kubernetes side of a canary: namespace, image pull Secret, headless Service (stable network
 * identity), the partitioned StatefulSet, and a NodePort Service. The provider does not wait for
 * the StatefulSet (skipAwait): the component's RolloutCheck does, from live state.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { VERSION_LABEL } from "./rollout/views";

/** Pulumi's StatefulSet await never finishes while partition > 0; the RolloutCheck replaces it. */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

export interface CanaryWorkloadArgs {
    /** Name of the StatefulSet and NodePort Service; pods are `<appName>-<ordinal>`. */
    appName: string;
    namespace: pulumi.Input<string>;
    replicas: pulumi.Input<number>;
    partition: pulumi.Input<number>;
    /** Version of the template (the canary while partition > 0). */
    imageTag: pulumi.Input<string>;
    /** Pinned image reference of `imageTag`. */
    image: pulumi.Input<string>;
    registryServer: pulumi.Input<string>;
    registryUsername: pulumi.Input<string>;
    registryPassword: pulumi.Input<string>;
    nodePort: pulumi.Input<number>;
    /** Pod nodeSelector. */
    nodeSelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Pod tolerations. */
    tolerations?: pulumi.Input<pulumi.Input<k8s.types.input.core.v1.Toleration>[]>;
}

const CONTAINER_PORT = 80;

export function recommendedLabels(appName: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": appName,
        "app.kubernetes.io/instance": appName,
        "app.kubernetes.io/part-of": "sts-canary",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

export function selectorLabels(appName: string): Record<string, string> {
    return { "app.kubernetes.io/name": appName, "app.kubernetes.io/instance": appName };
}

/** The `.dockerconfigjson` of an image pull Secret. */
export function dockerConfigJson(server: string, username: string, password: string): string {
    const auth = Buffer.from(`${username}:${password}`).toString("base64");
    return JSON.stringify({ auths: { [server]: { username, password, auth } } });
}

export class CanaryWorkload extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly statefulSetName: pulumi.Output<string>;
    public readonly serviceName: pulumi.Output<string>;
    public readonly headlessServiceName: pulumi.Output<string>;
    public readonly nodePort: pulumi.Output<number>;
    public readonly statefulSet: k8s.apps.v1.StatefulSet;

    constructor(name: string, args: CanaryWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sts-canary:index:CanaryWorkload", name, args, opts);
        const labels = recommendedLabels(args.appName);
        const selector = selectorLabels(args.appName);

        const ns = new k8s.core.v1.Namespace(`${name}-ns`, {
            metadata: { name: args.namespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        }, { parent: this });
        const namespace = ns.metadata.name;

        const pullSecret = new k8s.core.v1.Secret(`${name}-pull`, {
            metadata: { name: `${args.appName}-registry`, namespace, labels },
            type: "kubernetes.io/dockerconfigjson",
            stringData: {
                ".dockerconfigjson": pulumi.secret(pulumi.all([args.registryServer, args.registryUsername, args.registryPassword])
                    .apply(([server, username, password]) => dockerConfigJson(server, username, password))),
            },
        }, { parent: this });

        const headless = new k8s.core.v1.Service(`${name}-headless`, {
            metadata: { name: `${args.appName}-headless`, namespace, labels },
            spec: {
                clusterIP: "None",
                selector,
                ports: [{ name: "web", port: CONTAINER_PORT, targetPort: "web" }],
            },
        }, { parent: this });

        this.statefulSet = new k8s.apps.v1.StatefulSet(`${name}-sts`, {
            metadata: {
                name: args.appName,
                namespace,
                labels,
                annotations: { [SKIP_AWAIT_ANNOTATION]: "true" },
            },
            spec: {
                serviceName: headless.metadata.name,
                replicas: args.replicas,
                podManagementPolicy: "OrderedReady",
                selector: { matchLabels: selector },
                updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: args.partition } },
                template: {
                    metadata: { labels: { ...labels, [VERSION_LABEL]: args.imageTag } },
                    spec: {
                        imagePullSecrets: [{ name: pullSecret.metadata.name }],
                        nodeSelector: args.nodeSelector,
                        tolerations: args.tolerations,
                        terminationGracePeriodSeconds: 10,
                        containers: [{
                            name: "nginx",
                            image: args.image,
                            imagePullPolicy: "IfNotPresent",
                            ports: [{ name: "web", containerPort: CONTAINER_PORT }],
                            readinessProbe: {
                                httpGet: { path: "/version.html", port: "web" },
                                periodSeconds: 2,
                                failureThreshold: 3,
                            },
                            resources: {
                                requests: { cpu: "10m", memory: "16Mi" },
                                limits: { cpu: "200m", memory: "64Mi" },
                            },
                        }],
                    },
                },
            },
        }, { parent: this });

        const service = new k8s.core.v1.Service(`${name}-nodeport`, {
            metadata: { name: args.appName, namespace, labels },
            spec: {
                type: "NodePort",
                selector,
                ports: [{ name: "web", port: CONTAINER_PORT, targetPort: "web", nodePort: args.nodePort }],
            },
        }, { parent: this, dependsOn: [this.statefulSet] });

        this.namespace = namespace;
        this.statefulSetName = this.statefulSet.metadata.name;
        this.serviceName = service.metadata.name;
        this.headlessServiceName = headless.metadata.name;
        this.nodePort = service.spec.ports.apply((ports) => ports[0].nodePort);
        this.registerOutputs({
            namespace: this.namespace,
            statefulSetName: this.statefulSetName,
            serviceName: this.serviceName,
            headlessServiceName: this.headlessServiceName,
            nodePort: this.nodePort,
        });
    }
}
