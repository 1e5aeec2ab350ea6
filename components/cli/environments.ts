/**
 * Promotion between stacks (dev -> prod): the version that is fully rolled out and healthy in the
 * source stack goes to the target stack pinned by the digest the source verified, and starts there
 * as a canary at a safe partition, through the same gated `step` as any canary.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { CanaryStatus } from "./status";
import { PROJECT } from "./stack";

export class RefusedError extends Error {}

/** Why the source stack cannot be promoted from; empty when it can. */
export function promotionBlockers(source: CanaryStatus): string[] {
    const problems: string[] = [];
    if (!source.deployed || !source.statefulSet) return [`stack ${source.stack} has never been deployed`];
    if (source.deployed.partition !== 0 || source.canaryTag !== undefined) {
        problems.push(`stack ${source.stack} is mid-canary (partition ${source.deployed.partition}, ${source.deployed.imageTag} over ${source.stableTag}); finish or roll back first`);
    }
    if (source.pendingConfig.length > 0) problems.push(`stack ${source.stack} has config that is not deployed: ${source.pendingConfig.join(", ")}`);
    if (source.interrupted) problems.push(`stack ${source.stack}: ${source.interrupted}`);
    if (source.operationRunning) problems.push(`stack ${source.stack}: ${source.operationRunning}`);
    const replicas = source.statefulSet.replicas;
    if (source.ready !== replicas) problems.push(`only ${source.ready}/${replicas} pods of ${source.stack} are Ready`);
    if (source.updated !== replicas) problems.push(`only ${source.updated}/${replicas} pods of ${source.stack} run the current template`);
    const off = source.pods.filter((p) => p.version !== source.stableTag);
    if (off.length > 0) problems.push(`pods ${off.map((p) => `${p.name} (${p.version})`).join(", ")} of ${source.stack} do not run ${source.stableTag}`);
    const restarting = source.pods.filter((p) => p.waitingReason !== undefined);
    if (restarting.length > 0) problems.push(`pods ${restarting.map((p) => `${p.name} (${p.waitingReason})`).join(", ")} of ${source.stack} are not healthy`);
    return problems;
}

/** Registry host of a pinned reference (`host[:port]/repo...`). */
export function registryOf(ref: string): string {
    return ref.split("/")[0];
}

/** `version=ref` entries with `version` replaced (or added). */
export function withPinned(entries: string[], version: string, ref: string): string[] {
    return [...entries.filter((e) => !e.startsWith(`${version}=`)), `${version}=${ref}`];
}

/** Default first partition in the target: one canary pod (never 0 unless there is one replica). */
export function safeStartPartition(replicas: number): number {
    return Math.max(replicas - 1, 0);
}

export interface TargetPlan {
    version: string;
    ref: string;
    partition: number;
    config: Record<string, string | string[]>;
    previous: Record<string, string | string[] | undefined>;
}

/** The config change that starts the promoted version in the target stack. */
export async function planTargetChange(target: Stack, version: string, ref: string, partition: number | undefined): Promise<TargetPlan> {
    const all = await target.getAllConfig();
    const get = (key: string) => all[`${PROJECT}:${key}`]?.value;
    const registry = get("registryServer") ?? "harbor.example.com";
    if (registryOf(ref) !== registry) {
        throw new RefusedError(`the verified image ${ref} is in registry ${registryOf(ref)}, but stack ${target.name} pulls from ${registry}; `
            + "promote within one Harbor, or replicate the image and pin it yourself");
    }
    const replicas = Number(get("replicas") ?? "5");
    const start = partition ?? safeStartPartition(replicas);
    if (!Number.isInteger(start) || start < 0 || start > replicas) throw new RefusedError(`--partition ${start} is out of range; allowed 0..${replicas}`);
    const pinnedRaw = get("pinnedImages");
    const pinned = pinnedRaw ? (JSON.parse(pinnedRaw) as string[]) : [];
    return {
        version,
        ref,
        partition: start,
        config: { pinnedImages: withPinned(pinned, version, ref), imageTag: version, partition: String(start) },
        previous: { pinnedImages: pinned, imageTag: get("imageTag"), partition: get("partition") },
    };
}
