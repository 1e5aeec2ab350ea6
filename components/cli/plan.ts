/**
 * Decisions of the promotion tool, as pure functions: plan parsing, the next step, which pods a
 * rollback must force-replace, and what the journal of an interrupted run means.
 */
import { PodInfo, StatefulSetInfo } from "./kube";

export class PlanError extends Error {}

/**
 * Parses `--plan 4,3,1,0`: integers in [0, replicas], strictly decreasing (each step moves the
 * canary to more pods). The plan need not end at 0 (a partial promotion), but usually does.
 */
export function parsePlan(text: string, replicas: number): number[] {
    const parts = text.split(",").map((p) => p.trim()).filter((p) => p !== "");
    if (parts.length === 0) throw new PlanError(`--plan "${text}" is empty; give partitions like 4,3,1,0`);
    const plan = parts.map((p) => {
        if (!/^\d+$/.test(p)) throw new PlanError(`--plan: "${p}" is not a non-negative integer`);
        const value = Number(p);
        if (value > replicas) throw new PlanError(`--plan: partition ${value} is out of range; allowed 0..${replicas}`);
        return value;
    });
    for (let i = 1; i < plan.length; i++) {
        if (plan[i] >= plan[i - 1]) throw new PlanError(`--plan must be strictly decreasing; ${plan[i]} follows ${plan[i - 1]}`);
    }
    return plan;
}

/** Steps of the plan still ahead of the current partition (a resumed plan skips done steps). */
export function remainingSteps(plan: number[], currentPartition: number): number[] {
    return plan.filter((partition) => partition < currentPartition);
}

/** `step --to N` / `step --by K`: the partition after one step, or an error naming the range. */
export function stepTarget(current: number, replicas: number, options: { to?: number; by?: number }): number {
    if (options.to !== undefined && options.by !== undefined) throw new PlanError("give either --to or --by, not both");
    const target = options.to !== undefined ? options.to : current - (options.by ?? 1);
    if (!Number.isInteger(target) || target < 0 || target > replicas) {
        throw new PlanError(`the next partition would be ${target}; allowed 0..${replicas}`);
    }
    return target;
}

/**
 * Pods a rollback must delete so the StatefulSet controller recreates them on the stable
 * revision: pods at or above the partition that are on another revision than the (reverted)
 * update revision and are not Ready. The controller replaces Ready ones itself, but stalls on an
 * unready pod (kubernetes#67250). Pods below the partition are never touched.
 */
export function podsToForceReplace(pods: PodInfo[], sts: Pick<StatefulSetInfo, "updateRevision">, canaryFromOrdinal: number): PodInfo[] {
    return pods.filter((pod) =>
        pod.ordinal >= canaryFromOrdinal
        && !pod.terminating
        && pod.revision !== ""
        && pod.revision !== sts.updateRevision
        && !pod.ready);
}

/** What an in-progress operation was doing, as written to the journal before each step. */
export interface OperationRecord {
    kind: "step" | "promote" | "rollback";
    startedAt: string;
    /** Stable and canary versions when it started. */
    stableTag: string;
    canaryTag: string;
    /** Partition before the operation began, restored by a rollback. */
    initialPartition: number;
    plan: number[];
    /** Partition being applied when the record was last written. */
    currentTarget?: number;
    phase: "applying" | "baking" | "rolling-back";
    pid: number;
}

/** A sentence for `status` about an operation that never finished. */
export function describeInterrupted(op: OperationRecord): string {
    const where = op.currentTarget !== undefined ? ` while ${op.phase} partition ${op.currentTarget}` : ` while ${op.phase}`;
    const next = op.kind === "rollback"
        ? "run `sts-canary rollback` again to finish it"
        : `run \`sts-canary ${op.kind === "promote" ? `promote --plan ${op.plan.join(",")}` : "step"}\` to continue, or \`sts-canary rollback\``;
    return `an interrupted ${op.kind} (started ${op.startedAt}, ${op.stableTag} -> ${op.canaryTag}) stopped${where}; ${next}`;
}
