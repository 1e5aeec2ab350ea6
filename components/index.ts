// Entry point of the sts-canary component package (PulumiPlugin.yaml, runtime nodejs): the plugin
// host infers the schema from the classes exported here. Kubernetes structures (pod spec, claims,
// Service ports) are maps in the schema: the schema inference cannot express Kubernetes' input
// types (their IntOrString fields are unions), so other languages pass them as plain objects in
// Kubernetes' own shape; TypeScript programs use canary.ts with the typed arguments.
import * as pulumi from "@pulumi/pulumi";
import type { CanaryArgs, ClusterAccessArgs, GateArgs, ImageSourceArgs, RegistryArgs } from "./args";
import { CANARY_TYPE, CanaryContract, buildCanary, validatedInputs } from "./canary";

/** A Service in front of the pods, besides the headless one. */
export interface ServiceOptions {
    /** ClusterIP, NodePort or LoadBalancer. */
    type: string;
    /** Name (default: the StatefulSet's). */
    name?: string;
    /** Kubernetes ServicePorts (default: the canary container's named ports). */
    ports?: { [key: string]: any }[];
}

/** The StatefulSet's persistentVolumeClaimRetentionPolicy. */
export interface ClaimRetentionPolicy {
    /** Retain (default) or Delete: what happens to the claims when the StatefulSet is deleted. */
    whenDeleted?: string;
    /** Retain (default) or Delete: what happens to the claims of pods removed by scaling down. */
    whenScaled?: string;
}

export interface StatefulSetCanaryArgs {
    /** Version the template runs: pods with ordinal >= partition. One of `images`. */
    version: string;
    /** Pods with ordinal >= partition run `version`; pods below keep what they run. 0..replicas. */
    partition: number;
    /** Number of pods, 1..1000. */
    replicas: number;
    /** Every version this stack can deploy, and where its image comes from (exactly one of build, ref, versionPage). */
    images: Record<string, ImageSourceArgs>;
    /** Registry for built images and the pods' pull Secret (required when a version is built). */
    registry?: RegistryArgs;
    /** "pulumi-docker" (default) or "docker-cli". */
    imageBuilder?: string;
    /** Where version-page build contexts are written (default .build/images). */
    buildDirectory?: string;
    /** StatefulSet name; pods are <name>-<ordinal> (default: the resource name). */
    name?: string;
    /** Namespace of everything. */
    namespace: string;
    /** Create the namespace (default true), or use an existing one. */
    createNamespace?: boolean;
    /** Extra labels on every object (and the pods). */
    labels?: Record<string, string>;
    /** Extra annotations on every object. */
    annotations?: Record<string, string>;
    /** The pod template's spec, a Kubernetes PodSpec; leave the canary container's image out (it comes from images). */
    podSpec: { [key: string]: any };
    /** The container that runs the canary image (default: the only container). */
    container?: string;
    /** Extra pod labels. */
    podLabels?: Record<string, string>;
    /** Extra pod annotations. */
    podAnnotations?: Record<string, string>;
    /** Kubernetes PersistentVolumeClaims, one volume per pod each. */
    volumeClaimTemplates?: { [key: string]: any }[];
    /** What happens to the claims on delete and scale-down. */
    persistentVolumeClaimRetentionPolicy?: ClaimRetentionPolicy;
    /** OrderedReady (default) or Parallel. */
    podManagementPolicy?: string;
    /** Seconds a new pod must be Ready before it counts as available (default 0). */
    minReadySeconds?: number;
    /** A Service besides the headless one (default: none). */
    service?: ServiceOptions;
    /** Expected version of the pods below the partition; a step whose lower pods run another fails. */
    stableVersion?: string;
    /** A pod unready this long during a step fails `up` (default 120). */
    readyTimeoutSeconds?: number;
    /** Outer bound of a step in seconds (default 600). */
    rolloutTimeoutSeconds?: number;
    /** Delete pods stuck on a revision other than the template's at or above the partition (default true). */
    replaceStuckPods?: boolean;
    /** Bake, restarts, HTTP and metric gates. */
    gates?: GateArgs;
    /** The cluster, when not the stack's `kubernetes:` config. */
    cluster?: ClusterAccessArgs;
}

/** A canary release of a StatefulSet, moved by `version` and `partition`, checked inside every `pulumi up`. */
export class StatefulSetCanary extends pulumi.ComponentResource {
    /** version -> <repo>:<version>@sha256:... */
    public readonly images: pulumi.Output<Record<string, string>>;
    public readonly namespace: pulumi.Output<string>;
    public readonly statefulSetName: pulumi.Output<string>;
    /** The extra Service's name, if any. */
    public readonly serviceName: pulumi.Output<string | undefined>;
    public readonly headlessServiceName: pulumi.Output<string>;
    /** Node port of the extra Service, if it is a NodePort one. */
    public readonly nodePort: pulumi.Output<number | undefined>;
    /** ordinal -> version it runs (planned in a preview, observed after up). */
    public readonly ordinalVersions: pulumi.Output<Record<string, string>>;
    /** Version of the pods below the partition, read from the cluster. */
    public readonly stableVersion: pulumi.Output<string>;
    /** The step in words. */
    public readonly step: pulumi.Output<string>;
    /** What the rollout check found after the step. */
    public readonly rolloutSummary: pulumi.Output<string>;
    /** What tools need to operate this canary; export it as stsCanary. */
    public readonly contract: pulumi.Output<CanaryContract>;

    constructor(name: string, args: StatefulSetCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CANARY_TYPE, name, validatedInputs(name, args as unknown as CanaryArgs), opts);
        // The maps are Kubernetes objects in their own shape: the typed arguments, seen from another language.
        const out = buildCanary(this, name, args as unknown as CanaryArgs);
        this.images = out.images;
        this.namespace = out.namespace;
        this.statefulSetName = out.statefulSetName;
        this.serviceName = out.serviceName;
        this.headlessServiceName = out.headlessServiceName;
        this.nodePort = out.nodePort;
        this.ordinalVersions = out.ordinalVersions;
        this.stableVersion = out.stableVersion;
        this.step = out.step;
        this.rolloutSummary = out.rolloutSummary;
        this.contract = out.contract;
        this.registerOutputs(out);
    }
}
