/**
 * The rollout check's decision, as a pure function of what the cluster shows: the live StatefulSet
 * and its pods, the step that was applied, and the time. `pulumi up` (through the RolloutCheck
 * resource) and every tool call it on each change; nothing here talks to a cluster.
 *
 * Kubernetes semantics (RollingUpdate, OrderedReady): pods with ordinal >= partition are moved to
 * status.updateRevision, highest ordinal first, one at a time, each only once every pod is Running
 * and Ready; pods below the partition keep the revision they have, and one that dies comes back
 * on status.currentRevision. Raising the partition never moves a pod back; only reverting the
 * template does. A pod that never becomes Ready blocks the controller, even when the template it
 * runs was reverted (kubernetes#67250): only deleting it lets the controller recreate it.
 */

/** What the check needs of one pod of the StatefulSet. */
export interface PodView {
    name: string;
    ordinal: number;
    uid: string;
    /** `controller-revision-hash` label: the StatefulSet revision the pod was created from. */
    revision: string;
    /** Version label of the pod (`app.kubernetes.io/version`), or the tag of its image. */
    version?: string;
    /** Image of the canary container. */
    image: string;
    ready: boolean;
    /** When the Ready condition last changed (ms since epoch), if reported. */
    readyChangedAt?: number;
    createdAt: number;
    terminating: boolean;
    /** Pod phase: Pending, Running, Succeeded, Failed, Unknown. */
    phase: string;
    /** Container restarts, summed over the pod's containers. */
    restarts: number;
    /** The first container (init containers included) that waits, and why. */
    waiting?: { container: string; reason: string; message?: string };
    /** How that container's previous run ended, if it did. */
    lastTermination?: { reason?: string; exitCode?: number; message?: string };
    /** Why the pod is not scheduled (PodScheduled=False), e.g. "Unschedulable: 0/1 nodes are available...". */
    unschedulable?: string;
}

/** What the check needs of the StatefulSet (spec and status). */
export interface StatefulSetView {
    generation: number;
    observedGeneration: number;
    replicas: number;
    partition: number;
    currentRevision: string;
    updateRevision: string;
    minReadySeconds: number;
}

/** The step `pulumi up` applied, and how to judge it. */
export interface StepTarget {
    replicas: number;
    partition: number;
    /** metadata.generation of the StatefulSet as applied; status must have observed it. */
    generation: number;
    /** A pod unready for longer than this (since the check began or the pod was created) is stuck. */
    readyTimeoutSeconds: number;
    /** Delete stuck pods on a revision other than updateRevision at or above the partition. */
    replaceStuckPods: boolean;
    /** When the check began (ms since epoch). */
    startedAt: number;
}

/** Container states that do not heal within a step: the pod is stuck. */
export const STUCK_REASONS: ReadonlySet<string> = new Set([
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
]);

export type Verdict =
    | { kind: "waiting"; reason: string }
    | { kind: "done"; staysUpdated: PodView[] }
    | { kind: "failed"; pod?: PodView; cause: string; hint?: string }
    | { kind: "replace"; pods: PodView[]; why: string[] };

/** Why a pod is stuck, or undefined when it is not (yet). */
export function stuckReason(pod: PodView, target: Pick<StepTarget, "readyTimeoutSeconds" | "startedAt">, now: number): string | undefined {
    if (pod.terminating || pod.ready) return undefined;
    if (pod.phase === "Failed") return `pod phase Failed${pod.lastTermination?.reason ? ` (${pod.lastTermination.reason})` : ""}`;
    if (pod.waiting && STUCK_REASONS.has(pod.waiting.reason)) return pod.waiting.reason;
    const since = Math.max(pod.createdAt, pod.readyChangedAt ?? 0, target.startedAt);
    if (now - since > target.readyTimeoutSeconds * 1000) {
        const state = pod.unschedulable ? `Pending: ${pod.unschedulable}` : pod.waiting ? pod.waiting.reason : pod.phase;
        return `not Ready after ${target.readyTimeoutSeconds}s (${state})`;
    }
    return undefined;
}

/** Ready for at least minReadySeconds: what the controller counts as available. */
function available(pod: PodView, minReadySeconds: number, now: number): boolean {
    if (!pod.ready) return false;
    if (minReadySeconds <= 0) return true;
    return pod.readyChangedAt === undefined || now - pod.readyChangedAt >= minReadySeconds * 1000;
}

/**
 * Done, waiting, failed (with the pod and its cause), or pods to replace. Done means: the
 * controller observed the applied generation; exactly ordinals 0..replicas-1 exist, none
 * terminating, every one Ready (and available for minReadySeconds); and every ordinal >= partition
 * runs status.updateRevision. Pods below the partition may run any revision: that is the canary.
 */
export function decide(sts: StatefulSetView | undefined, pods: PodView[], target: StepTarget, now: number): Verdict {
    if (!sts) return { kind: "waiting", reason: "the StatefulSet is not visible yet" };
    if (sts.observedGeneration < target.generation) {
        return { kind: "waiting", reason: `the StatefulSet controller has not observed generation ${target.generation} yet (observed ${sts.observedGeneration})` };
    }
    const { replicas, partition } = target;
    const wanted = pods.filter((p) => p.ordinal < replicas).sort((a, b) => b.ordinal - a.ordinal);

    const toReplace: PodView[] = [];
    const why: string[] = [];
    for (const pod of wanted) {
        const reason = stuckReason(pod, target, now);
        if (!reason) continue;
        const canary = pod.ordinal >= partition;
        const stale = pod.revision !== "" && pod.revision !== sts.updateRevision;
        if (canary && stale) {
            if (target.replaceStuckPods) {
                toReplace.push(pod);
                why.push(`${pod.name} is stuck on revision ${pod.revision} (${reason}), not on ${sts.updateRevision}`);
                continue;
            }
            return {
                kind: "failed", pod, cause: reason,
                hint: `${pod.name} runs revision ${pod.revision}, not the template's ${sts.updateRevision}, and the controller will not replace it `
                    + "while it is not Ready (kubernetes#67250); replaceStuckPods is false: delete the pod yourself, or set replaceStuckPods to true",
            };
        }
        if (canary) {
            return { kind: "failed", pod, cause: reason, hint: "the template's revision does not become Ready: fix the release, or revert the template (imageTag) and run `pulumi up` again" };
        }
        const onTemplate = pod.revision === sts.updateRevision && sts.updateRevision !== sts.currentRevision;
        return {
            kind: "failed", pod, cause: reason,
            hint: onTemplate
                ? `${pod.name} is below the partition (${partition}) but still on the template's revision: raising the partition does not move a pod back; revert the template (imageTag) to replace it`
                : `${pod.name} is below the partition (${partition}); the check never replaces pods below the partition`,
        };
    }
    if (toReplace.length > 0) return { kind: "replace", pods: toReplace, why };

    const leaving = pods.filter((p) => p.ordinal >= replicas);
    if (leaving.length > 0) {
        return { kind: "waiting", reason: `scaling down: ${leaving.map((p) => p.name).sort().join(", ")} still ${leaving.length === 1 ? "exists" : "exist"}` };
    }
    const byOrdinal = new Map(wanted.map((p) => [p.ordinal, p]));
    // Highest ordinal first: the order in which the controller updates pods.
    for (let ordinal = replicas - 1; ordinal >= 0; ordinal--) {
        const pod = byOrdinal.get(ordinal);
        if (!pod) return { kind: "waiting", reason: `pod ordinal ${ordinal} does not exist yet` };
        if (pod.terminating) return { kind: "waiting", reason: `${pod.name} is terminating` };
        if (ordinal >= partition && pod.revision !== sts.updateRevision) {
            return { kind: "waiting", reason: `${pod.name} is on revision ${pod.revision || "?"}, waiting for the controller to move it to ${sts.updateRevision}` };
        }
        if (!pod.ready) {
            const state = pod.waiting ? pod.waiting.reason : pod.unschedulable ? "Pending (unschedulable)" : pod.phase;
            return { kind: "waiting", reason: `${pod.name} is not Ready yet (${state}, ${Math.round((now - pod.createdAt) / 1000)}s old)` };
        }
        if (!available(pod, sts.minReadySeconds, now)) {
            return { kind: "waiting", reason: `${pod.name} is Ready but not yet for minReadySeconds (${sts.minReadySeconds}s)` };
        }
    }
    // Raising the partition (or reverting only part of a canary) leaves updated pods below it.
    const staysUpdated = wanted
        .filter((p) => p.ordinal < partition && p.revision === sts.updateRevision && sts.updateRevision !== sts.currentRevision)
        .sort((a, b) => a.ordinal - b.ordinal);
    return { kind: "done", staysUpdated };
}
