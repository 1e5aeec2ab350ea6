/**
 * Pure decisions of the tool: plan parsing, the next step, and what a config difference between
 * the stack and its last deployment means.
 */
import { UsageError } from "./errors";

/**
 * Parses `--plan 4,3,1,0`: integers in [0, replicas], strictly decreasing (each step moves the
 * canary to more pods). The plan need not end at 0 (a partial promotion), but usually does.
 */
export function parsePlan(text: string, replicas: number): number[] {
    const parts = text.split(",").map((p) => p.trim()).filter((p) => p !== "");
    if (parts.length === 0) throw new UsageError(`--plan "${text}" is empty; give partitions like 4,3,1,0`);
    const plan = parts.map((p) => {
        if (!/^\d+$/.test(p)) throw new UsageError(`--plan: "${p}" is not a non-negative integer`);
        const value = Number(p);
        if (value > replicas) throw new UsageError(`--plan: partition ${value} is out of range; allowed 0..${replicas}`);
        return value;
    });
    for (let i = 1; i < plan.length; i++) {
        if (plan[i] >= plan[i - 1]) throw new UsageError(`--plan must be strictly decreasing; ${plan[i]} follows ${plan[i - 1]}`);
    }
    return plan;
}

/** Steps of the plan still ahead of the current partition (a resumed plan skips done steps). */
export function remainingSteps(plan: number[], currentPartition: number): number[] {
    return plan.filter((partition) => partition < currentPartition);
}

/** `step --to N` / `step --by K`: the partition after one step, or an error naming the range. */
export function stepTarget(current: number, replicas: number, options: { to?: number; by?: number }): number {
    if (options.to !== undefined && options.by !== undefined) throw new UsageError("give either --to or --by, not both");
    const target = options.to !== undefined ? options.to : current - (options.by ?? 1);
    if (!Number.isInteger(target) || target < 0 || target > replicas) {
        throw new UsageError(`the next partition would be ${target}; allowed 0..${replicas}${options.to === undefined ? " (use --to)" : ""}`);
    }
    return target;
}

/** `v2 on ordinals 3..4, v1 below` for a step's log line. */
export function describeMove(canaryVersion: string, stableVersion: string, partition: number, replicas: number): string {
    if (canaryVersion === stableVersion) return `every pod on ${canaryVersion}`;
    if (partition >= replicas) return `${canaryVersion} staged, no pod moves yet`;
    return `${canaryVersion} on ordinals ${partition}..${replicas - 1}, ${stableVersion} below`;
}

/**
 * The partition a rollback applies first: the one it restores, or lower when a pod below it runs
 * another revision than the stable one (a step that failed mid-way left it there). The controller
 * never moves pods below the partition, so with the template back on the stable version every pod
 * the operation moved is at or above this partition and goes back; then the restored partition is
 * applied, which moves nothing.
 */
export function rollbackReach(pods: { ordinal: number; revision: string }[], stableRevision: string, restorePartition: number): number {
    const moved = pods.filter((p) => p.revision !== "" && p.revision !== stableRevision).map((p) => p.ordinal);
    return Math.min(restorePartition, ...moved);
}
