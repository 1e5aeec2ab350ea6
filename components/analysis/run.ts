/**
 * One analysis run during a step's bake: every `intervalSeconds` each metric is measured and the
 * judge's metrics sampled for the canary and the baseline pods, until `count` measurements are
 * taken or a metric reaches a phase more measurements cannot change; optional load runs beside
 * it. Depends only on a query function, a request function and a clock, so unit tests drive it
 * with fakes; the rollout runner passes Prometheus and the API server's pod proxy.
 */
import { JudgeResult, judge } from "./judge";
import { Measurement, QueryAnswer, isTerminal, measure, metricPhase, runPhase } from "./measure";
import { AnalysisSettings, RunPhase, StepFacts, renderQuery } from "./spec";

export interface AnalysisClock {
    now(): number;
    sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface AnalysisDeps {
    query(promql: string): Promise<QueryAnswer>;
    /** One request to a pod (the load); the HTTP status, 0 when there was no answer. */
    request(pod: string, port: number | string, path: string): Promise<number>;
    clock: AnalysisClock;
    log(line: string): void;
}

export interface MetricOutcome { name: string; phase: RunPhase; measurements: Measurement[] }
export interface LoadOutcome { sent: number; pods: number; byStatus: Record<string, number> }
export interface AnalysisOutcome {
    phase: RunPhase;
    metrics: MetricOutcome[];
    judge?: JudgeResult;
    /** Why the judge did not run (e.g. no baseline pod). */
    judgeSkipped?: string;
    load?: LoadOutcome;
}

export class AnalysisRun {
    private readonly measurements = new Map<string, Measurement[]>();
    private readonly samples = new Map<string, { canary: number[]; baseline: number[] }>();
    private readonly stopped = new AbortController();
    private load?: LoadOutcome;
    private taken = 0;
    private readonly done: Promise<void>;

    constructor(private readonly settings: AnalysisSettings, private readonly facts: StepFacts, private readonly deps: AnalysisDeps) {
        for (const m of settings.metrics) this.measurements.set(m.name, []);
        for (const m of settings.judge?.metrics ?? []) this.samples.set(m.name, { canary: [], baseline: [] });
        const started = deps.clock.now();
        this.done = Promise.all([this.measureLoop(started), settings.load ? this.loadLoop(started) : undefined]).then(() => undefined);
    }

    /** The run's phase so far (Running while measurements remain and nothing is decided). */
    phase(): RunPhase {
        const finished = this.taken >= this.settings.count;
        return runPhase(this.settings.metrics.map((m) => metricPhase(m, this.measurements.get(m.name) ?? [], finished)));
    }

    /** Stops early (another gate failed); the outcome says what was measured until then. */
    stop(): void { this.stopped.abort(); }

    /** Waits for the remaining measurements, then judges. */
    async outcome(): Promise<AnalysisOutcome> {
        await this.done;
        const metrics = this.settings.metrics.map((m) => {
            const measurements = this.measurements.get(m.name) ?? [];
            return { name: m.name, phase: metricPhase(m, measurements, true), measurements };
        });
        const outcome: AnalysisOutcome = { phase: runPhase(metrics.map((m) => m.phase)), metrics, load: this.load };
        const spec = this.settings.judge;
        if (spec && this.facts.baselinePods.length === 0) outcome.judgeSkipped = "no baseline pod (every pod runs the canary's revision): nothing to compare with";
        else if (spec) {
            outcome.judge = judge(spec.metrics.map((m) => ({ name: m.name, direction: m.direction, critical: m.critical, ...this.samples.get(m.name)! })), spec);
        }
        return outcome;
    }

    private async measureLoop(started: number): Promise<void> {
        const { clock } = this.deps;
        const interval = this.settings.intervalSeconds * 1000;
        const first = started + this.settings.initialDelaySeconds * 1000;
        for (let i = 1; i <= this.settings.count && !this.stopped.signal.aborted; i++) {
            await clock.sleep(Math.max(0, first + i * interval - clock.now()), this.stopped.signal);
            if (this.stopped.signal.aborted) break;
            await Promise.all([this.measureOnce(), this.sampleJudge()]);
            this.taken = i;
            const phase = this.phase();
            if (isTerminal(phase)) {
                this.deps.log(`analysis: ${phase} after ${i} measurement(s); stopping the bake`);
                break;
            }
        }
        this.stopped.abort(); // ends the load too
    }

    private async measureOnce(): Promise<void> {
        const at = this.deps.clock.now();
        await Promise.all(this.settings.metrics.map(async (m) => {
            const answer = await this.deps.query(renderQuery(m.query, this.settings, this.facts));
            const measurement = measure(m, answer, at, { podLabel: this.settings.labels.pod, pods: this.facts.canaryPods });
            this.measurements.get(m.name)!.push(measurement);
            this.deps.log(`analysis: ${m.name} #${this.measurements.get(m.name)!.length}: ${measurement.phase}: ${measurement.message}`);
        }));
    }

    /** One sample per pod and judge metric for each group; NaN (no traffic) and errors add nothing. */
    private async sampleJudge(): Promise<void> {
        const spec = this.settings.judge;
        if (!spec || this.facts.baselinePods.length === 0) return;
        await Promise.all(spec.metrics.flatMap((m) => (["canary", "baseline"] as const).map(async (group) => {
            const answer = await this.deps.query(renderQuery(m.query, this.settings, this.facts, group));
            if (!answer.ok) return this.deps.log(`judge: ${m.name} (${group}) not sampled: ${answer.error}`);
            this.samples.get(m.name)![group].push(...answer.samples.map((s) => s.value).filter((v) => Number.isFinite(v)));
        })));
    }

    /** `requestsPerSecond` to every canary and baseline pod, each second, until the run ends. */
    private async loadLoop(started: number): Promise<void> {
        const load = this.settings.load!;
        const { clock } = this.deps;
        const pods = [...this.facts.canaryPods, ...this.facts.baselinePods];
        const outcome: LoadOutcome = { sent: 0, pods: pods.length, byStatus: {} };
        this.load = outcome;
        // Seconds: bounded even if never stopped; the load runs through the initial delay too (it warms the metrics up).
        const limit = this.settings.initialDelaySeconds + this.settings.count * this.settings.intervalSeconds + 1;
        for (let second = 0; second < limit && !this.stopped.signal.aborted; second++) {
            const statuses = await Promise.all(pods.flatMap((pod) => Array.from({ length: load.requestsPerSecond },
                () => this.deps.request(pod, load.port, load.path).catch(() => 0))));
            outcome.sent += statuses.length;
            for (const s of statuses) outcome.byStatus[String(s || "no answer")] = (outcome.byStatus[String(s || "no answer")] ?? 0) + 1;
            await clock.sleep(Math.max(0, started + (second + 1) * 1000 - clock.now()), this.stopped.signal);
        }
    }
}
