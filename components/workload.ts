/**
 * The Kubernetes side of a canary: the namespace (created, or an existing one), the image pull
 * Secret, the headless Service every StatefulSet needs, the StatefulSet from the user's pod spec
 * with the canary image in the named container, and an optional Service. The provider does not
 * wait for the StatefulSet (skipAwait): the component's RolloutCheck does, from live state.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StatefulSetCanaryArgs } from "./args";
import { VERSION_LABEL } from "./rollout/views";

/** On the pods' image pull Secret: the pull account's name. */
export const PULL_USER_ANNOTATION = "sts-canary.dev/pull-user";

/** Pulumi's StatefulSet await never finishes while partition > 0; the RolloutCheck replaces it. */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

type Container = k8s.types.input.core.v1.Container;
type Metadata = (objectName: pulumi.Input<string>, namespace: pulumi.Input<string>) => k8s.types.input.meta.v1.ObjectMeta;

/** The component's arguments the workload uses, with its defaults applied. */
export interface CanaryWorkloadArgs extends Pick<StatefulSetCanaryArgs, "namespace" | "replicas" | "partition" | "version" | "podSpec"
    | "podLabels" | "podAnnotations" | "labels" | "annotations" | "volumeClaimTemplates" | "persistentVolumeClaimRetentionPolicy" | "service"> {
    /** Name of the StatefulSet; pods are `<name>-<ordinal>`. */
    name: string;
    createNamespace: boolean;
    /** Delete the created namespace (and every volume claim in it) on destroy or rename; else it is retained. */
    deleteNamespace: boolean;
    /** Pinned image of `version`, put into the canary container. */
    image: pulumi.Input<string>;
    /** Name of the canary container in `podSpec`. */
    container: string;
    podManagementPolicy: string;
    minReadySeconds: number;
    /** A pull-only account for the pods' image pull Secret (never the pushing one). */
    pullSecret?: { server: string; username: pulumi.Input<string>; password: pulumi.Input<string> };
    /** Existing image pull Secrets in the namespace. */
    pullSecretNames?: string[];
}

export function recommendedLabels(name: string): Record<string, string> {
    return {
        ...selectorLabels(name),
        "app.kubernetes.io/part-of": "sts-canary",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

export function selectorLabels(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": name };
}

/** The `.dockerconfigjson` of an image pull Secret. */
export function dockerConfigJson(server: string, username: string, password: string): string {
    const auth = Buffer.from(`${username}:${password}`).toString("base64");
    return JSON.stringify({ auths: { [server]: { username, password, auth } } });
}

/** The containers with the canary image set in the named one; the others keep theirs. */
export function withCanaryImage(containers: Container[], container: string, image: string): Container[] {
    return containers.map((c) => (c.name === container ? { ...c, image } : c));
}

/** Ports of the headless Service: the canary container's ports, by name when they have one. */
export function headlessPorts(containers: Container[], container: string): k8s.types.input.core.v1.ServicePort[] {
    const ports = (containers.find((c) => c.name === container)?.ports ?? []) as k8s.types.input.core.v1.ContainerPort[];
    return ports.map((p) => ({
        name: p.name as string | undefined, port: p.containerPort as number, targetPort: (p.name ?? p.containerPort) as string | number,
        protocol: p.protocol,
    }));
}

export class CanaryWorkload extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly statefulSetName: pulumi.Output<string>;
    /** The extra Service's name, if there is one. */
    public readonly serviceName: pulumi.Output<string | undefined>;
    public readonly headlessServiceName: pulumi.Output<string>;
    /** First node port of the extra Service, if it is a NodePort one. */
    public readonly nodePort: pulumi.Output<number | undefined>;
    public readonly statefulSet: k8s.apps.v1.StatefulSet;

    constructor(name: string, args: CanaryWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sts-canary:index:CanaryWorkload", name, {}, opts);
        const labels = { ...recommendedLabels(args.name), ...(args.labels ?? {}) };
        const meta: Metadata = (objectName, namespace) => ({ name: objectName, namespace, labels, annotations: args.annotations });
        const namespace = this.namespaceOf(name, args);
        const pullSecrets = this.pullSecrets(name, args, meta(`${args.name}-registry`, namespace));
        const containers = pulumi.output<Container[]>(args.podSpec.containers);
        const canaryPorts = containers.apply((cs) => headlessPorts(cs, args.container));
        const headless = new k8s.core.v1.Service(`${name}-headless`, {
            metadata: meta(`${args.name}-headless`, namespace),
            spec: { clusterIP: "None", selector: selectorLabels(args.name), ports: canaryPorts },
        }, { parent: this });
        this.statefulSet = new k8s.apps.v1.StatefulSet(`${name}-sts`, {
            metadata: { ...meta(args.name, namespace), annotations: { ...(args.annotations ?? {}), [SKIP_AWAIT_ANNOTATION]: "true" } },
            spec: this.statefulSetSpec(args, labels, headless.metadata.name, pullSecrets, containers),
        }, { parent: this });
        const service = args.service ? new k8s.core.v1.Service(`${name}-service`, {
            metadata: meta(args.service.name ?? args.name, namespace),
            // Ports in Kubernetes' shape: `port` is required, the rest passes as given.
            spec: { type: args.service.type, selector: selectorLabels(args.name), ports: args.service.ports?.map((p) => ({ ...p, port: p.port })) ?? canaryPorts },
        }, { parent: this, dependsOn: [this.statefulSet], aliases: [{ name: `${name}-nodeport` }] }) : undefined;

        this.namespace = namespace;
        this.statefulSetName = this.statefulSet.metadata.name;
        this.serviceName = service ? service.metadata.name : pulumi.output(undefined);
        this.headlessServiceName = headless.metadata.name;
        this.nodePort = service ? service.spec.ports.apply((ports) => ports[0]?.nodePort) : pulumi.output(undefined);
        this.registerOutputs({
            namespace: this.namespace, statefulSetName: this.statefulSetName, serviceName: this.serviceName,
            headlessServiceName: this.headlessServiceName, nodePort: this.nodePort,
        });
    }

    /** The namespace: created (and kept on destroy unless deleteNamespace), or an existing one. */
    private namespaceOf(name: string, args: CanaryWorkloadArgs): pulumi.Output<string> {
        if (!args.createNamespace) return pulumi.output(args.namespace);
        return new k8s.core.v1.Namespace(`${name}-ns`, {
            metadata: { name: args.namespace, labels: { "app.kubernetes.io/managed-by": "pulumi", ...(args.labels ?? {}) } },
        // Deleting a namespace deletes every PersistentVolumeClaim in it, whatever the StatefulSet's
        // retention policy says: a destroy or a rename leaves it in place unless asked.
        }, { parent: this, retainOnDelete: !args.deleteNamespace }).metadata.name;
    }

    /** The pods' image pull Secrets: one made from the pull-only account, and the existing ones named. */
    private pullSecrets(name: string, args: CanaryWorkloadArgs, metadata: ReturnType<Metadata>): k8s.types.input.core.v1.LocalObjectReference[] {
        const named = (args.pullSecretNames ?? []).map((secretName) => ({ name: secretName }));
        if (!args.pullSecret) return named;
        const { server, username, password } = args.pullSecret;
        const secret = new k8s.core.v1.Secret(`${name}-pull`, {
            // The account's name (not its password) for audits and the policy pack's push-account rule.
            metadata: { ...metadata, annotations: pulumi.all([metadata.annotations ?? {}, username]).apply(([own, user]) => ({ ...own, [PULL_USER_ANNOTATION]: user })) },
            type: "kubernetes.io/dockerconfigjson",
            stringData: { ".dockerconfigjson": pulumi.secret(pulumi.all([username, password]).apply(([u, p]) => dockerConfigJson(server, u, p))) },
        }, { parent: this });
        return [{ name: secret.metadata.name }, ...named];
    }

    /** The user's pod spec with the canary image, as a partitioned RollingUpdate StatefulSet. */
    private statefulSetSpec(args: CanaryWorkloadArgs, labels: Record<string, string>, serviceName: pulumi.Input<string>,
        pullSecrets: k8s.types.input.core.v1.LocalObjectReference[], containers: pulumi.Output<Container[]>): k8s.types.input.apps.v1.StatefulSetSpec {
        return {
            serviceName,
            replicas: args.replicas,
            podManagementPolicy: args.podManagementPolicy,
            minReadySeconds: args.minReadySeconds > 0 ? args.minReadySeconds : undefined,
            selector: { matchLabels: selectorLabels(args.name) },
            updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: args.partition } },
            persistentVolumeClaimRetentionPolicy: args.persistentVolumeClaimRetentionPolicy,
            volumeClaimTemplates: args.volumeClaimTemplates,
            template: {
                metadata: { labels: { ...labels, ...(args.podLabels ?? {}), [VERSION_LABEL]: args.version }, annotations: args.podAnnotations },
                spec: {
                    ...args.podSpec,
                    imagePullSecrets: pulumi.output(args.podSpec.imagePullSecrets ?? []).apply((own) => [...own, ...pullSecrets]),
                    containers: pulumi.all([containers, args.image]).apply(([cs, image]) => withCanaryImage(cs, args.container, image)),
                },
            },
        };
    }
}
