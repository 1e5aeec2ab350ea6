/**
 * `sts-canary status`: where the canary is, from the stack (config = wanted, the stsCanary
 * contract = last deployment), the cluster (StatefulSet, revisions, pods) and the operation state
 * in the cluster (lock, in-flight operation, timeline) that every operator shares.
 */
import { type CanaryContract, type LiveState, type PodView, type StatefulSetView, digestOf, versionOfRevision } from "sts-canary/api";
import { Desired, desiredOf, keysOf, pendingConfig } from "./canary";
import { LeaseInfo, OperationRecord, OperationState, TimelineEntry, secondsText } from "./operation";
import { StackConfig } from "./ports";

export interface PodStatus {
    ordinal: number;
    name: string;
    uid: string;
    revision: string;
    version?: string;
    image: string;
    digest?: string;
    ready: boolean;
    restarts: number;
    age: string;
    state: string;
    onUpdateRevision: boolean;
}

export interface OperationStatus {
    lease?: LeaseInfo;
    record?: OperationRecord;
    recordProblem?: string;
    /** A live operator holds the lock. */
    running: boolean;
    /** A record without a live lock: the operator is gone; the next run continues or rolls back. */
    interrupted: boolean;
    /** One sentence for humans. */
    summary?: string;
}

export interface CanaryStatus {
    stack: string;
    project: string;
    cluster: string;
    contract?: CanaryContract;
    config: Desired;
    pendingConfig: string[];
    statefulSet?: StatefulSetView;
    stableVersion?: string;
    templateVersion?: string;
    /** The template's version while it differs from the stable one. */
    canaryVersion?: string;
    pods: PodStatus[];
    updated: number;
    ready: number;
    operation: OperationStatus;
    recent: TimelineEntry[];
}

export function age(from: number | undefined, now: number): string {
    if (!from) return "-";
    const seconds = Math.max(0, Math.round((now - from) / 1000));
    if (seconds < 120) return `${seconds}s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
    return `${Math.round(seconds / 86400)}d`;
}

function podState(pod: PodView): string {
    if (pod.terminating) return "Terminating";
    if (pod.waiting && pod.waiting.reason !== "PodInitializing") return pod.waiting.reason;
    return pod.phase;
}

/** The operation in one sentence, and whether it runs or was interrupted. */
export function describeOperation(state: OperationState, now: number): OperationStatus {
    const { lease, record, recordProblem } = state;
    const live = lease !== undefined && !lease.expired;
    const lock = !lease ? "" : live
        ? `; lock held by ${lease.holder}, renewed ${secondsText(now - lease.renewedAt)} ago, expires in ${secondsText(lease.expiresAt - now)}`
        : `; its lock (${lease.holder}) expired ${secondsText(now - lease.expiresAt)} ago`;
    if (!record) {
        if (recordProblem) return { lease, recordProblem, running: live, interrupted: !live, summary: `${recordProblem}${lock}` };
        return { lease, running: live, interrupted: false, summary: live ? `an operation is starting${lock}` : undefined };
    }
    const what = `${record.kind} ${record.stableVersion} -> ${record.canaryVersion}${record.plan.length > 0 ? ` (plan ${record.plan.join(",")})` : ""}`;
    const where = record.currentTarget !== undefined ? ` ${record.phase === "rolling-back" ? "rolling back to" : "applying"} partition ${record.currentTarget}` : ` ${record.phase}`;
    const who = `started by ${record.startedBy.user}@${record.startedBy.host} (pid ${record.startedBy.pid}, ${record.startedBy.checkout}) at ${record.startedAt}`;
    if (live) return { lease, record, running: true, interrupted: false, summary: `${what}:${where}, ${who}${lock}` };
    const next = record.kind === "rollback" || record.phase === "rolling-back"
        ? "run `sts-canary rollback` to finish it"
        : `run \`sts-canary ${record.kind === "step" ? "step" : "promote"}\` to continue it, or \`sts-canary rollback\``;
    return {
        lease, record, running: false, interrupted: true,
        summary: `interrupted ${what} stopped while${where}, ${who}${lock || "; its lock was released"}; ${next}`,
    };
}

export interface StatusInput {
    stack: string;
    project: string;
    cluster: string;
    contract?: CanaryContract;
    config: StackConfig;
    live?: LiveState;
    operation: OperationState;
    now: number;
    recentLimit?: number;
}

export function buildStatus(input: StatusInput): CanaryStatus {
    const { live, contract, now } = input;
    const desired = contract ? desiredOf(input.config, keysOf(contract, input.project)) : {};
    const sts = live?.statefulSet;
    const stableVersion = live && sts ? versionOfRevision(live, sts.currentRevision) ?? contract?.stableVersion : contract?.stableVersion;
    const templateVersion = live && sts ? versionOfRevision(live, sts.updateRevision) ?? contract?.templateVersion : contract?.templateVersion;
    const pods: PodStatus[] = (live?.pods ?? []).map((p) => ({
        ordinal: p.ordinal, name: p.name, uid: p.uid, revision: p.revision, version: p.version, image: p.image,
        digest: digestOf(p.image), ready: p.ready, restarts: p.restarts,
        age: age(p.createdAt, now), state: podState(p), onUpdateRevision: sts !== undefined && p.revision === sts.updateRevision,
    }));
    return {
        stack: input.stack, project: input.project, cluster: input.cluster, contract, config: desired,
        pendingConfig: pendingConfig(desired, contract),
        statefulSet: sts, stableVersion, templateVersion,
        canaryVersion: templateVersion !== undefined && templateVersion !== stableVersion ? templateVersion : undefined,
        pods, updated: pods.filter((p) => p.onUpdateRevision).length, ready: pods.filter((p) => p.ready && p.state !== "Terminating").length,
        operation: describeOperation(input.operation, now),
        recent: input.operation.timeline.slice(-(input.recentLimit ?? 5)),
    };
}

/** Every pod updated, Ready and observed: what `status --watch` waits for. */
export function settled(s: CanaryStatus): boolean {
    const sts = s.statefulSet;
    if (!sts) return false;
    const expectedUpdated = Math.max(0, sts.replicas - sts.partition);
    return sts.observedGeneration >= sts.generation && s.pods.length === sts.replicas && s.ready === sts.replicas
        && s.updated >= expectedUpdated && s.pods.every((p) => p.state !== "Terminating");
}

export function progressBar(done: number, total: number, width = 20): string {
    const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
    return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

export function formatEntry(entry: TimelineEntry): string {
    return `${entry.time.replace("T", " ").replace(/\.\d+Z$/, "Z")}  ${entry.event.padEnd(11)} ${entry.message}${entry.by ? `  (${entry.by})` : ""}`;
}

export function renderStatus(s: CanaryStatus): string {
    const lines: string[] = [];
    const replicas = s.statefulSet?.replicas ?? s.contract?.replicas ?? 0;
    const partition = s.statefulSet?.partition ?? s.contract?.partition;
    const where = s.contract ? `${s.contract.namespace}/${s.contract.statefulSetName}` : "-";
    lines.push(`stack ${s.stack}   statefulset ${where}   partition ${partition ?? "-"}   stable ${s.stableVersion ?? "-"}   canary ${s.canaryVersion ?? "-"}`);
    lines.push(`cluster ${s.cluster}`);
    if (!s.contract) {
        lines.push("the stack has no stsCanary output: never deployed (or its program does not export the component's contract)");
    } else if (!s.statefulSet) {
        lines.push("the StatefulSet does not exist in this cluster (destroyed, or the stack's kubernetes config names another cluster)");
    } else {
        lines.push(`updated ${progressBar(s.updated, replicas)} ${s.updated}/${replicas}   ready ${progressBar(s.ready, replicas)} ${s.ready}/${replicas}   `
            + `revisions current ${s.statefulSet.currentRevision} update ${s.statefulSet.updateRevision}`);
        lines.push("");
        const rows = [["ORDINAL", "POD", "REVISION", "VERSION", "DIGEST", "READY", "RESTARTS", "AGE", "STATE"]];
        for (const p of s.pods) {
            rows.push([String(p.ordinal), p.name, p.revision, p.version ?? "?", (p.digest ?? "").slice(0, 19), p.ready ? "yes" : "no",
                String(p.restarts), p.age, p.state]);
        }
        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
    }
    if (s.contract && s.pendingConfig.length > 0) {
        lines.push("", `stack config differs from the last deployment: ${s.pendingConfig.join(", ")} (this checkout's stack file may be stale, or \`pulumi up\` has not run)`);
    }
    if (s.operation.summary) lines.push("", `${s.operation.running ? "in flight" : s.operation.interrupted ? "interrupted" : "operation"}: ${s.operation.summary}`);
    if (s.recent.length > 0) {
        lines.push("", "recent:");
        for (const entry of s.recent) lines.push(`  ${formatEntry(entry)}`);
    }
    return lines.join("\n");
}
