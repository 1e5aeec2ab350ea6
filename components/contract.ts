/**
 * The contract a program exports (as the stack output `stsCanary`) so that tools operate its
 * canary without knowing the program: where it runs, what it can deploy, where it stands, and
 * which of the program's stack config keys move it. The sts-canary tool reads it for any stack,
 * TypeScript or YAML.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConfigKeys, StatefulSetCanaryArgs } from "./args";

export type { ConfigKeys } from "./args";

/** The shape this version writes; tools refuse others. */
export const CONTRACT_VERSION = 2 as const;

/** The keys of the seed program, and of any program that does not say otherwise. */
export const DEFAULT_CONFIG_KEYS: ConfigKeys = { version: "imageTag", partition: "partition", replicas: "replicas" };

export interface CanaryContract {
    /** The contract's shape (CONTRACT_VERSION); a plain number, as the package schema can only say that. */
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
    /** Registry host[:port] the stack pushes to and pulls from, if it builds images. */
    registry?: string;
    /** The stack config keys that move this canary. */
    configKeys: ConfigKeys;
}

/** The contract of a deployed canary, once its namespace, name, images and stable version are known. */
export function contractOf(args: StatefulSetCanaryArgs, container: string,
    workload: { namespace: pulumi.Output<string>; statefulSetName: pulumi.Output<string> },
    images: pulumi.Output<Record<string, string>>, stableVersion: pulumi.Output<string>): pulumi.Output<CanaryContract> {
    const configKeys: ConfigKeys = { ...DEFAULT_CONFIG_KEYS, ...(args.configKeys ?? {}) };
    return pulumi.all([workload.namespace, workload.statefulSetName, images, stableVersion])
        .apply(([namespace, statefulSetName, refs, stable]) => ({
            contract: CONTRACT_VERSION, namespace, statefulSetName, container, images: refs,
            templateVersion: args.version, partition: args.partition, replicas: args.replicas, stableVersion: stable,
            registry: args.registry?.server, configKeys,
        }));
}
