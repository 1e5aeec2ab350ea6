/**
 * Measurements and phases, as pure functions (Argo Rollouts' AnalysisRun semantics):
 * each measurement is Successful, Failed, Inconclusive or Error; a metric is Failed when failed
 * measurements exceed failureLimit, Inconclusive when inconclusive ones exceed inconclusiveLimit,
 * Error when consecutive errors exceed consecutiveErrorLimit (limits are strict "more than").
 * One difference, on purpose: a metric that ends without a single Successful measurement and
 * whose last one was an Error is Error, not Successful: an unreachable Prometheus never passes.
 */
import { Condition, holds, parseCondition } from "./condition";
import type { AnalysisMetricSpec, MeasurementPhase, RunPhase } from "./spec";

/** One series of a query's answer: its identifying labels (e.g. `pod="web-3"`) and its value. */
export interface Sample { series: string; value: number }

/** What Prometheus answered: samples, or why there are none. */
export type QueryAnswer = { ok: true; samples: Sample[] } | { ok: false; error: string };

export interface Measurement {
    metric: string;
    /** Local time (ms) it was taken. */
    at: number;
    phase: MeasurementPhase;
    samples: Sample[];
    /** Why, in words: the values against the conditions, or the error. */
    message: string;
}

function conditionOf(text: string | undefined): Condition | undefined {
    if (text === undefined) return undefined;
    const parsed = parseCondition(text);
    if (typeof parsed === "string") throw new Error(`invalid condition ${parsed}`); // validated before the run
    return parsed;
}

/** The phase of one value: both conditions as in Argo Rollouts (neither holds: Inconclusive). */
export function valuePhase(value: number, metric: Pick<AnalysisMetricSpec, "successCondition" | "failureCondition">): MeasurementPhase {
    if (Number.isNaN(value)) return "Inconclusive";
    const success = conditionOf(metric.successCondition);
    const failure = conditionOf(metric.failureCondition);
    if (failure && holds(failure, value)) return "Failed";
    if (success) return holds(success, value) ? "Successful" : failure ? "Inconclusive" : "Failed";
    return "Successful";
}

const shown = (v: number) => (Number.isNaN(v) ? "NaN (no data in the window)" : String(Number(v.toPrecision(4))));

/**
 * Pods whose series are missing from a per-pod answer (series named `<podLabel>="..."`): a pod
 * that served nothing yet, or is not scraped, has no value and must not pass unseen.
 */
function missingPods(samples: Sample[], expect: { podLabel: string; pods: string[] } | undefined): string[] {
    if (!expect || !samples.some((s) => s.series.startsWith(`${expect.podLabel}="`))) return [];
    return expect.pods.filter((pod) => !samples.some((s) => s.series === `${expect.podLabel}="${pod}"`));
}

/** One measurement from one answer: every series judged; the worst one decides. */
export function measure(metric: AnalysisMetricSpec, answer: QueryAnswer, at: number, expect?: { podLabel: string; pods: string[] }): Measurement {
    if (!answer.ok) return { metric: metric.name, at, phase: "Error", samples: [], message: answer.error };
    if (answer.samples.length === 0) {
        return { metric: metric.name, at, phase: "Inconclusive", samples: [], message: "no data: the query returned no series" };
    }
    const missing = missingPods(answer.samples, expect);
    const phases = [...answer.samples.map((s) => valuePhase(s.value, metric)), ...missing.map((): MeasurementPhase => "Inconclusive")];
    const phase: MeasurementPhase = phases.includes("Failed") ? "Failed" : phases.includes("Inconclusive") ? "Inconclusive" : "Successful";
    const conditions = [metric.successCondition && `success: ${metric.successCondition}`, metric.failureCondition && `failure: ${metric.failureCondition}`]
        .filter(Boolean).join(", ");
    const values = answer.samples.map((s, i) => `${s.series || "value"} = ${shown(s.value)}${phases[i] === "Successful" ? "" : ` (${phases[i]})`}`)
        .concat(missing.map((pod) => `${expect!.podLabel}="${pod}" has no series (Inconclusive)`));
    return { metric: metric.name, at, phase, samples: answer.samples, message: `${values.join(", ")} [${conditions || "any value"}]` };
}

export interface Tally { successful: number; failed: number; inconclusive: number; error: number; consecutiveErrors: number }

export function tally(measurements: Measurement[]): Tally {
    const t: Tally = { successful: 0, failed: 0, inconclusive: 0, error: 0, consecutiveErrors: 0 };
    for (const m of measurements) {
        if (m.phase === "Successful") t.successful++;
        else if (m.phase === "Failed") t.failed++;
        else if (m.phase === "Inconclusive") t.inconclusive++;
        else t.error++;
        t.consecutiveErrors = m.phase === "Error" ? t.consecutiveErrors + 1 : 0;
    }
    return t;
}

/** The phase of one metric after these measurements; `done` once all of them are taken. */
export function metricPhase(metric: Pick<AnalysisMetricSpec, "failureLimit" | "inconclusiveLimit" | "consecutiveErrorLimit">,
    measurements: Measurement[], done: boolean): RunPhase {
    const t = tally(measurements);
    if (t.failed > metric.failureLimit) return "Failed";
    if (t.consecutiveErrors > metric.consecutiveErrorLimit) return "Error";
    if (t.inconclusive > metric.inconclusiveLimit) return "Inconclusive";
    if (!done) return "Running";
    if (measurements.length === 0 || (t.successful === 0 && measurements[measurements.length - 1].phase === "Error")) return "Error";
    if (t.successful === 0) return "Inconclusive";
    return "Successful";
}

/** Worst first: the phase of the run is the worst of its metrics'. */
const ORDER: RunPhase[] = ["Failed", "Error", "Inconclusive", "Running", "Successful"];

export function runPhase(phases: RunPhase[]): RunPhase {
    return phases.reduce<RunPhase>((worst, p) => (ORDER.indexOf(p) < ORDER.indexOf(worst) ? p : worst), "Successful");
}

/** Whether the run can stop now: a metric reached a phase more measurements cannot change. */
export const isTerminal = (phase: RunPhase) => phase !== "Running" && phase !== "Successful";
