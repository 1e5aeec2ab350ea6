// Entry point of the sts-canary component package (PulumiPlugin.yaml, runtime nodejs): the plugin
// host infers the schema from the classes exported here. Kubernetes structures (pod spec, claims,
// Service ports) are maps in the schema: the schema inference cannot express Kubernetes' input
// types (their IntOrString fields are unions), so other languages pass them as plain objects in
// Kubernetes' own shape; TypeScript programs use canary.ts with the typed arguments.
import * as pulumi from "@pulumi/pulumi";
import type { CanaryArgs, CanaryCommonArgs } from "./args";
import { CANARY_TYPE, CanaryContract, CanaryOutputs, buildCanary, validatedInputs } from "./canary";

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

export interface StatefulSetCanaryArgs extends CanaryCommonArgs {
    /** The pod template's spec, a Kubernetes PodSpec; leave the canary container's image out (it comes from images). */
    podSpec: { [key: string]: any };
    /** Kubernetes PersistentVolumeClaims, one volume per pod each. */
    volumeClaimTemplates?: { [key: string]: any }[];
    /** What happens to the claims on delete and scale-down. */
    persistentVolumeClaimRetentionPolicy?: ClaimRetentionPolicy;
    /** A Service besides the headless one (default: none). */
    service?: ServiceOptions;
}

/** A canary release of a StatefulSet, moved by `version` and `partition`, checked inside every `pulumi up`. */
export class StatefulSetCanary extends pulumi.ComponentResource {
    /** version -> <repo>:<version>@sha256:... */
    declare public readonly images: pulumi.Output<Record<string, string>>;
    declare public readonly namespace: pulumi.Output<string>;
    declare public readonly statefulSetName: pulumi.Output<string>;
    /** The extra Service's name, if any. */
    declare public readonly serviceName: pulumi.Output<string | undefined>;
    declare public readonly headlessServiceName: pulumi.Output<string>;
    /** Node port of the extra Service, if it is a NodePort one. */
    declare public readonly nodePort: pulumi.Output<number | undefined>;
    /** ordinal -> version it runs (planned in a preview, observed after up). */
    declare public readonly ordinalVersions: pulumi.Output<Record<string, string>>;
    /** Version of the pods below the partition, read from the cluster. */
    declare public readonly stableVersion: pulumi.Output<string>;
    /** The step in words. */
    declare public readonly step: pulumi.Output<string>;
    /** What the rollout check found after the step. */
    declare public readonly rolloutSummary: pulumi.Output<string>;
    /** What tools need to operate this canary; export it as stsCanary. */
    declare public readonly contract: pulumi.Output<CanaryContract>;

    constructor(name: string, args: StatefulSetCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        // The maps are Kubernetes objects in their own shape: the typed arguments, seen from another language.
        const typed = args as unknown as CanaryArgs;
        super(CANARY_TYPE, name, validatedInputs(name, typed), opts);
        const outputs: CanaryOutputs = buildCanary(this, name, typed);
        Object.assign(this, outputs);
        this.registerOutputs(outputs);
    }
}
