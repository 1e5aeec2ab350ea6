/**
 * StatefulSetCanary: your StatefulSet (pod spec, claims, Services) with one image per version,
 * the template on `version` for pods with ordinal >= `partition` (pods below keep what they run),
 * and every step checked inside `pulumi up` (RolloutCheck): `up` returns when the step is done,
 * fails fast naming the stuck pod and why, replaces pods stuck on a reverted revision, and runs
 * the gates. Arguments are validated once, before any resource is registered.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CANARY_DEFAULTS, CanaryArgs } from "./args";
import { ClusterAccess, clusterAccessFromConfig } from "./cluster";
import { AppImage } from "./images/app-image";
import { RolloutCheck } from "./rollout/check";
import type { GateSettings } from "./rollout/gates";
import { canaryContainerName, validateCanaryArgs } from "./validate";
import { versionPageGate } from "./presets";
import { CanaryWorkload } from "./workload";

/**
 * What a program exports (as the stack output `stsCanary`) so that tools operate its canary without
 * knowing the program: the sts-canary tool reads it for any stack, TypeScript or YAML.
 */
export interface CanaryContract {
    /** Version of this contract's shape. */
    contract: number;
    namespace: string;
    statefulSetName: string;
    /** Container that runs the canary image. */
    container: string;
    /** version -> pinned image reference, for every version this stack can deploy. */
    images: Record<string, string>;
    /** Version of the template (pods with ordinal >= partition). */
    templateVersion: string;
    partition: number;
    replicas: number;
    /** Version of the pods below the partition, read from the cluster (the StatefulSet's current revision). */
    stableVersion: string;
}

/** The gates of a step: the given ones, else the version page's for a version-page image. */
export function gateSettings(args: Pick<CanaryArgs, "gates" | "images" | "version">): GateSettings {
    const gates = args.gates ?? {};
    const http = gates.http
        ?? (gates.checkVersionPage !== false && args.images[args.version]?.versionPage ? versionPageGate(args.version) : undefined);
    return {
        bakeSeconds: gates.bakeSeconds ?? CANARY_DEFAULTS.bakeSeconds,
        maxRestarts: gates.maxRestarts ?? CANARY_DEFAULTS.maxRestarts,
        http: http ? { port: http.port, path: http.path, expectStatus: http.expectStatus ?? CANARY_DEFAULTS.expectStatus, bodyPattern: http.bodyPattern } : undefined,
        metric: gates.metric ? { url: gates.metric.url, threshold: gates.metric.threshold, comparison: gates.metric.comparison === ">=" ? ">=" : "<=" } : undefined,
    };
}

/** What the component exposes; both StatefulSetCanary classes (typed, and the package's) declare these. */
export interface CanaryOutputs {
    /** version -> `<repo>:<version>@sha256:...` */
    images: pulumi.Output<Record<string, string>>;
    namespace: pulumi.Output<string>;
    statefulSetName: pulumi.Output<string>;
    /** The extra Service's name, if any. */
    serviceName: pulumi.Output<string | undefined>;
    headlessServiceName: pulumi.Output<string>;
    /** Node port of the extra Service, if it is a NodePort one. */
    nodePort: pulumi.Output<number | undefined>;
    /** ordinal -> version it runs (planned in a preview, observed after `up`). */
    ordinalVersions: pulumi.Output<Record<string, string>>;
    /** Version of the pods below the partition: the StatefulSet's current revision, read from the cluster. */
    stableVersion: pulumi.Output<string>;
    /** The step in words, e.g. `pods web-3..web-4: v1 -> v2; web-0..web-2 stay on v1`. */
    step: pulumi.Output<string>;
    /** What the rollout check found after the step. */
    rolloutSummary: pulumi.Output<string>;
    /** What tools need to operate this canary; export it as `stsCanary`. */
    contract: pulumi.Output<CanaryContract>;
}

export const CANARY_TYPE = "sts-canary:index:StatefulSetCanary";

/**
 * Validates the arguments (every problem at once, one InputPropertiesError) and returns what the
 * component records as its own inputs. Called in `super(...)`, so invalid arguments register nothing,
 * not even the component.
 */
export function validatedInputs(name: string, args: CanaryArgs): Record<string, unknown> {
    const problems = validateCanaryArgs(args);
    if (problems.length > 0) {
        throw new pulumi.InputPropertiesError({
            message: `invalid arguments of StatefulSetCanary "${name}" (nothing was created):\n`
                + problems.map((p) => `  - ${p.propertyPath}: ${p.reason}`).join("\n"),
            errors: problems,
        });
    }
    return { version: args.version, partition: args.partition, replicas: args.replicas };
}

/** The component's children under `parent`: images, workload, rollout check (arguments already validated). */
export function buildCanary(parent: pulumi.ComponentResource, name: string, args: CanaryArgs): CanaryOutputs {
    const stsName = args.name ?? name;
    const container = canaryContainerName(args) as string;
    const repository = args.registry ? `${args.registry.server}/${args.registry.repository}` : "";
    // Before any child exists: the rollout check could not know a passed provider's cluster.
    if (!args.cluster && parent.getProvider("kubernetes::")) {
        throw new pulumi.InputPropertyError({
            propertyPath: "cluster",
            reason: "a Kubernetes provider was passed in the resource options: pass its kubeconfig/context as `cluster` instead, "
                + "so that the rollout check reads and acts on the same cluster",
        });
    }

    // Every version's pinned reference: what this stack builds and pushes, or what it is given.
    const refs: Record<string, pulumi.Output<string>> = {};
    for (const [version, source] of Object.entries(args.images)) {
        if (source.ref !== undefined) {
            refs[version] = pulumi.output(source.ref);
            continue;
        }
        const registry = args.registry!;
        refs[version] = new AppImage(`${name}-${version}`, {
            version, build: source.build, versionPage: source.versionPage, repository, registryServer: registry.server,
            registryUsername: registry.username, registryPassword: registry.password,
            builder: args.imageBuilder ?? CANARY_DEFAULTS.imageBuilder, buildDirectory: args.buildDirectory,
        }, { parent }).pinnedRef;
    }

    // Which cluster: the provider the component builds from `cluster`, or the stack's default one.
    let clusterAccess: pulumi.Output<ClusterAccess>;
    let childOpts: pulumi.ComponentResourceOptions = { parent };
    if (args.cluster) {
        const provider = new k8s.Provider(`${name}-k8s`, {
            kubeconfig: args.cluster.kubeconfig, context: args.cluster.context, cluster: args.cluster.cluster,
        }, { parent });
        childOpts = { parent, providers: { kubernetes: provider } };
        clusterAccess = pulumi.output(args.cluster).apply((c) => JSON.parse(JSON.stringify(c)) as ClusterAccess);
    } else {
        const kubernetes = new pulumi.Config("kubernetes");
        const access = clusterAccessFromConfig((key) => (key === "kubeconfig" ? undefined : kubernetes.get(key)));
        clusterAccess = pulumi.output(kubernetes.getSecret("kubeconfig")).apply((k) => (k === undefined ? access : { ...access, kubeconfig: k }));
    }

    const workload = new CanaryWorkload(name, {
        name: stsName,
        namespace: args.namespace,
        createNamespace: args.createNamespace ?? CANARY_DEFAULTS.createNamespace,
        deleteNamespace: args.deleteNamespace ?? CANARY_DEFAULTS.deleteNamespace,
        replicas: args.replicas,
        partition: args.partition,
        version: args.version,
        image: refs[args.version],
        container,
        podSpec: args.podSpec,
        podLabels: args.podLabels,
        podAnnotations: args.podAnnotations,
        labels: args.labels,
        annotations: args.annotations,
        volumeClaimTemplates: args.volumeClaimTemplates,
        persistentVolumeClaimRetentionPolicy: args.persistentVolumeClaimRetentionPolicy,
        podManagementPolicy: args.podManagementPolicy ?? CANARY_DEFAULTS.podManagementPolicy,
        minReadySeconds: args.minReadySeconds ?? CANARY_DEFAULTS.minReadySeconds,
        pullSecret: args.registry ? { server: args.registry.server, username: args.registry.username, password: args.registry.password } : undefined,
        service: args.service,
    }, childOpts);

    const check = new RolloutCheck(`${name}-rollout`, {
        namespace: workload.namespace,
        name: workload.statefulSetName,
        generation: workload.statefulSet.metadata.generation,
        replicas: args.replicas,
        partition: args.partition,
        version: args.version,
        image: refs[args.version],
        container,
        readyTimeoutSeconds: args.readyTimeoutSeconds ?? CANARY_DEFAULTS.readyTimeoutSeconds,
        transientGraceSeconds: args.transientGraceSeconds ?? CANARY_DEFAULTS.transientGraceSeconds,
        crashLoopRestarts: args.crashLoopRestarts ?? CANARY_DEFAULTS.crashLoopRestarts,
        rolloutTimeoutSeconds: args.rolloutTimeoutSeconds ?? CANARY_DEFAULTS.rolloutTimeoutSeconds,
        replaceStuckPods: args.replaceStuckPods ?? CANARY_DEFAULTS.replaceStuckPods,
        expectedStableVersion: args.stableVersion ?? "",
        gates: gateSettings(args),
        cluster: clusterAccess,
    }, { parent, dependsOn: [workload] });

    const images = pulumi.all(refs);
    return {
        images,
        namespace: workload.namespace,
        statefulSetName: workload.statefulSetName,
        serviceName: workload.serviceName,
        headlessServiceName: workload.headlessServiceName,
        nodePort: workload.nodePort,
        ordinalVersions: check.ordinalVersions,
        stableVersion: check.stableVersion,
        step: check.step,
        rolloutSummary: check.summary,
        contract: pulumi.all([workload.namespace, workload.statefulSetName, images, check.stableVersion])
            .apply(([namespace, statefulSetName, imageRefs, stableVersion]) => ({
                contract: 1, namespace, statefulSetName, container, images: imageRefs,
                templateVersion: args.version, partition: args.partition, replicas: args.replicas, stableVersion,
            })),
    };
}

/** StatefulSetCanary for TypeScript programs: arguments in Kubernetes' own input types. */
export class StatefulSetCanary extends pulumi.ComponentResource implements CanaryOutputs {
    declare public readonly images: pulumi.Output<Record<string, string>>;
    declare public readonly namespace: pulumi.Output<string>;
    declare public readonly statefulSetName: pulumi.Output<string>;
    declare public readonly serviceName: pulumi.Output<string | undefined>;
    declare public readonly headlessServiceName: pulumi.Output<string>;
    declare public readonly nodePort: pulumi.Output<number | undefined>;
    declare public readonly ordinalVersions: pulumi.Output<Record<string, string>>;
    declare public readonly stableVersion: pulumi.Output<string>;
    declare public readonly step: pulumi.Output<string>;
    declare public readonly rolloutSummary: pulumi.Output<string>;
    declare public readonly contract: pulumi.Output<CanaryContract>;

    constructor(name: string, args: CanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CANARY_TYPE, name, validatedInputs(name, args), opts);
        const outputs = buildCanary(this, name, args);
        Object.assign(this, outputs);
        this.registerOutputs(outputs);
    }
}
