/**
 * The canary of a stack as the tool sees it: what was deployed (the `stsCanary` contract the
 * component exports, which also names the program's config keys), what is wanted (the stack
 * config), and what runs (the live StatefulSet and its pods in the stack's cluster).
 */
import { CONTRACT_VERSION, type CanaryContract, type LiveState, versionOfRevision } from "sts-canary/api";
import { RefusedError } from "./errors";
import { CanaryTarget, ClusterPort, StackConfig, StackPort } from "./ports";

/** The contract output the tool operates a stack through (see README: any program exports it). */
export const CONTRACT_OUTPUT = "stsCanary";

/** The stack's `stsCanary` output, or undefined when the stack was never deployed (or exports none). */
export function contractOf(outputs: Record<string, unknown>): CanaryContract | undefined {
    const value = outputs[CONTRACT_OUTPUT] as Partial<CanaryContract> | undefined;
    if (value === undefined || value === null) return undefined;
    if (typeof value.contract === "number" && value.contract < CONTRACT_VERSION) {
        throw new RefusedError(`the stack's ${CONTRACT_OUTPUT} output was written by an older sts-canary (contract ${value.contract}): `
            + `run \`pulumi up\` once to update it (no pod moves), then this command again`);
    }
    const ok = value.contract === CONTRACT_VERSION && typeof value.namespace === "string" && typeof value.statefulSetName === "string"
        && typeof value.partition === "number" && typeof value.replicas === "number" && typeof value.templateVersion === "string"
        && typeof value.images === "object" && value.images !== null && typeof value.configKeys?.version === "string"
        && typeof value.configKeys?.partition === "string";
    if (!ok) {
        throw new RefusedError(`the stack's ${CONTRACT_OUTPUT} output is not a contract this tool understands (contract ${CONTRACT_VERSION}): `
            + JSON.stringify(value).slice(0, 200));
    }
    return value as CanaryContract;
}

/** Where the contract's canary runs: its namespace, StatefulSet and canary container. */
export function targetOf(contract: CanaryContract): CanaryTarget {
    return { namespace: contract.namespace, statefulSetName: contract.statefulSetName, container: contract.container };
}

/** The full stack config keys (`<project>:<key>`) the program reads, from its contract. */
export interface StackKeys {
    version: string;
    partition: string;
    replicas?: string;
    /** Absent: the program cannot deploy a digest verified elsewhere. */
    pinnedImages?: string;
}

export function keysOf(contract: Pick<CanaryContract, "configKeys">, project: string): StackKeys {
    const full = (key: string | undefined) => (key === undefined ? undefined : key.includes(":") ? key : `${project}:${key}`);
    const { version, partition, replicas, pinnedImages } = contract.configKeys;
    return { version: full(version)!, partition: full(partition)!, replicas: full(replicas), pinnedImages: full(pinnedImages) };
}

export interface Desired {
    version?: string;
    partition?: number;
    replicas?: number;
}

/** What the stack config asks for (keys that are not set are undefined: the program's defaults apply). */
export function desiredOf(config: StackConfig, keys: StackKeys): Desired {
    const num = (key: string | undefined) => (key !== undefined && config[key] !== undefined && /^\d+$/.test(config[key].value) ? Number(config[key].value) : undefined);
    return { version: config[keys.version]?.value, partition: num(keys.partition), replicas: num(keys.replicas) };
}

/** Differences between the stack config and the last deployment, e.g. `partition 3 (config) vs 1 (deployed)`. */
export function pendingConfig(desired: Desired, contract: CanaryContract | undefined): string[] {
    if (!contract) return ["never deployed"];
    const { version, partition, replicas } = contract.configKeys;
    const pending: string[] = [];
    if (desired.version !== undefined && desired.version !== contract.templateVersion) pending.push(`${version} ${desired.version} (config) vs ${contract.templateVersion} (deployed)`);
    if (desired.partition !== undefined && desired.partition !== contract.partition) pending.push(`${partition} ${desired.partition} (config) vs ${contract.partition} (deployed)`);
    if (desired.replicas !== undefined && desired.replicas !== contract.replicas) pending.push(`${replicas} ${desired.replicas} (config) vs ${contract.replicas} (deployed)`);
    return pending;
}

export interface Canary {
    project: string;
    contract: CanaryContract;
    keys: StackKeys;
    target: CanaryTarget;
    config: StackConfig;
    desired: Desired;
    pending: string[];
    live: LiveState;
    /** Version of the StatefulSet's current revision: what pods below the partition run. */
    stableVersion: string;
    /** Version of its update revision: what the template runs. */
    templateVersion: string;
}

/** The contract of a stack, or a refusal saying how to get one. */
export function requireContract(stackName: string, outputs: Record<string, unknown>): CanaryContract {
    const contract = contractOf(outputs);
    if (contract) return contract;
    throw new RefusedError(`stack ${stackName} has no ${CONTRACT_OUTPUT} output: deploy it with \`pulumi up\` first `
        + `(its program must export the component's contract, e.g. \`export const ${CONTRACT_OUTPUT} = canary.contract\`)`);
}

/**
 * Reads the stack's canary: its contract (refused when there is none), config and live state.
 * Refuses when the StatefulSet the stack deployed is not in the cluster the stack's config names.
 */
export async function readCanary(stack: StackPort, cluster: ClusterPort): Promise<Canary> {
    const [config, outputs] = await Promise.all([stack.getConfig(), stack.outputs()]);
    const contract = requireContract(stack.name, outputs);
    const target = targetOf(contract);
    const live = await cluster.readLive(target);
    if (!live.statefulSet) {
        throw new RefusedError(`StatefulSet ${contract.namespace}/${contract.statefulSetName} of stack ${stack.name} is not in the cluster `
            + `${cluster.description}: is kubernetes:kubeconfig/kubernetes:context of the stack right, or was it destroyed?`);
    }
    const keys = keysOf(contract, stack.project);
    const desired = desiredOf(config, keys);
    return {
        project: stack.project, contract, keys, target, config, desired, pending: pendingConfig(desired, contract), live,
        stableVersion: versionOfRevision(live, live.statefulSet.currentRevision) ?? contract.stableVersion,
        templateVersion: versionOfRevision(live, live.statefulSet.updateRevision) ?? contract.templateVersion,
    };
}
