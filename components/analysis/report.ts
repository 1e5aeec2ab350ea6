/**
 * An analysis outcome as gate results: what `up` prints when it fails, what the rollout summary,
 * the tool's timeline and `status` show. Every measurement is listed.
 */
import type { GateResult } from "../rollout/gates";
import { tally } from "./measure";
import type { AnalysisOutcome } from "./run";
import type { AnalysisSettings } from "./spec";
import { redact } from "../redact";

const HINTS: Partial<Record<string, string>> = {
    Failed: "the canary's metrics are bad: revert (plain `pulumi up` with the previous config) or raise the partition",
    Error: "the analysis could not measure: check that Prometheus answers at the address given; the canary was not judged",
    Inconclusive: "the measurements met neither condition (often: no traffic); the canary stays as it is: run `pulumi up` again to analyze again, or revert",
};

/** What the preview says will run, e.g. `analysis: success-rate, p95 every 10s x6 on http://...; judge: latency`. */
export function describeAnalysis(settings: AnalysisSettings | undefined): string {
    if (!settings) return "";
    const parts: string[] = [];
    if (settings.metrics.length > 0) {
        parts.push(`analysis: ${settings.metrics.map((m) => m.name).join(", ")} every ${settings.intervalSeconds}s x${settings.count}${settings.initialDelaySeconds ? ` after ${settings.initialDelaySeconds}s` : ""} on ${redact(settings.prometheus)}`);
    }
    if (settings.judge) parts.push(`judge: ${settings.judge.metrics.map((m) => m.name).join(", ")} (canary vs baseline)`);
    if (settings.load) parts.push(`load: ${settings.load.requestsPerSecond}/s per pod`);
    return parts.join("; ");
}

export function analysisGate(outcome: AnalysisOutcome): GateResult {
    const evidence: string[] = [];
    for (const metric of outcome.metrics) {
        const t = tally(metric.measurements);
        evidence.push(`${metric.name}: ${metric.phase} (${metric.measurements.length} measurement(s): ${t.successful} successful, ${t.failed} failed, `
            + `${t.inconclusive} inconclusive, ${t.error} error)`);
        metric.measurements.forEach((m, i) => evidence.push(`  ${metric.name} #${i + 1} ${m.phase}: ${m.message}`));
    }
    if (outcome.load) {
        const statuses = Object.entries(outcome.load.byStatus).map(([s, n]) => `${n} x ${s}`).join(", ");
        evidence.push(`load: ${outcome.load.sent} request(s) to ${outcome.load.pods} pod(s)${statuses ? ` (${statuses})` : ""}`);
    }
    const hint = HINTS[outcome.phase];
    if (hint && outcome.metrics.length > 0) evidence.push(`analysis ${outcome.phase}: ${hint}`);
    return { gate: "analysis", passed: outcome.phase === "Successful", evidence };
}

export function judgeGate(outcome: AnalysisOutcome): GateResult | undefined {
    if (outcome.judgeSkipped) return { gate: "judge", passed: true, evidence: [`skipped: ${outcome.judgeSkipped}`] };
    const result = outcome.judge;
    if (!result) return undefined;
    return { gate: "judge", passed: result.verdict === "pass", evidence: [result.explanation, ...result.metrics.map((m) => `  ${m.explanation}`)] };
}
