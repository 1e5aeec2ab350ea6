/**
 * What an analysis is, as data: named metrics (PromQL with placeholders, success and failure
 * conditions, Argo Rollouts' limits), an optional baseline-vs-canary judge, optional load.
 * This is the one type the rollout check carries (inputs.ts) and the runner works from; the
 * component fills it from `gates.analysis` (settings.ts), with ready-made queries (templates.ts).
 */
import type { Direction } from "./judge";

/** Outcome of one measurement, as in Argo Rollouts. */
export const MEASUREMENT_PHASES = ["Successful", "Failed", "Inconclusive", "Error"] as const;
export type MeasurementPhase = (typeof MEASUREMENT_PHASES)[number];
/** Outcome of a metric or of the whole run. */
export type RunPhase = "Running" | MeasurementPhase;

/** Prometheus label names the placeholders and templates use (kube-prometheus-stack: the same by default). */
export interface LabelNames {
    namespace: string;
    pod: string;
    revision: string;
}

export interface AnalysisMetricSpec {
    name: string;
    /** PromQL; placeholders in `{{ }}` (PLACEHOLDERS). One value per series: each series is judged, e.g. one per pod. */
    query: string;
    /** e.g. `result >= 0.99`; absent: any value that does not meet the failure condition succeeds. */
    successCondition?: string;
    /** e.g. `result < 0.95`; absent: any value that does not meet the success condition fails. */
    failureCondition?: string;
    /** The metric fails on failed measurements > failureLimit (default 0: the first). */
    failureLimit: number;
    inconclusiveLimit: number;
    /** Consecutive measurements that could not be taken (Prometheus down, query error) > this: Error. */
    consecutiveErrorLimit: number;
}

export interface JudgeMetricSpec {
    name: string;
    /** PromQL giving one value per pod of `{{pods}}` (run once for the canary, once for the baseline). */
    query: string;
    /** Which change is bad: `increase` (errors, latency), `decrease` (throughput), `either`. */
    direction: Direction;
    /** A critical metric that fails fails the judge, whatever the score. */
    critical: boolean;
}

export interface JudgeSpec {
    metrics: JudgeMetricSpec[];
    /** Confidence of the Mann-Whitney test (Kayenta: 0.98). */
    confidence: number;
    /** A difference counts only outside ±tolerance of the baseline (Kayenta's default band: 0.25). */
    tolerance: number;
    /** Samples each group needs per metric; below it the metric has no data. */
    minSamples: number;
    passScore: number;
    marginalScore: number;
}

export interface LoadSpec {
    /** Container port (number or name) requests are sent to, through the API server's pod proxy. */
    port: number | string;
    path: string;
    /** Requests per second to each canary and each baseline pod. */
    requestsPerSecond: number;
}

export interface AnalysisSettings {
    /** Prometheus base URL, e.g. http://127.0.0.1:19090 or https://prometheus.example.com. */
    prometheus: string;
    /** Seconds before the first interval starts (Argo Rollouts' initialDelay): new pods need a few scrapes before rate() has data. */
    initialDelaySeconds: number;
    /** Seconds between measurements; the first is taken one interval after the initial delay. */
    intervalSeconds: number;
    /** Measurements per metric (default: as many intervals as fit in the bake). */
    count: number;
    /** Range of `rate()` windows in the templates: `{{window}}`. */
    windowSeconds: number;
    labels: LabelNames;
    metrics: AnalysisMetricSpec[];
    judge?: JudgeSpec;
    load?: LoadSpec;
}

/** Facts of one step that the placeholders stand for. */
export interface StepFacts {
    namespace: string;
    statefulset: string;
    canaryPods: string[];
    baselinePods: string[];
    canaryRevision: string;
    baselineRevision: string;
}

/** Every placeholder a query may use, and what it becomes. */
export const PLACEHOLDERS = {
    namespace: "the namespace",
    statefulset: "the StatefulSet's name",
    canaryPods: "a regular expression matching the canary pods, e.g. `web-3|web-4` (use with =~)",
    baselinePods: "a regular expression matching the baseline pods (below the partition, on the stable revision)",
    canaryRevision: "the canary pods' controller-revision-hash (the StatefulSet's updateRevision)",
    baselineRevision: "the baseline pods' controller-revision-hash (currentRevision)",
    pods: "judge queries only: the group being sampled (canaryPods, then baselinePods)",
    revision: "judge queries only: that group's revision",
    window: "the range of rate() windows, e.g. `30s` (windowSeconds)",
    interval: "the measurement interval, e.g. `10s`",
    namespaceLabel: "the label holding the namespace (labels.namespace)",
    podLabel: "the label holding the pod name (labels.pod)",
    revisionLabel: "the label holding the pod's revision (labels.revision)",
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

const PLACEHOLDER_RE = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** Placeholders of a query that are not known (judge-only ones count as unknown outside the judge). */
export function unknownPlaceholders(query: string, judge: boolean): string[] {
    const names = [...query.matchAll(PLACEHOLDER_RE)].map((m) => m[1]);
    return names.filter((n) => !(n in PLACEHOLDERS) || (!judge && (n === "pods" || n === "revision")));
}

/** Regular expression matching exactly these pod names (no pod: matches nothing). */
export function podsRegex(pods: string[]): string {
    return pods.length === 0 ? "$^" : pods.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
}

/** The query with its placeholders filled in; `group` fills `{{pods}}` and `{{revision}}` (judge). */
export function renderQuery(query: string, settings: Pick<AnalysisSettings, "labels" | "windowSeconds" | "intervalSeconds">,
    facts: StepFacts, group?: "canary" | "baseline"): string {
    const values: Record<Placeholder, string> = {
        namespace: facts.namespace,
        statefulset: facts.statefulset,
        canaryPods: podsRegex(facts.canaryPods),
        baselinePods: podsRegex(facts.baselinePods),
        canaryRevision: facts.canaryRevision,
        baselineRevision: facts.baselineRevision,
        pods: podsRegex(group === "baseline" ? facts.baselinePods : facts.canaryPods),
        revision: group === "baseline" ? facts.baselineRevision : facts.canaryRevision,
        window: `${settings.windowSeconds}s`,
        interval: `${settings.intervalSeconds}s`,
        namespaceLabel: settings.labels.namespace,
        podLabel: settings.labels.pod,
        revisionLabel: settings.labels.revision,
    };
    return query.replace(PLACEHOLDER_RE, (whole, name: string) => (name in values ? values[name as Placeholder] : whole));
}
