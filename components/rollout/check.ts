/**
 * RolloutCheck: the resource through which every `pulumi up` of the component waits for its step,
 * fails fast with the cause, replaces stuck pods and runs the gates. A dynamic-provider resource
 * (not a resource hook): its update can fail `up` with a message, its diff and step description
 * show in `pulumi preview --diff`, and it runs for every consumer of the component package,
 * YAML included (hooks neither fail an update nor exist in YAML). It takes the StatefulSet's
 * generation as input, so it runs after every change of the StatefulSet.
 *
 * The provider code is the compiled dist/rollout/provider.js of this package, required by absolute
 * path from the dynamic-provider host (dynamic.ts); nothing of it is loaded during a program run.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterAccess } from "../cluster";
import { Inputs, ModuleProviderResource } from "../dynamic";
import type { GateResult } from "./gates";
import type { RolloutInputs } from "./inputs";

/** The check's inputs as the component passes them: each may be an Output (the generation, the image). */
export type RolloutCheckArgs = Inputs<RolloutInputs> & {
    /** The stack's cluster, as its Kubernetes provider is configured. */
    cluster: pulumi.Input<ClusterAccess>;
};

export class RolloutCheck extends ModuleProviderResource {
    /** The step in words, e.g. `pods web-5..web-6: v1 -> v2; web-0..web-4 stay on v1`. */
    declare public readonly step: pulumi.Output<string>;
    /** Version every ordinal runs (planned in a preview, observed after `up`). */
    declare public readonly ordinalVersions: pulumi.Output<Record<string, string>>;
    /** Version of pods below the partition: the StatefulSet's current revision. */
    declare public readonly stableVersion: pulumi.Output<string>;
    declare public readonly currentRevision: pulumi.Output<string>;
    declare public readonly updateRevision: pulumi.Output<string>;
    /** Pods the check deleted because they were stuck on a revision other than the template's. */
    declare public readonly replacedPods: pulumi.Output<string[]>;
    /** Pods below the partition that stay on the template (a raised partition does not move them back). */
    declare public readonly staysUpdated: pulumi.Output<string[]>;
    declare public readonly gateResults: pulumi.Output<GateResult[]>;
    declare public readonly summary: pulumi.Output<string>;

    constructor(name: string, args: RolloutCheckArgs, opts?: pulumi.CustomResourceOptions) {
        super("rollout/provider", "sts-canary", "RolloutCheck", name, {
            ...args,
            // Where the provider shows its progress (the engine does not tell a dynamic provider).
            progressUrn: pulumi.createUrn(name, `pulumi-nodejs:dynamic/sts-canary:RolloutCheck`, opts?.parent),
            cluster: pulumi.secret(args.cluster),
            step: undefined, ordinalVersions: undefined, stableVersion: undefined, currentRevision: undefined,
            updateRevision: undefined, replacedPods: undefined, staysUpdated: undefined, gateResults: undefined, summary: undefined,
        }, opts);
    }
}
