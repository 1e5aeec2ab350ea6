/**
 * StatefulSetCanary: your StatefulSet (pod spec, claims, Services) with one image per version,
 * the template on `version` for pods with ordinal >= `partition` (pods below keep what they run),
 * and every step checked inside `pulumi up` (RolloutCheck): `up` returns when the step is done,
 * fails fast naming the stuck pod and why, replaces pods stuck on a reverted revision, and runs
 * the gates. One class for every language (index.ts exports it for the package schema).
 * Arguments are validated once, before any resource is registered.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StatefulSetCanaryArgs } from "./args";
import { analysisSettings } from "./analysis/settings";
import { ClusterAccess, clusterAccessFromConfig } from "./cluster";
import { CanaryContract, contractOf } from "./contract";
import { AppImage } from "./images/app-image";
import type { RegistryLogin } from "./images/cosign";
import { ImageSignature, SignatureCheck } from "./images/signature";
import { DEFAULTS } from "./options";
import { RolloutCheck } from "./rollout/check";
import type { GateSettings } from "./rollout/inputs";
import { canaryContainerName, imagesOf, missingPullCredentials, validateCanaryArgs, verifiesSignatures } from "./validate";
import { versionPageGate } from "./presets";
import { CanaryWorkload, CanaryWorkloadArgs } from "./workload";

export type { CanaryContract } from "./contract";

export const CANARY_TYPE = "sts-canary:index:StatefulSetCanary";

/** The gates of a step: the given ones, else the version page's for a version-page image. */
export function gateSettings(args: Pick<StatefulSetCanaryArgs, "gates" | "images" | "pinnedImages" | "version">): GateSettings {
    const gates = args.gates ?? {};
    const checkPage = gates.checkVersionPage ?? DEFAULTS.checkVersionPage;
    const http = gates.http ?? (checkPage && imagesOf(args)[args.version]?.versionPage ? versionPageGate(args.version) : undefined);
    return {
        bakeSeconds: gates.bakeSeconds ?? DEFAULTS.bakeSeconds,
        maxRestarts: gates.maxRestarts ?? DEFAULTS.maxRestarts,
        http: http ? { port: http.port, path: http.path, expectStatus: http.expectStatus ?? DEFAULTS.expectStatus, bodyPattern: http.bodyPattern } : undefined,
        analysis: gates.analysis ? analysisSettings(gates.analysis, gates.bakeSeconds ?? DEFAULTS.bakeSeconds) : undefined,
        metric: gates.metric ? { url: gates.metric.url, threshold: gates.metric.threshold, comparison: gates.metric.comparison === ">=" ? ">=" : "<=" } : undefined,
    };
}

/** Throws one InputPropertiesError with every problem, before anything (not even the component) is registered. */
function validated(name: string, args: StatefulSetCanaryArgs): Record<string, unknown> {
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

interface ImageRefs {
    /** version -> pinned reference */
    refs: Record<string, pulumi.Output<string>>;
    /** version -> its signature, for the images this stack builds and signs */
    signatures: Record<string, ImageSignature>;
}

/** Every version's pinned reference: what this stack builds, pushes (and signs), or what it is given. */
function imageRefs(parent: pulumi.Resource, name: string, args: StatefulSetCanaryArgs): ImageRefs {
    const repository = args.registry ? `${args.registry.server}/${args.registry.repository}` : "";
    const refs: Record<string, pulumi.Output<string>> = {};
    const signatures: Record<string, ImageSignature> = {};
    for (const [version, source] of Object.entries(imagesOf(args))) {
        if (source.ref !== undefined) {
            refs[version] = pulumi.output(source.ref);
            continue;
        }
        const registry = args.registry!;
        refs[version] = new AppImage(`${name}-${version}`, {
            version, build: source.build, versionPage: source.versionPage, repository, registryServer: registry.server,
            registryUsername: registry.username, registryPassword: registry.password,
            builder: args.imageBuilder ?? DEFAULTS.imageBuilder, buildDirectory: args.buildDirectory,
        }, { parent }).pinnedRef;
        const key = args.signatures;
        if (key?.privateKey !== undefined) {
            signatures[version] = new ImageSignature(`${name}-${version}-signature`, {
                ref: refs[version], privateKey: pulumi.secret(key.privateKey), password: pulumi.secret(key.password ?? ""),
                login: pulumi.secret(pulumi.output(registry.password).apply((password) => ({ server: registry.server, username: registry.username, password }))),
            }, { parent });
        }
    }
    return { refs, signatures };
}

/** The registry login that reads images: the pull account, else the pushing one, else none. */
function readLogin(args: StatefulSetCanaryArgs): pulumi.Output<RegistryLogin | undefined> {
    const pull = args.imagePull;
    const server = pull?.server ?? args.registry?.server;
    if (pull?.username !== undefined && pull.password !== undefined && server) {
        return pulumi.secret(pulumi.output(pull.password).apply((password) => ({ server, username: pull.username!, password })));
    }
    const registry = args.registry;
    if (!registry) return pulumi.output(undefined);
    return pulumi.secret(pulumi.output(registry.password).apply((password) => ({ server: registry.server, username: registry.username, password })));
}

/** Before the template moves: its image must be signed by one of the stack's public keys (when verification is on). */
function signatureCheck(parent: pulumi.Resource, name: string, args: StatefulSetCanaryArgs, images: ImageRefs): SignatureCheck | undefined {
    if (!verifiesSignatures(args)) return undefined;
    const signed = images.signatures[args.version];
    return new SignatureCheck(`${name}-signature`, {
        ref: images.refs[args.version], publicKeys: args.signatures!.publicKeys!, login: readLogin(args),
    }, { parent, dependsOn: signed ? [signed] : [] });
}

/** The pods' pull credentials: the pull-only account and existing Secrets; the pushing account never. */
function pullCredentials(args: StatefulSetCanaryArgs): Pick<CanaryWorkloadArgs, "pullSecret" | "pullSecretNames"> {
    const pull = args.imagePull;
    const server = pull?.server ?? args.registry?.server;
    return {
        pullSecret: pull?.username !== undefined && pull.password !== undefined && server ? { server, username: pull.username, password: pull.password } : undefined,
        pullSecretNames: pull?.secretNames,
    };
}

/** Which cluster: the provider the component builds from `cluster`, or the stack's default one. */
function clusterOf(parent: pulumi.ComponentResource, name: string, args: StatefulSetCanaryArgs):
    { access: pulumi.Output<ClusterAccess>; childOpts: pulumi.ComponentResourceOptions } {
    if (args.cluster) {
        const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: args.cluster.kubeconfig, context: args.cluster.context, cluster: args.cluster.cluster }, { parent });
        const cluster = args.cluster;
        return {
            access: pulumi.output(cluster.kubeconfig).apply((kubeconfig) => ({ kubeconfig, context: cluster.context, cluster: cluster.cluster })),
            childOpts: { parent, providers: { kubernetes: provider } },
        };
    }
    // Before any child exists: the rollout check could not know a passed provider's cluster.
    if (parent.getProvider("kubernetes::")) {
        throw new pulumi.InputPropertyError({
            propertyPath: "cluster",
            reason: "a Kubernetes provider was passed in the resource options: pass its kubeconfig/context as `cluster` instead, "
                + "so that the rollout check reads and acts on the same cluster",
        });
    }
    const kubernetes = new pulumi.Config("kubernetes");
    const access = clusterAccessFromConfig((key) => (key === "kubeconfig" ? undefined : kubernetes.get(key)));
    return {
        access: pulumi.output(kubernetes.getSecret("kubeconfig")).apply((k) => (k === undefined ? access : { ...access, kubeconfig: k })),
        childOpts: { parent },
    };
}

/** A canary release of a StatefulSet, moved by `version` and `partition`, checked inside every `pulumi up`. */
export class StatefulSetCanary extends pulumi.ComponentResource {
    /** version -> `<repo>:<version>@sha256:...` */
    declare public readonly images: pulumi.Output<Record<string, string>>;
    declare public readonly namespace: pulumi.Output<string>;
    declare public readonly statefulSetName: pulumi.Output<string>;
    /** The extra Service's name, if any. */
    declare public readonly serviceName: pulumi.Output<string | undefined>;
    declare public readonly headlessServiceName: pulumi.Output<string>;
    /** Node port of the extra Service, if it is a NodePort one. */
    declare public readonly nodePort: pulumi.Output<number | undefined>;
    /** ordinal -> version it runs (planned in a preview, observed after `up`). */
    declare public readonly ordinalVersions: pulumi.Output<Record<string, string>>;
    /** Version of the pods below the partition: the StatefulSet's current revision, read from the cluster. */
    declare public readonly stableVersion: pulumi.Output<string>;
    /** The step in words, e.g. `pods web-3..web-4: v1 -> v2; web-0..web-2 stay on v1`. */
    declare public readonly step: pulumi.Output<string>;
    /** What the rollout check found after the step. */
    declare public readonly rolloutSummary: pulumi.Output<string>;
    /** What tools need to operate this canary; export it as `stsCanary`. */
    declare public readonly contract: pulumi.Output<CanaryContract>;

    constructor(name: string, args: StatefulSetCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CANARY_TYPE, name, validated(name, args), opts);
        const { access, childOpts } = clusterOf(this, name, args);
        const images = imageRefs(this, name, args);
        const refs = images.refs;
        const verified = signatureCheck(this, name, args, images);
        const container = canaryContainerName(args)!;
        const workload = new CanaryWorkload(name, {
            ...args, name: args.name ?? name, container, image: refs[args.version],
            createNamespace: args.createNamespace ?? DEFAULTS.createNamespace,
            deleteNamespace: args.deleteNamespace ?? DEFAULTS.deleteNamespace,
            podManagementPolicy: args.podManagementPolicy ?? DEFAULTS.podManagementPolicy,
            minReadySeconds: args.minReadySeconds ?? DEFAULTS.minReadySeconds,
            ...pullCredentials(args),
        }, { ...childOpts, dependsOn: verified ? [verified] : [] });
        const missing = missingPullCredentials(args);
        if (missing) pulumi.log.warn(`${missing} (requirePullCredentials makes this an error)`, this);
        const check = new RolloutCheck(`${name}-rollout`, {
            namespace: workload.namespace, name: workload.statefulSetName, generation: workload.statefulSet.metadata.generation,
            replicas: args.replicas, partition: args.partition, version: args.version, image: refs[args.version], container,
            readyTimeoutSeconds: args.readyTimeoutSeconds ?? DEFAULTS.readyTimeoutSeconds,
            transientGraceSeconds: args.transientGraceSeconds ?? DEFAULTS.transientGraceSeconds,
            crashLoopRestarts: args.crashLoopRestarts ?? DEFAULTS.crashLoopRestarts,
            rolloutTimeoutSeconds: args.rolloutTimeoutSeconds ?? DEFAULTS.rolloutTimeoutSeconds,
            replaceStuckPods: args.replaceStuckPods ?? DEFAULTS.replaceStuckPods,
            expectedStableVersion: args.stableVersion ?? "",
            gates: gateSettings(args),
            cluster: access,
        }, { parent: this, dependsOn: [workload] });
        const outputs = {
            images: pulumi.all(refs),
            namespace: workload.namespace,
            statefulSetName: workload.statefulSetName,
            serviceName: workload.serviceName,
            headlessServiceName: workload.headlessServiceName,
            nodePort: workload.nodePort,
            ordinalVersions: check.ordinalVersions,
            stableVersion: check.stableVersion,
            step: check.step,
            rolloutSummary: check.summary,
            contract: contractOf(args, container, workload, pulumi.all(refs), check.stableVersion),
        };
        Object.assign(this, outputs);
        this.registerOutputs(outputs);
    }
}
