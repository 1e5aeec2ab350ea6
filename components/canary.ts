/**
 * StatefulSetCanary: builds and pushes one image per version, then runs the StatefulSet with the
 * template on `imageTag` and pods below `partition` on `stableTag`. Moving `partition` and
 * `imageTag` and running `pulumi up` moves the canary; `up` returns when the step is done.
 */
import * as pulumi from "@pulumi/pulumi";
import { AppImage } from "./app-image";
import { OrdinalVersions, RolloutRecord, planOrdinalVersions } from "./rollout";
import { CanarySettings, DEFAULTS, RawSettings, keyValueEntries, validateSettings } from "./settings";
import { CanaryWorkload } from "./workload";

export interface StatefulSetCanaryArgs {
    /** Every version to build and push, e.g. ["v1", "v2"]. */
    versions?: string[];
    /** Versions built elsewhere, deployed as they are: version -> `<repo>[:<tag>]@sha256:...`. */
    pinnedImages?: Record<string, string>;
    /** Version of the StatefulSet template (runs on ordinals >= partition). */
    imageTag: pulumi.Input<string>;
    /** Version of pods below the partition (the last fully rolled-out version); defaults to imageTag. */
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
    /** Seconds `up` waits for a rollout step (default 600). */
    rolloutTimeoutSeconds?: pulumi.Input<number>;
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
    /** ordinal -> planned version, e.g. {"0":"v1",...,"3":"v2","4":"v2"} */
    public readonly ordinalVersions: pulumi.Output<OrdinalVersions>;
    /** What this deployment rolled out; resolves only once the StatefulSet step is done. */
    public readonly rollout: pulumi.Output<RolloutRecord>;

    constructor(name: string, args: StatefulSetCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sts-canary:index:StatefulSetCanary", name, args, opts);
        const versions = args.versions ?? DEFAULTS.versions;
        const pinnedImages = args.pinnedImages ?? {};
        const appName = args.appName ?? DEFAULTS.appName;
        const imageBuilder = args.imageBuilder ?? DEFAULTS.imageBuilder;

        // Validated once; every child takes its values from here, so invalid args create nothing.
        const settings: pulumi.Output<CanarySettings> = pulumi.all({
            imageTag: args.imageTag,
            stableTag: args.stableTag ?? args.imageTag,
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
        }).apply((values) => {
            const raw: RawSettings = {
                versions: JSON.stringify(versions),
                nodeSelector: JSON.stringify(keyValueEntries(args.nodeSelector ?? {})),
                tolerations: JSON.stringify(args.tolerations ?? []),
                pinnedImages: JSON.stringify(keyValueEntries(pinnedImages)),
                appName,
                imageBuilder,
            };
            for (const [key, value] of Object.entries(values)) raw[key as keyof RawSettings] = String(value);
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

        const workload = new CanaryWorkload(name, {
            appName,
            namespace: pick("namespace"),
            replicas: pick("replicas"),
            partition: pick("partition"),
            imageTag: pick("imageTag"),
            stableTag: pick("stableTag"),
            image: templateImage,
            registryServer: pick("registryServer"),
            registryUsername: pick("registryUsername"),
            registryPassword: args.registryPassword,
            nodePort: pick("nodePort"),
            rolloutTimeoutSeconds: pick("rolloutTimeoutSeconds"),
            nodeSelector: pick("nodeSelector"),
            tolerations: pick("tolerations"),
        }, { parent: this });

        this.images = pulumi.all(refs);
        this.namespace = workload.namespace;
        this.statefulSetName = workload.statefulSetName;
        this.serviceName = workload.serviceName;
        this.headlessServiceName = workload.headlessServiceName;
        this.nodePortUrl = pulumi.interpolate`http://${pick("nodeAddress")}:${workload.nodePort}/`;
        this.ordinalVersions = settings.apply((s) => planOrdinalVersions({
            replicas: s.replicas, partition: s.partition, imageTag: s.imageTag, stableTag: s.stableTag ?? s.imageTag,
        }));
        // Tied to the StatefulSet so a failed or unfinished step is never recorded as done.
        this.rollout = pulumi.all([settings, workload.statefulSet.metadata.uid]).apply(([s]) => ({
            imageTag: s.imageTag, partition: s.partition, stableTag: s.stableTag ?? s.imageTag, replicas: s.replicas,
        }));
        this.registerOutputs({
            images: this.images,
            namespace: this.namespace,
            statefulSetName: this.statefulSetName,
            serviceName: this.serviceName,
            headlessServiceName: this.headlessServiceName,
            nodePortUrl: this.nodePortUrl,
            ordinalVersions: this.ordinalVersions,
            rollout: this.rollout,
        });
    }
}
