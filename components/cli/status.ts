/**
 * `sts-canary status`: where the canary is, from the stack (config = desired, outputs = last
 * successful deployment) and from the cluster (StatefulSet, revisions, pods).
 */
import { Stack } from "@pulumi/pulumi/automation";
import { PodInfo, StatefulSetInfo, getPods, getRevisionImages, getStatefulSet, tagOf } from "./kube";
import { Journal, TimelineEntry, formatEntry, isProcessAlive } from "./journal";
import { describeInterrupted } from "./plan";
import { PROJECT } from "./stack";

export interface PodStatus extends PodInfo {
    version?: string;
    digest?: string;
    onUpdateRevision: boolean;
    age: string;
}

export interface CanaryStatus {
    stack: string;
    namespace: string;
    statefulSetName: string;
    /** Desired, from stack config. */
    config: { imageTag: string; partition: number; replicas: number };
    /** From the outputs of the last successful `up`; undefined before the first one. */
    deployed?: { imageTag: string; partition: number; replicas: number; stable: string };
    stableTag: string;
    /** Template version while it differs from the stable one. */
    canaryTag?: string;
    statefulSet?: StatefulSetInfo;
    pods: PodStatus[];
    updated: number;
    ready: number;
    /** Config changes not deployed yet, e.g. "partition 3 -> 1". */
    pendingConfig: string[];
    /** An operation of this tool that never finished. */
    interrupted?: string;
    operationRunning?: string;
    recent: TimelineEntry[];
}

export function age(from: string | undefined, now = Date.now()): string {
    if (!from) return "-";
    const seconds = Math.max(0, Math.round((now - Date.parse(from)) / 1000));
    if (seconds < 120) return `${seconds}s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
    return `${Math.round(seconds / 86400)}d`;
}

export async function collectStatus(stack: Stack, journal: Journal): Promise<CanaryStatus> {
    const [config, outputs] = await Promise.all([stack.getAllConfig(), stack.outputs()]);
    const cfg = (key: string, fallback: string) => config[`${PROJECT}:${key}`]?.value ?? fallback;
    const out = (key: string) => outputs[key]?.value;
    const namespace = String(out("namespace") ?? cfg("namespace", "sts"));
    const statefulSetName = String(out("statefulSetName") ?? cfg("appName", "nginx"));
    const desired = {
        imageTag: cfg("imageTag", "v1"),
        partition: Number(cfg("partition", "0")),
        replicas: Number(cfg("replicas", "5")),
    };
    const deployed = out("imageTag") === undefined ? undefined : {
        imageTag: String(out("imageTag")),
        partition: Number(out("partition")),
        replicas: Number(out("replicas")),
        stable: String(out("stable") ?? out("imageTag")),
    };

    const statefulSet = await getStatefulSet(namespace, statefulSetName);
    const [pods, revisionImages]: [PodInfo[], Record<string, string>] = statefulSet
        ? await Promise.all([getPods(namespace, statefulSetName), getRevisionImages(namespace, statefulSetName)])
        : [[], {}];
    const stableTag = deployed?.stable
        ?? (statefulSet ? tagOf(revisionImages[statefulSet.currentRevision] ?? "") : undefined)
        ?? desired.imageTag;
    const templateTag = deployed?.imageTag ?? desired.imageTag;
    const now = Date.now();
    const podStatuses: PodStatus[] = pods.map((pod) => ({
        ...pod,
        version: tagOf(pod.image),
        digest: /@(sha256:[a-f0-9]+)/.exec(pod.image)?.[1],
        onUpdateRevision: statefulSet !== undefined && pod.revision === statefulSet.updateRevision,
        age: age(pod.startTime ?? pod.creationTimestamp, now),
    }));

    const pendingConfig: string[] = [];
    if (deployed) {
        if (deployed.imageTag !== desired.imageTag) pendingConfig.push(`imageTag ${deployed.imageTag} -> ${desired.imageTag}`);
        if (deployed.partition !== desired.partition) pendingConfig.push(`partition ${deployed.partition} -> ${desired.partition}`);
        if (deployed.replicas !== desired.replicas) pendingConfig.push(`replicas ${deployed.replicas} -> ${desired.replicas}`);
    } else {
        pendingConfig.push("never deployed");
    }

    const op = journal.operation();
    let interrupted: string | undefined;
    let operationRunning: string | undefined;
    if (op && isProcessAlive(op.pid) && op.pid !== process.pid) operationRunning = `${op.kind} running (pid ${op.pid}), ${op.phase}`;
    else if (op) interrupted = describeInterrupted(op);

    return {
        stack: stack.name,
        namespace,
        statefulSetName,
        config: desired,
        deployed,
        stableTag,
        canaryTag: templateTag !== stableTag ? templateTag : undefined,
        statefulSet,
        pods: podStatuses,
        updated: podStatuses.filter((p) => p.onUpdateRevision).length,
        ready: podStatuses.filter((p) => p.ready).length,
        pendingConfig,
        interrupted,
        operationRunning,
        recent: journal.timeline(5),
    };
}

export function progressBar(done: number, total: number, width = 20): string {
    const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
    return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

export function renderStatus(s: CanaryStatus): string {
    const lines: string[] = [];
    const replicas = s.statefulSet?.replicas ?? s.config.replicas;
    const partition = s.statefulSet?.partition ?? s.config.partition;
    lines.push(`stack ${s.stack}   statefulset ${s.namespace}/${s.statefulSetName}   partition ${partition}   `
        + `stable ${s.stableTag}   canary ${s.canaryTag ?? "-"}`);
    if (!s.statefulSet) {
        lines.push("the StatefulSet does not exist (never deployed, or destroyed)");
    } else {
        lines.push(`updated ${progressBar(s.updated, replicas)} ${s.updated}/${replicas}   ready ${progressBar(s.ready, replicas)} ${s.ready}/${replicas}   `
            + `revisions current ${s.statefulSet.currentRevision} update ${s.statefulSet.updateRevision}`);
        lines.push("");
        const rows = [["ORDINAL", "POD", "REVISION", "VERSION", "DIGEST", "READY", "RESTARTS", "AGE", "STATE"]];
        for (const p of s.pods) {
            rows.push([String(p.ordinal), p.name, p.revision, p.version ?? "?", (p.digest ?? "").slice(0, 19), p.ready ? "yes" : "no",
                String(p.restarts), p.age, p.terminating ? "Terminating" : p.waitingReason ?? p.phase]);
        }
        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
    }
    if (s.pendingConfig.length > 0) lines.push("", `stack config not deployed yet: ${s.pendingConfig.join(", ")} (run \`pulumi up\` or \`sts-canary step\`)`);
    if (s.operationRunning) lines.push("", `in progress: ${s.operationRunning}`);
    if (s.interrupted) lines.push("", `note: ${s.interrupted}`);
    if (s.recent.length > 0) {
        lines.push("", "recent:");
        for (const entry of s.recent) lines.push(`  ${formatEntry(entry)}`);
    }
    return lines.join("\n");
}
