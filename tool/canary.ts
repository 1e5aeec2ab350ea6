/**
 * The canary of a stack as the tool sees it: what was deployed (the `stsCanary` contract the
 * component exports), what is wanted (the stack config), and what runs (the live StatefulSet and
 * its pods in the stack's cluster).
 */
import type { CanaryContract } from "sts-canary/api";
import { RefusedError } from "./exit";
import { CanaryTarget, ClusterPort, LiveState, StackConfig, StackPort } from "./ports";

/** The contract output the tool operates a stack through (see README: any program exports it). */
export const CONTRACT_OUTPUT = "stsCanary";

/** The stack's `stsCanary` output, or undefined when the stack was never deployed (or exports none). */
export function contractOf(outputs: Record<string, unknown>): CanaryContract | undefined {
    const value = outputs[CONTRACT_OUTPUT] as Partial<CanaryContract> | undefined;
    if (value === undefined || value === null) return undefined;
    const ok = value.contract === 1 && typeof value.namespace === "string" && typeof value.statefulSetName === "string"
        && typeof value.partition === "number" && typeof value.replicas === "number" && typeof value.templateVersion === "string"
        && typeof value.images === "object" && value.images !== null;
    if (!ok) throw new RefusedError(`the stack's ${CONTRACT_OUTPUT} output is not a contract this tool understands (contract 1): ${JSON.stringify(value).slice(0, 200)}`);
    return value as CanaryContract;
}

/** Where the contract's canary runs: its namespace, StatefulSet and canary container. */
export function targetOf(contract: CanaryContract): CanaryTarget {
    return { namespace: contract.namespace, statefulSetName: contract.statefulSetName, container: contract.container };
}

/** The config keys the tool reads and sets, in the stack's project namespace. */
export function keys(project: string) {
    return {
        imageTag: `${project}:imageTag`,
        partition: `${project}:partition`,
        replicas: `${project}:replicas`,
        pinnedImages: `${project}:pinnedImages`,
        registryServer: `${project}:registryServer`,
    };
}

export interface Desired {
    imageTag?: string;
    partition?: number;
    replicas?: number;
}

/** What the stack config asks for (keys that are not set are undefined: the program's defaults apply). */
export function desiredOf(config: StackConfig, project: string): Desired {
    const k = keys(project);
    const num = (key: string) => (config[key] !== undefined && /^\d+$/.test(config[key].value) ? Number(config[key].value) : undefined);
    return { imageTag: config[k.imageTag]?.value, partition: num(k.partition), replicas: num(k.replicas) };
}

/** Differences between the stack config and the last deployment, e.g. `partition 3 (config) vs 1 (deployed)`. */
export function pendingConfig(desired: Desired, contract: CanaryContract | undefined): string[] {
    if (!contract) return ["never deployed"];
    const pending: string[] = [];
    if (desired.imageTag !== undefined && desired.imageTag !== contract.templateVersion) pending.push(`imageTag ${desired.imageTag} (config) vs ${contract.templateVersion} (deployed)`);
    if (desired.partition !== undefined && desired.partition !== contract.partition) pending.push(`partition ${desired.partition} (config) vs ${contract.partition} (deployed)`);
    if (desired.replicas !== undefined && desired.replicas !== contract.replicas) pending.push(`replicas ${desired.replicas} (config) vs ${contract.replicas} (deployed)`);
    return pending;
}

export interface Canary {
    project: string;
    contract: CanaryContract;
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

/** Version of a revision: from a pod on it, else from the ControllerRevision. */
export function revisionVersionOf(live: LiveState, revision: string | undefined): string | undefined {
    if (!revision) return undefined;
    return live.pods.find((p) => p.revision === revision && p.version)?.version ?? live.revisionVersions[revision];
}

/**
 * Reads the stack's canary: its contract (refused when there is none), config and live state.
 * Refuses when the StatefulSet the stack deployed is not in the cluster the stack's config names.
 */
export async function readCanary(stack: StackPort, cluster: ClusterPort, config?: StackConfig): Promise<Canary> {
    const [cfg, outputs] = await Promise.all([config ? Promise.resolve(config) : stack.getConfig(), stack.outputs()]);
    const contract = contractOf(outputs);
    if (!contract) {
        throw new RefusedError(`stack ${stack.name} has no ${CONTRACT_OUTPUT} output: deploy it with \`pulumi up\` first `
            + `(its program must export the component's contract, e.g. \`export const ${CONTRACT_OUTPUT} = canary.contract\`)`);
    }
    const target = targetOf(contract);
    const live = await cluster.readLive(target);
    if (!live.statefulSet) {
        throw new RefusedError(`StatefulSet ${contract.namespace}/${contract.statefulSetName} of stack ${stack.name} is not in the cluster `
            + `${cluster.description}: is kubernetes:kubeconfig/kubernetes:context of the stack right, or was it destroyed?`);
    }
    const desired = desiredOf(cfg, stack.project);
    return {
        project: stack.project, contract, target, config: cfg, desired, pending: pendingConfig(desired, contract), live,
        stableVersion: revisionVersionOf(live, live.statefulSet.currentRevision) ?? contract.stableVersion,
        templateVersion: revisionVersionOf(live, live.statefulSet.updateRevision) ?? contract.templateVersion,
    };
}
