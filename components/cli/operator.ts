/**
 * What `step`, `promote` and `rollback` do. Every change is an ordinary stack config change plus
 * `pulumi up` of the same program, so the stack config always says where the canary is and
 * `pulumi preview` can diff it; the tool adds health gates, the timeline and rollback.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { versionLabel } from "../images/version-page";
import { GateResult, GateSettings, metricGate, pageGate, readinessGate, restartGate } from "./gates";
import { Journal } from "./journal";
import { PodInfo, getPods, getRevisionImages, getStatefulSet, kubectl, tagOf } from "./kube";
import { OperationRecord, podsToForceReplace, remainingSteps } from "./plan";
import { httpGet, probePage } from "./probes";
import { setConfig } from "./stack";
import { CanaryStatus, collectStatus } from "./status";

/** Exit codes scripts can rely on. */
export const EXIT = {
    ok: 0,
    error: 1,
    usage: 2,
    /** A gate or the rollout failed and the stack was rolled back to the stable version. */
    rolledBack: 3,
    /** A gate or the rollout failed and the rollback did not complete: look at `status`. */
    rollbackFailed: 4,
    /** Stopped before the end of the plan (approval declined); the last gated step stands. */
    stopped: 5,
    /** A precondition does not hold (promote-env: the source stack is not fully rolled out and healthy). */
    refused: 6,
    /** Ctrl-C: the operation record is kept; the next run explains and continues it. */
    interrupted: 130,
} as const;

export interface Operator {
    stack: Stack;
    journal: Journal;
    gates: GateSettings;
    /** Progress for humans (stdout, or stderr with --json). */
    log: (line: string) => void;
    /** Aborted on Ctrl-C. */
    signal: AbortSignal;
}

export interface Outcome {
    code: number;
    gates: GateResult[];
    message: string;
}

// Container states that will not heal within a rollout step.
const STUCK_REASONS = new Set([
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError",
    "InvalidImageName", "RunContainerError",
]);

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

class Interrupted extends Error {}

function checkInterrupted(op: Operator): void {
    if (op.signal.aborted) throw new Interrupted("interrupted");
}

function errorSummary(err: unknown): string {
    const text = String((err as Error)?.message ?? err);
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => /error|failed|timed out|Waiting for/i.test(l) && !/^at /.test(l));
    return (lines.slice(-4).join(" | ") || text.slice(0, 400)).slice(0, 800);
}

/** Forwards the StatefulSet's wait messages and errors from `pulumi up`, once each. */
function upProgress(op: Operator): (out: string) => void {
    let last = "";
    return (out: string) => {
        for (const line of out.split("\n")) {
            const wait = /StatefulSet .*?(Waiting for .*|Found .*)$/.exec(line);
            const text = wait ? `  up: ${wait[1].trim()}` : /^\s*error:/.test(line) ? `  up: ${line.trim()}` : undefined;
            if (text && text !== last) {
                op.log(text);
                last = text;
            }
        }
    };
}

/**
 * Sets config and runs `up`. While it waits, a watchdog aborts it as soon as a pod at or above
 * `canaryFrom` is stuck (crash loop, image pull failure) or stays unready past the gate timeout,
 * instead of waiting out the whole rollout timeout.
 */
async function applyConfig(op: Operator, ns: string, sts: string, settings: Record<string, string>, canaryFrom: number,
    extra?: (pods: PodInfo[]) => Promise<void>): Promise<{ ok: boolean; seconds: number; error?: string }> {
    await setConfig(op.stack, settings);
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    op.signal.addEventListener("abort", onAbort, { once: true });
    const started = Date.now();
    let done = false;
    let watchdogReason: string | undefined;
    const watchdog = (async () => {
        while (!done) {
            await sleep(2000, controller.signal);
            if (done || controller.signal.aborted) break;
            const pods = await getPods(ns, sts).catch(() => [] as PodInfo[]);
            if (extra) await extra(pods).catch((err) => op.log(`  warning: ${String(err)}`));
            if (!extra) {
                const stuck = pods.find((p) => p.ordinal >= canaryFrom && p.waitingReason && STUCK_REASONS.has(p.waitingReason));
                const slow = Date.now() - started > op.gates.readyTimeoutSeconds * 1000
                    ? pods.find((p) => p.ordinal >= canaryFrom && !p.ready) : undefined;
                const bad = stuck ?? slow;
                if (bad) {
                    watchdogReason = `${bad.name} ${stuck ? `is in ${bad.waitingReason}` : `not Ready after ${op.gates.readyTimeoutSeconds}s`} `
                        + `(${bad.restarts} restarts); stopped the rollout`;
                    controller.abort();
                }
            }
        }
    })();
    try {
        await op.stack.up({ signal: controller.signal, onOutput: upProgress(op), color: "never" });
        return { ok: true, seconds: (Date.now() - started) / 1000 };
    } catch (err) {
        return { ok: false, seconds: (Date.now() - started) / 1000, error: watchdogReason ?? (op.signal.aborted ? "interrupted" : errorSummary(err)) };
    } finally {
        done = true;
        controller.abort();
        op.signal.removeEventListener("abort", onAbort);
        await watchdog;
        checkInterrupted(op);
    }
}

/** Runs the gates on the canary pods (ordinals >= canaryFrom) of the running step. */
export async function runGates(op: Operator, status: CanaryStatus, canaryFrom: number, expectedTag: string): Promise<GateResult[]> {
    const { namespace: ns, statefulSetName: sts } = status;
    const replicas = status.config.replicas;
    const results: GateResult[] = [];
    const deadline = Date.now() + op.gates.readyTimeoutSeconds * 1000;
    let pods = await getPods(ns, sts);
    while (!readinessGate(pods, replicas).passed && Date.now() < deadline) {
        await sleep(2000, op.signal);
        checkInterrupted(op);
        pods = await getPods(ns, sts);
    }
    results.push(readinessGate(pods, replicas));
    if (!results[0].passed) return results;

    const canaryOrdinals = pods.filter((p) => p.ordinal >= canaryFrom).map((p) => p.ordinal);
    const before = pods;
    const bakeEnd = Date.now() + op.gates.bakeSeconds * 1000;
    if (op.gates.bakeSeconds > 0) op.log(`  baking ${op.gates.bakeSeconds}s`);
    let after = pods;
    while (Date.now() < bakeEnd) {
        await sleep(Math.min(2000, Math.max(0, bakeEnd - Date.now())), op.signal);
        checkInterrupted(op);
        after = await getPods(ns, sts);
        if (!readinessGate(after, replicas).passed) break; // judged below, no need to bake on
    }
    after = await getPods(ns, sts);
    results.push({ ...readinessGate(after, replicas), gate: "ready-after-bake" });
    results.push(restartGate(before, after, canaryOrdinals, op.gates.maxRestarts));

    if (op.gates.checkPages) {
        const canaryPods = after.filter((p) => p.ordinal >= canaryFrom);
        if (canaryPods.length === 0) {
            results.push({ gate: "page", passed: true, evidence: [`no pod runs the template at partition ${canaryFrom} (staged)`] });
        } else {
            const probes = await Promise.all(canaryPods.map((p) => probePage(ns, p)));
            results.push(pageGate(probes, `This is ${versionLabel(expectedTag)}`));
        }
    }
    if (op.gates.metricUrl) {
        const url = op.gates.metricUrl;
        const answer = await httpGet(url).then((r) => ({ body: r.status < 300 ? r.body : undefined, error: r.status < 300 ? undefined : `HTTP ${r.status}` }),
            (err: Error) => ({ body: undefined, error: err.message }));
        results.push(metricGate(url, answer.body, answer.error, op.gates.metricThreshold ?? 0, op.gates.metricComparison));
    }
    return results;
}

function recordGates(op: Operator, results: GateResult[]): void {
    for (const r of results) op.journal.record(r.passed ? "gate-pass" : "gate-FAIL", `${r.gate}: ${r.evidence.join("; ")}`, { gate: r.gate, passed: r.passed });
}

/**
 * Makes the stack's state match the live StatefulSet. An `up` stopped half-way (watchdog, Ctrl-C)
 * may have changed the cluster without recording it, and a later `up` diffs against the state:
 * without this, reverting the config to what the state says would change nothing in the cluster.
 */
export async function refreshStatefulSet(op: Operator): Promise<void> {
    const deployment = (await op.stack.exportStack()).deployment as { resources?: { urn: string; type: string }[] };
    const urns = (deployment.resources ?? []).filter((r) => r.type === "kubernetes:apps/v1:StatefulSet").map((r) => r.urn);
    if (urns.length === 0) return;
    await op.stack.refresh({ target: urns, color: "never", clearPendingCreates: true });
}

/** Requires a stack that was deployed and whose StatefulSet exists. */
export async function deployedStatus(op: Operator): Promise<CanaryStatus> {
    const status = await collectStatus(op.stack, op.journal);
    if (!status.deployed || !status.statefulSet) {
        throw new UsageError(`stack ${status.stack} has no deployed StatefulSet yet: deploy it first with \`pulumi up\``);
    }
    return status;
}

export class UsageError extends Error {}

/**
 * One canary step: move `partition` (and optionally `imageTag`), `up`, gate, and on failure roll
 * back (unless disabled).
 */
export async function step(op: Operator, target: number, options: { imageTag?: string; noRollback?: boolean; record?: OperationRecord }): Promise<Outcome> {
    const status = await deployedStatus(op);
    const canaryTag = options.imageTag ?? status.config.imageTag;
    const record: OperationRecord = options.record ?? {
        kind: "step", startedAt: new Date().toISOString(), stableTag: status.stableTag, canaryTag,
        initialPartition: status.config.partition, plan: [target], phase: "applying", pid: process.pid,
    };
    op.journal.saveOperation({ ...record, currentTarget: target, phase: "applying", pid: process.pid });
    const settings: Record<string, string> = { partition: String(target) };
    if (options.imageTag) settings.imageTag = options.imageTag;
    const replicas = status.config.replicas;
    const moving = canaryTag === status.stableTag ? `every pod on ${canaryTag}`
        : target >= replicas ? `${canaryTag} staged, no pod moves yet`
            : `${canaryTag} on ordinals ${target}..${replicas - 1}, ${status.stableTag} below`;
    op.journal.record("step", `partition ${status.config.partition} -> ${target}${options.imageTag ? `, imageTag ${options.imageTag}` : ""} (${moving})`);

    const applied = await applyConfig(op, status.namespace, status.statefulSetName, settings, target);
    if (!applied.ok) {
        op.journal.record("up-FAIL", `pulumi up failed after ${applied.seconds.toFixed(1)}s: ${applied.error}`);
        return failAndRollBack(op, `rollout to partition ${target} failed: ${applied.error}`, [], options.noRollback, record);
    }
    op.journal.record("applied", `pulumi up done in ${applied.seconds.toFixed(1)}s; gating (ready within ${op.gates.readyTimeoutSeconds}s, bake ${op.gates.bakeSeconds}s)`);
    op.journal.saveOperation({ ...record, currentTarget: target, phase: "baking", pid: process.pid });
    const after = await collectStatus(op.stack, op.journal);
    const gates = await runGates(op, after, target, canaryTag);
    recordGates(op, gates);
    const failed = gates.filter((g) => !g.passed);
    if (failed.length > 0) {
        return failAndRollBack(op, `gate${failed.length > 1 ? "s" : ""} ${failed.map((g) => g.gate).join(", ")} failed at partition ${target}`,
            gates, options.noRollback, record);
    }
    if (!options.record) op.journal.clearOperation();
    return { code: EXIT.ok, gates, message: `partition ${target}: all gates passed` };
}

async function failAndRollBack(op: Operator, reason: string, gates: GateResult[], noRollback: boolean | undefined,
    record: OperationRecord): Promise<Outcome> {
    if (noRollback) {
        op.journal.record("halted", `${reason}; automatic rollback disabled (--no-rollback): run \`sts-canary rollback\``);
        op.journal.clearOperation();
        return { code: EXIT.rollbackFailed, gates, message: `${reason}; not rolled back` };
    }
    const rolledBack = await rollback(op, reason, record);
    return { code: rolledBack.code === EXIT.ok ? EXIT.rolledBack : EXIT.rollbackFailed, gates, message: `${reason}; ${rolledBack.message}` };
}

/**
 * Rollback: revert the template to the stable version (raising the partition would not move
 * updated pods back), restore the partition the operation started from, and force-replace pods
 * stuck unready on the broken revision (the controller will not, kubernetes#67250). Pods below
 * the canary are never touched; the result is verified.
 */
export async function rollback(op: Operator, reason: string, record?: OperationRecord): Promise<Outcome> {
    const status = await deployedStatus(op);
    const stable = status.stableTag;
    const stsSpec = status.statefulSet!;
    const canaryFrom = Math.min(stsSpec.partition, status.config.partition);
    const restorePartition = record?.initialPartition ?? status.config.partition;
    const untouched = status.pods.filter((p) => p.ordinal < canaryFrom).map((p) => ({ name: p.name, uid: p.uid }));
    const started = Date.now();
    op.journal.saveOperation({
        ...(record ?? { kind: "rollback", startedAt: new Date().toISOString(), stableTag: stable, canaryTag: status.canaryTag ?? stable, plan: [] }),
        initialPartition: restorePartition, currentTarget: restorePartition, phase: "rolling-back", pid: process.pid,
    } as OperationRecord);
    op.journal.record("rollback", `${reason}: reverting the template to ${stable}, partition -> ${restorePartition}`);
    await refreshStatefulSet(op);

    const replaced = new Set<string>();
    const forceReplace = async (pods: PodInfo[]) => {
        const sts = await getStatefulSet(status.namespace, status.statefulSetName);
        if (!sts || sts.observedGeneration < sts.generation) return;
        const revisions = await getRevisionImages(status.namespace, status.statefulSetName);
        if (tagOf(revisions[sts.updateRevision] ?? "") !== stable) return; // the revert is not in effect yet
        for (const pod of podsToForceReplace(pods, sts, canaryFrom)) {
            if (replaced.has(pod.uid)) continue;
            replaced.add(pod.uid);
            await kubectl(["delete", "pod", pod.name, "-n", status.namespace, "--wait=false"]);
            op.journal.record("replace", `${pod.name} was stuck on revision ${pod.revision} (${pod.waitingReason ?? "not Ready"}, `
                + `${pod.restarts} restarts): deleted so the controller recreates it on ${stable}`);
        }
    };
    const applied = await applyConfig(op, status.namespace, status.statefulSetName,
        { imageTag: stable, partition: String(restorePartition) }, canaryFrom, forceReplace);
    if (!applied.ok) {
        op.journal.record("rollback-FAIL", `pulumi up of the rollback failed: ${applied.error}`);
        return { code: EXIT.rollbackFailed, gates: [], message: `rollback to ${stable} failed: ${applied.error}` };
    }

    const pods = await getPods(status.namespace, status.statefulSetName);
    const wrong = pods.filter((p) => tagOf(p.image) !== stable || !p.ready);
    const restarted = untouched.filter((u) => pods.find((p) => p.name === u.name)?.uid !== u.uid);
    if (wrong.length > 0 || restarted.length > 0) {
        const problems = [...wrong.map((p) => `${p.name} on ${tagOf(p.image)} ready=${p.ready}`), ...restarted.map((r) => `${r.name} was restarted`)];
        op.journal.record("rollback-FAIL", `after the rollback: ${problems.join("; ")}`);
        return { code: EXIT.rollbackFailed, gates: [], message: `rollback incomplete: ${problems.join("; ")}` };
    }
    op.journal.record("rolled-back", `every pod on ${stable} and Ready in ${((Date.now() - started) / 1000).toFixed(1)}s; `
        + `${replaced.size} stuck pod(s) replaced; pods ${untouched.map((u) => u.name).join(", ") || "(none)"} untouched`);
    op.journal.clearOperation();
    return { code: EXIT.ok, gates: [], message: `rolled back to ${stable}` };
}

/**
 * Walks a plan of partitions (e.g. 4,3,1,0), gating each step; with `approve`, asks before every
 * step after the first. Resumes an interrupted promotion from the step it was on.
 */
export async function promote(op: Operator, plan: number[], options: {
    imageTag?: string; noRollback?: boolean; approve?: (next: number) => Promise<boolean>; resume?: OperationRecord;
}): Promise<Outcome> {
    const status = await deployedStatus(op);
    const startingNewCanary = options.imageTag !== undefined && options.imageTag !== status.config.imageTag;
    let steps: number[];
    let record: OperationRecord;
    if (options.resume && !startingNewCanary) {
        record = { ...options.resume, pid: process.pid };
        const from = options.resume.currentTarget;
        steps = from === undefined ? remainingSteps(plan, status.config.partition) : [from, ...remainingSteps(plan, from)];
        op.journal.record("resume", `continuing the interrupted promotion at partition ${steps[0] ?? "-"} (plan ${plan.join(",")})`);
    } else {
        steps = startingNewCanary ? plan : remainingSteps(plan, status.config.partition);
        record = {
            kind: "promote", startedAt: new Date().toISOString(), stableTag: status.stableTag,
            canaryTag: options.imageTag ?? status.config.imageTag, initialPartition: status.config.partition, plan,
            phase: "applying", pid: process.pid,
        };
    }
    if (steps.length === 0) {
        return { code: EXIT.ok, gates: [], message: `nothing to do: partition ${status.config.partition} is already past the plan ${plan.join(",")}` };
    }
    op.journal.record("promote", `${record.stableTag} -> ${record.canaryTag}: partitions ${steps.join(" -> ")}`);
    const allGates: GateResult[] = [];
    for (const [index, target] of steps.entries()) {
        if (index > 0 && options.approve && !(await options.approve(target))) {
            op.journal.record("stopped", `approval declined before partition ${target}; the stack stays at the last gated step`);
            op.journal.clearOperation();
            return { code: EXIT.stopped, gates: allGates, message: `stopped before partition ${target}` };
        }
        const outcome = await step(op, target, {
            imageTag: index === 0 && startingNewCanary ? options.imageTag : undefined, noRollback: options.noRollback, record,
        });
        allGates.push(...outcome.gates);
        if (outcome.code !== EXIT.ok) return { ...outcome, gates: allGates };
    }
    op.journal.clearOperation();
    op.journal.record("promoted", `${record.canaryTag} promoted through ${steps.join(" -> ")}`);
    return { code: EXIT.ok, gates: allGates, message: `promoted ${record.canaryTag} (partitions ${steps.join(" -> ")})` };
}

export { Interrupted };
