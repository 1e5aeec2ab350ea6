/**
 * StatefulSetCanary: builds and pushes one image per version, runs the StatefulSet with the
 * template on `imageTag` (pods with ordinal >= `partition`; pods below keep the version they run),
 * and checks every step inside `pulumi up` (RolloutCheck): `up` returns when the step is done,
 * fails fast naming the stuck pod and why, replaces pods stuck on a reverted revision, and runs
 * the gates.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppImage } from "./app-image";
import { versionLabel } from "./app-content";
import { ClusterAccess, clusterAccessFromConfig } from "./cluster";
import { RolloutCheck } from "./rollout/check";
import type { GateSettings } from "./rollout/gates";
import { CanarySettings, DEFAULTS, RawSettings, keyValueEntries, validateSettings } from "./settings";
import { CanaryWorkload } from "./workload";

/** The cluster to deploy to and check, when it is not this stack's default Kubernetes provider. */
export interface ClusterAccessArgs {
    /** A kubeconfig path or the kubeconfig itself; pass a secret. */
    kubeconfig?: pulumi.Input<string>;
    /** Context of the kubeconfig to use. */
    context?: pulumi.Input<string>;
    /** Cluster of the kubeconfig to use instead of the context's. */
    cluster?: pulumi.Input<string>;
}

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

/** Container of the built-in app (the seed's nginx), where the canary image goes. */
export const APP_CONTAINER = "nginx";
const APP_PORT = 80;

/** Escapes a literal for use in a regular expression. */
export function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Gates of a step: bake, restarts, the built-in app's version page, an optional metric. */
export function gateSettings(s: Pick<CanarySettings, "bakeSeconds" | "maxRestarts" | "checkVersionPage" | "metric" | "imageTag">): GateSettings {
    return {
        bakeSeconds: s.bakeSeconds,
        maxRestarts: s.maxRestarts,
        http: s.checkVersionPage
            ? { port: APP_PORT, path: "/version.html", expectStatus: 200, bodyPattern: escapeRegExp(`This is ${versionLabel(s.imageTag)}`) }
            : undefined,
        metric: s.metric,
    };
}

export interface StatefulSetCanaryArgs {
    /** Every version to build and push, e.g. ["v1", "v2"]. */
    versions?: string[];
    /** Versions built elsewhere, deployed as they are: version -> `<repo>[:<tag>]@sha256:...`. */
    pinnedImages?: Record<string, string>;
    /** Version of the StatefulSet template (runs on ordinals >= partition). */
    imageTag: pulumi.Input<string>;
    /** Expected version of the pods below the partition; when set, a step whose lower pods run another version fails. */
    stableTag?: pulumi.Input<string>;
    /** Pods with ordinal >= partition run imageTag. 0 = everyone. */
    partition: pulumi.Input<number>;
    /** Number of pods (default 5). */
    replicas?: pulumi.Input<number>;
    /** Namespace to create (default "sts"). */
    namespace?: pulumi.Input<string>;
    /** StatefulSet/Service name (default "nginx"). */
    appName?: string;
    /** Registry host[:port] (Harbor), e.g. harbor.example.com. */
    registryServer: pulumi.Input<string>;
    /** Harbor project (default "library"). */
    registryProject?: pulumi.Input<string>;
    /** Repository (default "version-test"). */
    repository?: pulumi.Input<string>;
    /** Registry user (default "admin"). */
    registryUsername?: pulumi.Input<string>;
    /** Registry password; pass a secret. */
    registryPassword: pulumi.Input<string>;
    /** NodePort, 30000-32767 (default 30080). */
    nodePort?: pulumi.Input<number>;
    /** Host answering on the NodePort, for the exported URL (default 127.0.0.1). */
    nodeAddress?: pulumi.Input<string>;
    /** nginx base image (default nginx:latest). */
    baseImage?: pulumi.Input<string>;
    /** "pulumi-docker" (default) or "docker-cli". */
    imageBuilder?: string;
    /** Outer bound of a rollout step in `up`, in seconds (default 600). */
    rolloutTimeoutSeconds?: pulumi.Input<number>;
    /** Seconds a pod may stay unready during a step before `up` fails naming it (default 120). */
    readyTimeoutSeconds?: pulumi.Input<number>;
    /** Delete pods stuck on a revision other than the template's at or above the partition, so the controller recreates them (default true). */
    replaceStuckPods?: pulumi.Input<boolean>;
    /** Seconds the canary runs before restarts, pages and the metric are judged (default 0). */
    bakeSeconds?: pulumi.Input<number>;
    /** Container restarts (or replacements) tolerated per canary pod during the bake (default 0). */
    maxRestarts?: pulumi.Input<number>;
    /** Every canary pod must serve /version.html saying "This is V<n>" (default true). */
    checkVersionPage?: pulumi.Input<boolean>;
    /** Optional metric gate: URL returning a number (plain text or a Prometheus instant query). */
    metricUrl?: pulumi.Input<string>;
    /** Threshold of the metric gate (required with metricUrl). */
    metricThreshold?: pulumi.Input<number>;
    /** "<=" (default) or ">=": the metric passes when `value <comparison> threshold`. */
    metricComparison?: pulumi.Input<string>;
    /** The cluster, when not this stack's `kubernetes:` config; the component then builds its own Kubernetes provider from it. */
    cluster?: ClusterAccessArgs;
    /** Directory for build contexts (default .build/images). */
    buildDirectory?: string;
    /** Pod nodeSelector, e.g. {"pool": "web"}. */
    nodeSelector?: Record<string, string>;
    /** Pod tolerations as `key=value:Effect` or `key:Effect`. */
    tolerations?: string[];
}

export class StatefulSetCanary extends pulumi.ComponentResource {
    /** version -> `<repo>:<version>@sha256:...` */
    public readonly images: pulumi.Output<Record<string, string>>;
    public readonly namespace: pulumi.Output<string>;
    public readonly statefulSetName: pulumi.Output<string>;
    public readonly serviceName: pulumi.Output<string>;
    public readonly headlessServiceName: pulumi.Output<string>;
    public readonly nodePortUrl: pulumi.Output<string>;
    /** ordinal -> version it runs, e.g. {"0":"v1",...,"3":"v2","4":"v2"} (planned in a preview, observed after `up`) */
    public readonly ordinalVersions: pulumi.Output<Record<string, string>>;
    /** Version of the pods below the partition: the StatefulSet's current revision, read from the cluster. */
    public readonly stableVersion: pulumi.Output<string>;
    /** The step in words, e.g. `pods web-3..web-4: v1 -> v2; web-0..web-2 stay on v1`. */
    public readonly step: pulumi.Output<string>;
    /** What the rollout check found after the step. */
    public readonly rolloutSummary: pulumi.Output<string>;
    /** What tools need to operate this canary; export it as `stsCanary`. */
    public readonly contract: pulumi.Output<CanaryContract>;

    constructor(name: string, args: StatefulSetCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sts-canary:index:StatefulSetCanary", name, args, opts);
        const versions = args.versions ?? DEFAULTS.versions;
        const pinnedImages = args.pinnedImages ?? {};
        const appName = args.appName ?? DEFAULTS.appName;
        const imageBuilder = args.imageBuilder ?? DEFAULTS.imageBuilder;

        // Validated once; every child takes its values from here, so invalid args create nothing.
        const settings: pulumi.Output<CanarySettings> = pulumi.all({
            imageTag: args.imageTag,
            stableTag: args.stableTag,
            partition: args.partition,
            replicas: args.replicas ?? DEFAULTS.replicas,
            namespace: args.namespace ?? DEFAULTS.namespace,
            registryServer: args.registryServer,
            registryProject: args.registryProject ?? DEFAULTS.registryProject,
            repository: args.repository ?? DEFAULTS.repository,
            registryUsername: args.registryUsername ?? DEFAULTS.registryUsername,
            nodePort: args.nodePort ?? DEFAULTS.nodePort,
            nodeAddress: args.nodeAddress ?? DEFAULTS.nodeAddress,
            baseImage: args.baseImage ?? DEFAULTS.baseImage,
            rolloutTimeoutSeconds: args.rolloutTimeoutSeconds ?? DEFAULTS.rolloutTimeoutSeconds,
            readyTimeoutSeconds: args.readyTimeoutSeconds ?? DEFAULTS.readyTimeoutSeconds,
            replaceStuckPods: args.replaceStuckPods ?? DEFAULTS.replaceStuckPods,
            bakeSeconds: args.bakeSeconds ?? DEFAULTS.bakeSeconds,
            maxRestarts: args.maxRestarts ?? DEFAULTS.maxRestarts,
            checkVersionPage: args.checkVersionPage ?? DEFAULTS.checkVersionPage,
            metricUrl: args.metricUrl ?? "",
            metricThreshold: args.metricThreshold ?? "",
            metricComparison: args.metricComparison ?? "<=",
        }).apply((values) => {
            const raw: RawSettings = {
                versions: JSON.stringify(versions),
                nodeSelector: JSON.stringify(keyValueEntries(args.nodeSelector ?? {})),
                tolerations: JSON.stringify(args.tolerations ?? []),
                pinnedImages: JSON.stringify(keyValueEntries(pinnedImages)),
                appName,
                imageBuilder,
            };
            for (const [key, value] of Object.entries(values)) if (value !== undefined) raw[key as keyof RawSettings] = String(value);
            return validateSettings(raw);
        });
        const pick = <K extends keyof CanarySettings>(key: K) => settings.apply((s) => s[key] as NonNullable<CanarySettings[K]>);

        const images: Record<string, AppImage> = {};
        // A pinned version (e.g. the digest verified in another stack) is never rebuilt here.
        const builtVersions = versions.filter((v) => pinnedImages[v] === undefined);
        for (const version of builtVersions) {
            images[version] = new AppImage(`${name}-${version}`, {
                version,
                baseImage: pick("baseImage"),
                registryServer: pick("registryServer"),
                registryProject: pick("registryProject"),
                repository: pick("repository"),
                registryUsername: pick("registryUsername"),
                registryPassword: args.registryPassword,
                builder: imageBuilder,
                buildDirectory: args.buildDirectory,
            }, { parent: this });
        }
        // Every version's pinned reference: what this stack pushed, or what it was given.
        const refs: Record<string, pulumi.Output<string>> = {};
        for (const version of builtVersions) refs[version] = images[version].pinnedRef;
        for (const [version, ref] of Object.entries(pinnedImages)) refs[version] = pulumi.output(ref);
        // The template pins the digest of the image that was actually pushed (or verified) for imageTag.
        const templateImage = pick("imageTag").apply((tag) => refs[tag]);

        // Which cluster: the provider the component builds from `cluster`, or the stack's default one.
        let clusterAccess: pulumi.Output<ClusterAccess>;
        let childOpts: pulumi.ComponentResourceOptions = { parent: this };
        if (args.cluster) {
            const provider = new k8s.Provider(`${name}-k8s`, {
                kubeconfig: args.cluster.kubeconfig, context: args.cluster.context, cluster: args.cluster.cluster,
            }, { parent: this });
            childOpts = { parent: this, providers: { kubernetes: provider } };
            clusterAccess = pulumi.output(args.cluster).apply((c) => JSON.parse(JSON.stringify(c)) as ClusterAccess);
        } else {
            if (this.getProvider("kubernetes::")) {
                throw new pulumi.InputPropertyError({
                    propertyPath: "cluster",
                    reason: "a Kubernetes provider was passed in the resource options: pass its kubeconfig/context as `cluster` instead, "
                        + "so that the rollout check reads and acts on the same cluster",
                });
            }
            const kubernetes = new pulumi.Config("kubernetes");
            const access = clusterAccessFromConfig((key) => (key === "kubeconfig" ? undefined : kubernetes.get(key)));
            const kubeconfig = kubernetes.getSecret("kubeconfig");
            clusterAccess = pulumi.all([kubeconfig]).apply(([k]) => (k === undefined ? access : { ...access, kubeconfig: k }));
        }

        const workload = new CanaryWorkload(name, {
            appName,
            namespace: pick("namespace"),
            replicas: pick("replicas"),
            partition: pick("partition"),
            imageTag: pick("imageTag"),
            image: templateImage,
            registryServer: pick("registryServer"),
            registryUsername: pick("registryUsername"),
            registryPassword: args.registryPassword,
            nodePort: pick("nodePort"),
            nodeSelector: pick("nodeSelector"),
            tolerations: pick("tolerations"),
        }, childOpts);

        const check = new RolloutCheck(`${name}-rollout`, {
            namespace: workload.namespace,
            name: workload.statefulSetName,
            generation: workload.statefulSet.metadata.generation,
            replicas: pick("replicas"),
            partition: pick("partition"),
            version: pick("imageTag"),
            image: templateImage,
            container: APP_CONTAINER,
            readyTimeoutSeconds: pick("readyTimeoutSeconds"),
            rolloutTimeoutSeconds: pick("rolloutTimeoutSeconds"),
            replaceStuckPods: pick("replaceStuckPods"),
            expectedStableVersion: settings.apply((s) => s.stableTag ?? ""),
            gates: settings.apply(gateSettings),
            cluster: clusterAccess,
        }, { parent: this, dependsOn: [workload] });

        this.images = pulumi.all(refs);
        this.namespace = workload.namespace;
        this.statefulSetName = workload.statefulSetName;
        this.serviceName = workload.serviceName;
        this.headlessServiceName = workload.headlessServiceName;
        this.nodePortUrl = pulumi.interpolate`http://${pick("nodeAddress")}:${workload.nodePort}/`;
        this.ordinalVersions = check.ordinalVersions;
        this.stableVersion = check.stableVersion;
        this.step = check.step;
        this.rolloutSummary = check.summary;
        this.contract = pulumi.all([workload.namespace, workload.statefulSetName, this.images, settings, check.stableVersion])
            .apply(([namespace, statefulSetName, images, s, stableVersion]) => ({
                contract: 1, namespace, statefulSetName, container: APP_CONTAINER, images,
                templateVersion: s.imageTag, partition: s.partition, replicas: s.replicas, stableVersion,
            }));
        this.registerOutputs({
            images: this.images,
            namespace: this.namespace,
            statefulSetName: this.statefulSetName,
            serviceName: this.serviceName,
            headlessServiceName: this.headlessServiceName,
            nodePortUrl: this.nodePortUrl,
            ordinalVersions: this.ordinalVersions,
            stableVersion: this.stableVersion,
            step: this.step,
            rolloutSummary: this.rolloutSummary,
            contract: this.contract,
        });
    }
}
