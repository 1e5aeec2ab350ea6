/**
 * Health gates of a canary step, judged inside `pulumi up` once the step is done: restarts of
 * the canary pods during a bake, an HTTP check of every canary pod, an optional metric. Verdicts
 * are pure functions over the evidence; the rollout runner gathers it (watch, pod proxy, HTTP).
 */
import type { PodView } from "./decide";
import type { HttpCheck, MetricCheck } from "./inputs";
import { redact } from "../redact";

export interface GateResult {
    gate: string;
    passed: boolean;
    /** Human-readable facts the verdict rests on. */
    evidence: string[];
}

/** Restarts of canary pods between two observations; a replaced pod (new uid) counts as a restart. */
export function restartGate(before: PodView[], after: PodView[], canaryOrdinals: number[], maxRestarts: number): GateResult {
    const evidence: string[] = [];
    let passed = true;
    for (const ordinal of canaryOrdinals) {
        const a = before.find((p) => p.ordinal === ordinal);
        const b = after.find((p) => p.ordinal === ordinal);
        if (!a || !b) {
            passed = false;
            evidence.push(`pod ordinal ${ordinal} missing ${!a ? "before" : "after"} the bake`);
            continue;
        }
        const restarts = a.uid === b.uid ? b.restarts - a.restarts : b.restarts + 1;
        if (restarts > maxRestarts) passed = false;
        evidence.push(`${b.name}: ${restarts} restart(s) during the bake${a.uid !== b.uid ? " (pod was replaced)" : ""}`);
    }
    if (canaryOrdinals.length === 0) evidence.push("no canary pod");
    if (!passed) evidence.push(`at most ${maxRestarts} allowed (maxRestarts)`);
    return { gate: "restarts", passed, evidence };
}

/** Every canary pod stayed Ready through the bake. */
export function readyGate(canaryPods: string[], unready: string[], baked: string): GateResult {
    if (unready.length > 0) return { gate: "ready", passed: false, evidence: [...unready, "every canary pod must stay Ready during the bake"] };
    return { gate: "ready", passed: true, evidence: [`${canaryPods.join(", ") || "no canary pod"} Ready throughout the ${baked} bake`] };
}

export interface HttpProbe {
    pod: string;
    status: number;
    body: string;
    error?: string;
}

/** Every probe answered the expected status and a body matching the pattern. */
export function httpGate(probes: HttpProbe[], check: Pick<HttpCheck, "path" | "expectStatus" | "bodyPattern">): GateResult {
    const evidence: string[] = [];
    const pattern = check.bodyPattern ? new RegExp(check.bodyPattern) : undefined;
    let passed = true;
    for (const probe of probes) {
        const ok = !probe.error && probe.status === check.expectStatus && (!pattern || pattern.test(probe.body));
        if (!ok) passed = false;
        const seen = probe.error !== undefined && probe.status === 0
            ? probe.error
            : `HTTP ${probe.status} "${probe.body.trim().replace(/\s+/g, " ").slice(0, 80)}"`;
        const expected = `HTTP ${check.expectStatus}${pattern ? ` matching /${check.bodyPattern}/` : ""}`;
        evidence.push(`${probe.pod} ${check.path}: ${seen}${ok ? "" : ` (expected ${expected})`}`);
    }
    if (probes.length === 0) evidence.push("no canary pod to check");
    return { gate: "http", passed, evidence };
}

/** A number from a metric endpoint: plain text, or Prometheus `data.result[0].value[1]`. */
export function parseMetric(body: string): number | undefined {
    const text = body.trim();
    if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return Number(text);
    try {
        const json = JSON.parse(text);
        const value = json?.data?.result?.[0]?.value?.[1] ?? json?.value;
        const number = typeof value === "string" || typeof value === "number" ? Number(value) : NaN;
        return Number.isFinite(number) ? number : undefined;
    } catch {
        return undefined;
    }
}

export function metricGate(metric: MetricCheck, body: string | undefined, error: string | undefined): GateResult {
    const { threshold, comparison } = metric;
    // The URL may carry a token (?access_token=...): evidence goes into outputs, state and the tool's timeline.
    const url = redact(metric.url);
    if (error !== undefined || body === undefined) {
        return { gate: "metric", passed: false, evidence: [`${url}: ${error ?? "no answer"}`] };
    }
    const value = parseMetric(body);
    if (value === undefined) return { gate: "metric", passed: false, evidence: [`${url}: not a number: "${body.slice(0, 60)}"`] };
    const passed = comparison === "<=" ? value <= threshold : value >= threshold;
    return { gate: "metric", passed, evidence: [`${url}: ${value} ${comparison} ${threshold} is ${passed}`] };
}

/** The failed gates as one message, each with its evidence. */
export function gateFailureMessage(results: GateResult[]): string {
    return results.filter((r) => !r.passed).map((r) => `gate ${r.gate} failed: ${r.evidence.join("; ")}`).join("\n");
}
