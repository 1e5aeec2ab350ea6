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

import type { RolloutInputs } from "./inputs";

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
    /** metadata.uid: a StatefulSet deleted and created again under the same name is another one. */
    uid?: string;
    generation: number;
    observedGeneration: number;
    replicas: number;
    partition: number;
    currentRevision: string;
    updateRevision: string;
    minReadySeconds: number;
    /** Image of the canary container in spec.template (what the template runs now). */
    templateImage?: string;
}

/** The step `pulumi up` applied, and how to judge it (RolloutInputs). All times are the API server's (ms since epoch). */
export type StepTarget = Pick<RolloutInputs, "replicas" | "partition" | "generation" | "readyTimeoutSeconds" | "transientGraceSeconds"
    | "crashLoopRestarts" | "replaceStuckPods"> & Partial<Pick<RolloutInputs, "image">> & {
    /**
     * Since when the pods have been in view without a gap (after the last API outage). A not-Ready
     * span before it is not held against a pod: its status may not have been reported yet.
     */
    seenSince?: number;
};

/** Waiting reasons that never heal within a step: the pod is stuck at once. */
export const PERMANENT_REASONS: ReadonlySet<string> = new Set(["InvalidImageName", "ErrImageNeverPull"]);

/** Waiting reasons that may heal by themselves (a registry answering 503, a Secret created a moment later). */
export const TRANSIENT_REASONS: ReadonlySet<string> = new Set([
    "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
]);

/** A pull error whose message says the image cannot exist or be read: permanent, whatever the waiting reason. */
export const PERMANENT_PULL_MESSAGE = /not found|manifest unknown|unauthorized|denied|forbidden|invalid reference format|\b40[134]\b/i;

export type Verdict =
    | { kind: "waiting"; reason: string }
    | { kind: "done"; staysUpdated: PodView[] }
    | { kind: "failed"; pod?: PodView; cause: string; hint?: string }
    | { kind: "replace"; pods: PodView[]; why: string[] };

/** How a waiting container is judged: at once (permanent), after the grace (transient), or after readyTimeoutSeconds. */
export function causeKind(pod: Pick<PodView, "waiting" | "restarts">, crashLoopRestarts: number): "permanent" | "transient" | "unready" {
    const reason = pod.waiting?.reason;
    if (!reason) return "unready";
    if (PERMANENT_REASONS.has(reason)) return "permanent";
    if (reason === "CrashLoopBackOff") return pod.restarts >= crashLoopRestarts ? "permanent" : "unready";
    if (!TRANSIENT_REASONS.has(reason)) return "unready";
    const pull = reason === "ErrImagePull" || reason === "ImagePullBackOff";
    return pull && PERMANENT_PULL_MESSAGE.test(pod.waiting?.message ?? "") ? "permanent" : "transient";
}

/** Since when the pod has been not Ready, as far as the check could see it. */
function unreadySince(pod: PodView, target: Pick<StepTarget, "seenSince">): number {
    return Math.max(pod.createdAt, pod.readyChangedAt ?? 0, target.seenSince ?? 0);
}

type StuckTarget = Pick<StepTarget, "readyTimeoutSeconds" | "transientGraceSeconds" | "crashLoopRestarts" | "seenSince">;

/** Why a pod is stuck, or undefined when it is not (yet). Ages come from the pod's own timestamps. */
export function stuckReason(pod: PodView, target: StuckTarget, now: number): string | undefined {
    if (pod.terminating || pod.ready) return undefined;
    if (pod.phase === "Failed") return `pod phase Failed${pod.lastTermination?.reason ? ` (${pod.lastTermination.reason})` : ""}`;
    const kind = causeKind(pod, target.crashLoopRestarts);
    const reason = pod.waiting?.reason;
    if (kind === "permanent") return reason === "CrashLoopBackOff" ? `CrashLoopBackOff (${pod.restarts} restart(s))` : reason;
    const age = now - unreadySince(pod, target);
    if (kind === "transient" && age > target.transientGraceSeconds * 1000) return `${reason} for more than ${target.transientGraceSeconds}s`;
    if (age > target.readyTimeoutSeconds * 1000) {
        const state = pod.unschedulable ? `Pending: ${pod.unschedulable}` : reason ?? pod.phase;
        return `not Ready after ${target.readyTimeoutSeconds}s (${state})`;
    }
    return undefined;
}

/** The revision the controller creates this ordinal with: the template's at or above the partition, else the current one. */
export function revisionFor(ordinal: number, sts: Pick<StatefulSetView, "currentRevision" | "updateRevision">, partition: number): string {
    return ordinal >= partition ? sts.updateRevision : sts.currentRevision;
}

/**
 * A not-Ready pod the controller would recreate on another revision than it runs, and why; or
 * undefined. At or above the partition that is at once (the controller replaces it anyway, but
 * only once Ready, which it never becomes: kubernetes#67250); below the partition only when it is
 * stuck, so a canary pod that is merely restarting is not moved back.
 */
function replacement(pod: PodView, sts: StatefulSetView, target: StepTarget, now: number): string | undefined {
    if (pod.terminating || pod.ready || pod.revision === "") return undefined;
    const wanted = revisionFor(pod.ordinal, sts, target.partition);
    if (wanted === "" || pod.revision === wanted) return undefined;
    const stuck = stuckReason(pod, target, now);
    if (pod.ordinal < target.partition && !stuck) return undefined;
    const state = stuck ?? (pod.waiting?.reason ? `${pod.waiting.reason}, not Ready` : "not Ready");
    return `${pod.name} is stuck on revision ${pod.revision} (${state}); the controller recreates it on ${wanted}`;
}

/** The live spec is not the one this step applied: someone else changed the StatefulSet meanwhile. */
function changedByOthers(sts: StatefulSetView, target: StepTarget): string | undefined {
    const differences: string[] = [];
    if (sts.replicas !== target.replicas) differences.push(`replicas ${sts.replicas} (applied ${target.replicas})`);
    if (sts.partition !== target.partition) differences.push(`partition ${sts.partition} (applied ${target.partition})`);
    if (target.image && sts.templateImage && sts.templateImage !== target.image) differences.push(`image ${sts.templateImage} (applied ${target.image})`);
    if (differences.length === 0) return undefined;
    return `the live StatefulSet was changed by someone else after this step applied generation ${target.generation} `
        + `(now generation ${sts.generation}): ${differences.join(", ")}`;
}

/** What to do about a stuck pod the check does not replace. */
function stuckHint(pod: PodView, sts: StatefulSetView, target: StepTarget): string {
    const wanted = revisionFor(pod.ordinal, sts, target.partition);
    if (pod.revision !== "" && wanted !== "" && pod.revision !== wanted) {
        return `${pod.name} runs revision ${pod.revision}, not ${wanted}, and the controller will not replace it `
            + "while it is not Ready (kubernetes#67250); replaceStuckPods is false: delete the pod yourself, or set replaceStuckPods to true";
    }
    if (pod.ordinal >= target.partition) {
        return "the template's revision does not become Ready: fix the release, or revert the template (imageTag) and run `pulumi up` again";
    }
    return `${pod.name} is below the partition (${target.partition}) on the stable revision ${pod.revision || "?"}: a new pod would get the same `
        + "revision; look at its events and its node";
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
    const changed = sts.generation !== target.generation ? changedByOthers(sts, target) : undefined;
    if (changed) {
        return { kind: "failed", cause: changed, hint: "run `pulumi refresh` to see the live change, then `pulumi up` to apply the stack's own step again" };
    }
    const { replicas, partition } = target;
    const wanted = pods.filter((p) => p.ordinal < replicas).sort((a, b) => b.ordinal - a.ordinal);

    const toReplace: PodView[] = [];
    const why: string[] = [];
    for (const pod of wanted) {
        const replace = target.replaceStuckPods ? replacement(pod, sts, target, now) : undefined;
        if (replace) {
            toReplace.push(pod);
            why.push(replace);
            continue;
        }
        const reason = stuckReason(pod, target, now);
        if (!reason) continue;
        return { kind: "failed", pod, cause: reason, hint: stuckHint(pod, sts, target) };
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
