/**
 * RolloutCheck: the resource through which every `pulumi up` of the component waits for its step,
 * fails fast with the cause, replaces stuck pods and runs the gates. A dynamic-provider resource
 * (not a resource hook): its update can fail `up` with a message, its diff and step description
 * show in `pulumi preview --diff`, and it runs for every consumer of the component package,
 * YAML included (hooks neither fail an update nor exist in YAML). It takes the StatefulSet's
 * generation as input, so it runs after every change of the StatefulSet.
 *
 * The provider code is the compiled dist/rollout/provider.js of this package, required by absolute
 * path from the dynamic-provider host; only that path is serialized into the state. Nothing is
 * loaded from it during a program run.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterAccess } from "../cluster";
import type { GateResult, GateSettings } from "./gates";

/** Directory of this package (the one holding its package.json), from here or from dist/. */
function packageRoot(): string {
    for (let dir = __dirname, i = 0; i < 4; i++, dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "PulumiPlugin.yaml"))) return dir;
    }
    throw new Error(`sts-canary: cannot find the component package root above ${__dirname}`);
}

/** The compiled provider module, or an error saying how to build it. */
export function providerModule(): string {
    const file = path.join(packageRoot(), "dist", "rollout", "provider.js");
    if (!fs.existsSync(file)) {
        throw new Error(`sts-canary: ${file} is missing: the rollout check runs the compiled package; run \`npm run build\` (or \`npm install\`) in ${packageRoot()}`);
    }
    return file;
}

let provider: pulumi.dynamic.ResourceProvider | undefined;

/** One provider object per process (Pulumi serializes it once and caches it by identity). */
function rolloutCheckProvider(): pulumi.dynamic.ResourceProvider {
    if (provider) return provider;
    const file = providerModule();
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded by path in the dynamic-provider host */
    provider = {
        check: (olds: any, news: any) => require(file).check(olds, news),
        diff: (_id: string, olds: any, news: any) => require(file).diff(olds, news),
        create: (inputs: any) => require(file).create(inputs),
        update: (id: string, olds: any, news: any) => require(file).update(id, olds, news),
        // The check only observes; deleting it leaves the StatefulSet and its pods alone.
        delete: async () => undefined,
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
    return provider;
}

export interface RolloutCheckArgs {
    namespace: pulumi.Input<string>;
    /** StatefulSet name. */
    name: pulumi.Input<string>;
    /** metadata.generation of the applied StatefulSet. */
    generation: pulumi.Input<number>;
    replicas: pulumi.Input<number>;
    partition: pulumi.Input<number>;
    /** Version of the template. */
    version: pulumi.Input<string>;
    /** Image of the canary container. */
    image: pulumi.Input<string>;
    /** Name of the canary container. */
    container: pulumi.Input<string>;
    readyTimeoutSeconds: pulumi.Input<number>;
    rolloutTimeoutSeconds: pulumi.Input<number>;
    replaceStuckPods: pulumi.Input<boolean>;
    /** When not empty, the pods below the partition must run this version. */
    expectedStableVersion: pulumi.Input<string>;
    gates: pulumi.Input<GateSettings>;
    /** The stack's cluster, as its Kubernetes provider is configured. */
    cluster: pulumi.Input<ClusterAccess>;
}

export class RolloutCheck extends pulumi.dynamic.Resource {
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
        super(rolloutCheckProvider(), name, {
            ...args,
            // Where the provider shows its progress (the engine does not tell a dynamic provider).
            progressUrn: pulumi.createUrn(name, `pulumi-nodejs:dynamic/sts-canary:RolloutCheck`, opts?.parent),
            cluster: pulumi.secret(args.cluster),
            step: undefined, ordinalVersions: undefined, stableVersion: undefined, currentRevision: undefined,
            updateRevision: undefined, replacedPods: undefined, staysUpdated: undefined, gateResults: undefined, summary: undefined,
        }, opts, "sts-canary", "RolloutCheck");
    }
}
