/**
 * The rollout check's loop: observe the StatefulSet and its pods, apply decide() on every change,
 * replace stuck pods it names, fail fast with the cause, then run the gates. It depends only on the
 * RolloutCluster and Clock interfaces, so unit tests drive it with fakes; the dynamic provider runs
 * it against the stack's cluster (kube.ts).
 */
import { PodView, StatefulSetView, Verdict, decide } from "./decide";
import { GateResult, HttpProbe, gateFailureMessage, httpGate, metricGate, readyGate, restartGate } from "./gates";
import { redact } from "../redact";
import { podRanges } from "./describe";
import type { RolloutInputs } from "./inputs";
import { versionOfRevision } from "./views";
import { AnalysisRun } from "../analysis/run";
import { analysisGate, judgeGate } from "../analysis/report";
import { query } from "../analysis/prometheus";
import { isTerminal } from "../analysis/measure";

export interface PodEvidence {
    /** Last Warning events of the pod, oldest first, e.g. "BackOff: Back-off restarting failed container". */
    events: string[];
    /** Container whose log is shown, and whether it is the previous (crashed) run. */
    logContainer?: string;
    logPrevious?: boolean;
    /** Last lines of that container's log. */
    logTail: string[];
}

/** Whether the cluster's view is known to be in sync with the API server. */
export type SyncState =
    | { synced: true }
    /** Not (or no longer) in sync since `since` (local ms); `permanent` errors (401, 403) do not heal by retrying. */
    | { synced: false; since: number; error?: string; permanent?: boolean };

/** What the check needs of a cluster: a live view of one StatefulSet and its pods, and a few calls. */
export interface RolloutCluster {
    /** Starts observing (list, then watch, retried with backoff); `onChange` fires after every change it sees. */
    start(onChange: () => void): Promise<void>;
    stop(): void;
    /** Decisions are only made on a view in sync: listed, and its watches connected since. */
    sync(): SyncState;
    /** The API server's clock minus this machine's (ms), from the Date of its answers: pods' timestamps are on its clock. */
    serverOffset(): number;
    statefulSet(): StatefulSetView | undefined;
    pods(): PodView[];
    /** Version of each ControllerRevision of the StatefulSet, by revision name. */
    revisionVersions(): Promise<Record<string, string>>;
    /** Deletes exactly this pod if, read fresh, it is still the same pod and still not Ready. */
    deletePod(pod: PodView): Promise<"deleted" | "gone" | "ready">;
    evidence(pod: PodView): Promise<PodEvidence>;
    /** GET through the API server's pod proxy. */
    probe(pod: PodView, port: number | string, path: string): Promise<HttpProbe>;
    /** A plain HTTP GET from here (the metric gate). */
    fetch(url: string): Promise<{ status: number; body: string }>;
}

export interface Clock {
    now(): number;
    /** Resolves after `ms`, or earlier when `signal` aborts. */
    sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Timers that clean up after themselves: the abort listener is removed when the timer fires. */
export const realClock: Clock = {
    now: () => Date.now(),
    sleep: (ms, signal) => new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
    }),
};

/** What the runner checks: the check's inputs (inputs.ts). */
export type RolloutSpec = RolloutInputs;

export interface RolloutReport {
    durationSeconds: number;
    /** Version each ordinal runs now. */
    ordinalVersions: Record<string, string>;
    /** Version of status.currentRevision: what pods below the partition run and come back on. */
    stableVersion: string;
    currentRevision: string;
    updateRevision: string;
    /** Stuck pods the check deleted so that the controller recreated them on the template. */
    replaced: string[];
    /** Pods below the partition that stay on the template (the partition was raised). */
    staysUpdated: string[];
    gates: GateResult[];
    summary: string;
}

/** The step failed: the message says which pod, why, and what it printed. */
export class RolloutFailure extends Error {
    constructor(message: string) {
        super(message);
        this.name = "RolloutFailure";
    }
}

type Log = (line: string) => void;

/** One line naming a pod fully: ordinal, revision, image, restarts. */
export function podLine(pod: PodView): string {
    return `${pod.name} (ordinal ${pod.ordinal}, revision ${pod.revision || "?"}, image ${pod.image}, ${pod.restarts} restart(s))`;
}

/** The failure message for a stuck pod, with its events and log tail. */
export function failureMessage(spec: Pick<RolloutSpec, "namespace" | "name">, pod: PodView | undefined, cause: string,
    hint: string | undefined, evidence: PodEvidence | undefined): string {
    const lines = [`rollout of StatefulSet ${spec.namespace}/${spec.name} failed: ${pod ? `pod ${podLine(pod)}` : "the step"}: ${cause}`];
    if (pod?.waiting?.message) lines.push(`  ${pod.waiting.container}: ${pod.waiting.message}`);
    if (pod?.lastTermination) {
        const t = pod.lastTermination;
        lines.push(`  last run ended: ${t.reason ?? "terminated"}${t.exitCode !== undefined ? `, exit code ${t.exitCode}` : ""}${t.message ? `: ${t.message}` : ""}`);
    }
    if (pod?.unschedulable) lines.push(`  not scheduled: ${pod.unschedulable}`);
    if (hint) lines.push(`  hint: ${hint}`);
    if (evidence && evidence.events.length > 0) {
        lines.push(`  last warning events of ${pod?.name}:`);
        for (const e of evidence.events) lines.push(`    ${e}`);
    }
    if (evidence && evidence.logTail.length > 0) {
        lines.push(`  last log lines of container ${evidence.logContainer}${evidence.logPrevious ? " (previous run)" : ""}:`);
        for (const l of evidence.logTail) lines.push(`    ${l}`);
    }
    // Log lines, events and messages are the pod's words: they may print a credential.
    return redact(lines.join("\n"));
}

function pickEvidence(cluster: RolloutCluster, pod: PodView | undefined): Promise<PodEvidence | undefined> {
    if (!pod) return Promise.resolve(undefined);
    return cluster.evidence(pod).catch((err: Error) => ({ events: [`(could not read events or logs: ${err.message})`], logTail: [] }));
}

/** Names the pod a waiting reason is about, if it is one of ours. */
function podOfReason(reason: string, pods: PodView[]): PodView | undefined {
    return pods.find((p) => reason.startsWith(`${p.name} `));
}

/** Seconds for humans, e.g. `12s`. */
const secs = (ms: number) => `${Math.max(0, Math.round(ms / 1000))}s`;

/**
 * One run of the check: the loop's memory across observations (when the view went out of sync
 * and came back, the pods already deleted) and its steps. decide() itself stays a pure function
 * of one in-sync view.
 */
class Rollout {
    private everSynced = false;
    private outSince?: number;
    /** Server time from which the pods have been in view without a gap (after the last outage). */
    private seenSince?: number;
    readonly replaced: string[] = [];
    private readonly replacedUids = new Set<string>();
    readonly startedAt: number;
    readonly deadline: number;
    private wake?: AbortController;

    constructor(private readonly cluster: RolloutCluster, private readonly spec: RolloutSpec, private readonly clock: Clock, private readonly log: Log) {
        this.startedAt = clock.now();
        this.deadline = this.startedAt + spec.rolloutTimeoutSeconds * 1000;
    }

    /** A change wakes the loop at once (`onChange`); otherwise it looks again after `ms` (timeouts are time-based). */
    readonly onChange = () => this.wake?.abort();
    readonly settle = async (ms: number) => {
        this.wake = new AbortController();
        await this.clock.sleep(ms, this.wake.signal);
        this.wake = undefined;
    };

    /** undefined when the view is in sync; else why not (and a permanent error throws). */
    private outOfView(): string | undefined {
        const sync = this.cluster.sync();
        if (sync.synced) {
            if (this.outSince !== undefined) {
                this.seenSince = this.clock.now() + this.cluster.serverOffset();
                this.log(`the cluster is in view again after ${secs(this.clock.now() - this.outSince)}; pods are judged from now on`);
                this.outSince = undefined;
            }
            this.everSynced = true;
            return undefined;
        }
        if (sync.permanent) {
            throw new RolloutFailure(`rollout of StatefulSet ${this.spec.namespace}/${this.spec.name} cannot be checked: ${sync.error ?? "the cluster refused the request"}`);
        }
        if (this.everSynced && this.outSince === undefined) this.outSince = sync.since;
        const what = this.everSynced ? "the cluster is out of view" : "connecting to the cluster";
        return `${what} for ${secs(this.clock.now() - sync.since)}${sync.error ? ` (${sync.error})` : ""}; retrying`;
    }

    /** Deletes the pods decide() named (each once); a pod that cannot be deleted now is tried again on the next look. */
    private async replace(verdict: Extract<Verdict, { kind: "replace" }>): Promise<void> {
        for (const [i, pod] of verdict.pods.entries()) {
            if (this.replacedUids.has(pod.uid)) continue;
            let outcome: Awaited<ReturnType<RolloutCluster["deletePod"]>>;
            try {
                outcome = await this.cluster.deletePod(pod);
            } catch (err) {
                this.log(`could not replace ${pod.name} yet: ${(err as Error).message.split("\n")[0]}`);
                continue;
            }
            this.replacedUids.add(pod.uid);
            if (outcome !== "deleted") continue;
            this.replaced.push(pod.name);
            this.log(`replaced stuck pod: ${verdict.why[i]}; deleted it so the controller recreates it`);
        }
    }

    /** One look: the verdict on an in-sync view, or why there is none. */
    private look(): { verdict: Verdict; pods: PodView[] } {
        const away = this.outOfView();
        if (away) return { verdict: { kind: "waiting", reason: away }, pods: [] };
        const pods = this.cluster.pods();
        const now = this.clock.now() + this.cluster.serverOffset();
        return { verdict: decide(this.cluster.statefulSet(), pods, { ...this.spec, seenSince: this.seenSince }, now), pods };
    }

    /** Waits for done; throws on failure or timeout. */
    async untilDone(phase: string): Promise<Extract<Verdict, { kind: "done" }>> {
        let lastReason = "";
        for (;;) {
            const now = this.clock.now();
            const { verdict, pods } = this.look();
            if (verdict.kind === "done") return verdict;
            if (verdict.kind === "failed") throw await this.failure(verdict.pod, verdict.cause, verdict.hint);
            if (verdict.kind === "replace") await this.replace(verdict);
            else if (verdict.reason.replace(/\d+s/g, "") !== lastReason) {
                // One line per state, not per second of the same one.
                this.log(`${phase}: ${verdict.reason}`);
                lastReason = verdict.reason.replace(/\d+s/g, "");
            }
            if (now >= this.deadline) {
                const reason = verdict.kind === "waiting" ? verdict.reason : `replacing ${verdict.pods.map((p) => p.name).join(", ")}`;
                throw await this.failure(podOfReason(reason, pods), `not done after rolloutTimeoutSeconds (${this.spec.rolloutTimeoutSeconds}s): ${reason}`);
            }
            await this.settle(Math.min(1000, Math.max(this.deadline - now, 0)));
        }
    }

    private async failure(pod: PodView | undefined, cause: string, hint?: string): Promise<RolloutFailure> {
        return new RolloutFailure(failureMessage(this.spec, pod, cause, hint, await pickEvidence(this.cluster, pod)));
    }

    /** The pods below the partition run the expected stable version, when one is expected. */
    checkStable(): void {
        const { spec } = this;
        if (!spec.expectedStableVersion) return;
        const off = this.cluster.pods().filter((p) => p.ordinal < Math.min(spec.partition, spec.replicas) && p.version !== spec.expectedStableVersion);
        if (off.length > 0) {
            throw new RolloutFailure(`rollout of StatefulSet ${spec.namespace}/${spec.name} failed: the pods below the partition should run `
                + `${spec.expectedStableVersion} (stableTag), but ${off.map((p) => `${p.name} runs ${p.version ?? "?"}`).join(", ")}`);
        }
    }

    /** What runs where once the step and its gates passed. */
    async report(done: Extract<Verdict, { kind: "done" }>, gates: GateResult[]): Promise<RolloutReport> {
        const { spec, cluster } = this;
        const sts = cluster.statefulSet();
        const pods = cluster.pods().filter((p) => p.ordinal < spec.replicas).sort((a, b) => a.ordinal - b.ordinal);
        const currentRevision = sts?.currentRevision ?? "";
        const updateRevision = sts?.updateRevision ?? "";
        const stableVersion = currentRevision === updateRevision ? spec.version
            : versionOfRevision({ pods, revisionVersions: {} }, currentRevision)
                ?? versionOfRevision({ pods, revisionVersions: await retried(() => cluster.revisionVersions(), this.clock, this.deadline) }, currentRevision) ?? "?";
        return {
            durationSeconds: Math.round((this.clock.now() - this.startedAt) / 100) / 10,
            ordinalVersions: Object.fromEntries(pods.map((p) => [String(p.ordinal), p.version ?? "?"])),
            stableVersion, currentRevision, updateRevision, replaced: this.replaced, staysUpdated: done.staysUpdated.map((p) => p.name), gates,
            summary: summarize(spec, pods, stableVersion, done.staysUpdated, this.replaced, gates),
        };
    }
}

/**
 * Waits until decide() says done (replacing the stuck pods it names), then runs the gates.
 * Decisions are made only on a view in sync with the API server, on the server's clock; an API
 * outage is waited out (bounded by rolloutTimeoutSeconds). Resolves with what runs where;
 * rejects with a RolloutFailure naming the cause.
 */
export async function runRollout(cluster: RolloutCluster, spec: RolloutSpec, clock: Clock, log: Log): Promise<RolloutReport> {
    const rollout = new Rollout(cluster, spec, clock, log);
    await cluster.start(rollout.onChange);
    try {
        let done = await rollout.untilDone("waiting");
        rollout.checkStable();
        const gates = await runGates(cluster, spec, clock, log, rollout.deadline, rollout.settle, async () => { done = await rollout.untilDone("baking"); });
        if (gates.some((g) => !g.passed)) {
            throw new RolloutFailure(`rollout of StatefulSet ${spec.namespace}/${spec.name} failed its gates:\n${gateFailureMessage(gates)}`);
        }
        return await rollout.report(done, gates);
    } finally {
        cluster.stop();
    }
}

/** A read retried a few times (an API server restarting answers again within seconds), within the deadline. */
async function retried<T>(read: () => Promise<T>, clock: Clock, deadline: number, attempts = 5): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await read();
        } catch (err) {
            if (attempt >= attempts || clock.now() >= deadline) throw err;
            await clock.sleep(Math.min(500 * 2 ** (attempt - 1), 4000));
        }
    }
}

/** "web-3..web-4 on v2, web-0..web-2 on v1; ..." */
export function summarize(spec: Pick<RolloutSpec, "name" | "version" | "replicas">, pods: PodView[], stableVersion: string,
    staysUpdated: PodView[], replaced: string[], gates: GateResult[]): string {
    const byVersion = new Map<string, number[]>();
    for (const pod of pods) byVersion.set(pod.version ?? "?", [...(byVersion.get(pod.version ?? "?") ?? []), pod.ordinal]);
    const parts = [[...byVersion.entries()].map(([v, ordinals]) => `${podRanges(spec.name, ordinals)} on ${v}`).join(", ") + ", all Ready"];
    parts.push(`stable ${stableVersion}`);
    if (staysUpdated.length > 0) {
        parts.push(`${podRanges(spec.name, staysUpdated.map((p) => p.ordinal))} stay on ${spec.version} below the partition (raising it does not move pods back)`);
    }
    if (replaced.length > 0) parts.push(`replaced stuck pod(s) ${replaced.join(", ")}`);
    const judged = gates.filter((g) => g.evidence.length > 0).map((g) => `${g.gate} ok`);
    if (judged.length > 0) parts.push(`gates: ${judged.join(", ")}`);
    // The analysis and the judge keep every measurement and score: the summary output, the tool's timeline and `status` show them.
    const analysis = gates.filter((g) => g.gate === "analysis" || g.gate === "judge").flatMap((g) => [`${g.gate}:`, ...g.evidence.map((e) => `  ${e}`)]);
    return [parts.join("; "), ...analysis].join("\n");
}

/**
 * Bake (watching for crashes and readiness: a canary pod that restarts too often or turns
 * unready stops the bake at once), then judge restarts, readiness, HTTP and metric. `stillDone`
 * re-checks the rollout after the bake.
 */
async function runGates(cluster: RolloutCluster, spec: RolloutSpec, clock: Clock, log: Log, deadline: number,
    settle: (ms: number) => Promise<void>, stillDone: () => Promise<void>): Promise<GateResult[]> {
    const { gates } = spec;
    const canary = () => cluster.pods().filter((p) => p.ordinal >= spec.partition && p.ordinal < spec.replicas);
    const before = canary();
    const results: GateResult[] = [];
    const analysis = startAnalysis(cluster, spec, before, clock, log);
    if (gates.bakeSeconds > 0) {
        const bakeStart = clock.now();
        const unready = new Map<string, string>();
        while (clock.now() < bakeStart + gates.bakeSeconds * 1000) {
            if (cluster.sync().synced) {
                for (const pod of canary().filter((p) => !p.ready && !unready.has(p.name))) {
                    unready.set(pod.name, `${pod.name} was not Ready ${secs(clock.now() - bakeStart)} into the bake (${pod.waiting?.reason ?? pod.phase})`);
                }
            }
            // Stop baking as soon as a gate cannot pass any more.
            if (unready.size > 0 || !restartGate(before, canary(), before.map((p) => p.ordinal), gates.maxRestarts).passed) break;
            if (analysis && isTerminal(analysis.phase())) break;
            await settle(Math.min(1000, bakeStart + gates.bakeSeconds * 1000 - clock.now()));
        }
        results.push(readyGate(before.map((p) => p.name), [...unready.values()], secs(clock.now() - bakeStart)));
    }
    const after = canary();
    const restarts = restartGate(before, after, before.map((p) => p.ordinal), gates.maxRestarts);
    results.unshift(restarts);
    if (analysis) {
        if (results.some((r) => !r.passed)) analysis.stop();
        const outcome = await analysis.outcome();
        if (spec.gates.analysis!.metrics.length > 0 || outcome.load) results.push(analysisGate(outcome));
        const judged = judgeGate(outcome);
        if (judged) results.push(judged);
    }
    if (results.some((r) => !r.passed)) return results;
    await stillDone();
    const pods = canary();
    if (gates.http && pods.length > 0) {
        const http = gates.http;
        const probes = await Promise.all(pods.map((p) => probeRetried(cluster, p, http, clock, deadline)));
        results.push(httpGate(probes, http));
    }
    if (gates.metric) {
        const metric = gates.metric;
        const answer = await cluster.fetch(metric.url).then(
            (r) => (r.status >= 200 && r.status < 300 ? { body: r.body, error: undefined } : { body: undefined, error: `HTTP ${r.status}` }),
            (err: Error) => ({ body: undefined, error: err.message }));
        results.push(metricGate(metric, answer.body, answer.error));
    }
    return results;
}

/** The analysis of this step, started with the bake: canary and baseline pods as the step left them. */
function startAnalysis(cluster: RolloutCluster, spec: RolloutSpec, canaryPods: PodView[], clock: Clock, log: Log): AnalysisRun | undefined {
    const settings = spec.gates.analysis;
    if (!settings) return undefined;
    const sts = cluster.statefulSet();
    const currentRevision = sts?.currentRevision ?? "";
    const baseline = cluster.pods().filter((p) => p.ordinal < Math.min(spec.partition, spec.replicas) && p.revision === currentRevision);
    const facts = {
        namespace: spec.namespace, statefulset: spec.name, canaryPods: canaryPods.map((p) => p.name), baselinePods: baseline.map((p) => p.name),
        canaryRevision: sts?.updateRevision ?? "", baselineRevision: currentRevision,
    };
    const byName = new Map(cluster.pods().map((p) => [p.name, p]));
    return new AnalysisRun(settings, facts, {
        query: (promql) => query((url) => cluster.fetch(url), settings.prometheus, promql, settings.labels),
        request: async (pod, port, path) => {
            const view = byName.get(pod);
            return view ? (await cluster.probe(view, port, path)).status : 0;
        },
        clock,
        log,
    });
}

/** A probe that got no answer at all (the API server restarting) is sent again, a few times. */
async function probeRetried(cluster: RolloutCluster, pod: PodView, http: { port: number | string; path: string }, clock: Clock, deadline: number): Promise<HttpProbe> {
    let probe = await cluster.probe(pod, http.port, http.path);
    for (let attempt = 1; attempt < 4 && probe.status === 0 && probe.error !== undefined && clock.now() < deadline; attempt++) {
        await clock.sleep(1000 * attempt);
        probe = await cluster.probe(pod, http.port, http.path);
    }
    return probe;
}
