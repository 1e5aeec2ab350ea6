/**
 * Health gates of a canary step. Each gate reports pass/fail with evidence; the evaluation is
 * pure (tested with tables) and the probing (kubectl, HTTP) lives in the callers.
 */
import { PodInfo } from "./kube";

export interface GateResult {
    gate: string;
    passed: boolean;
    /** Human-readable facts the verdict rests on. */
    evidence: string[];
}

export interface GateSettings {
    /** Seconds to wait for all pods to be Ready after `up`. */
    readyTimeoutSeconds: number;
    /** Seconds the canary bakes before the restart and page gates are judged. */
    bakeSeconds: number;
    /** Container restarts (or pod replacements) tolerated per canary pod during the bake. */
    maxRestarts: number;
    /** Whether every canary pod must serve the expected version page. */
    checkPages: boolean;
    /** Optional metric: URL returning a number (plain text or a Prometheus instant-query JSON). */
    metricUrl?: string;
    metricThreshold?: number;
    /** The metric passes when `value <comparison> threshold`. */
    metricComparison: "<=" | ">=";
}

export const DEFAULT_GATES: GateSettings = {
    readyTimeoutSeconds: 120,
    bakeSeconds: 20,
    maxRestarts: 0,
    checkPages: true,
    metricComparison: "<=",
};

export function readinessGate(pods: PodInfo[], replicas: number): GateResult {
    const ready = pods.filter((p) => p.ready && !p.terminating);
    const evidence = [`${ready.length}/${replicas} pods Ready`];
    for (const pod of pods.filter((p) => !p.ready)) {
        evidence.push(`${pod.name} not Ready (${pod.waitingReason ?? pod.phase}, ${pod.restarts} restarts)`);
    }
    return { gate: "ready", passed: ready.length === replicas && pods.length === replicas, evidence };
}

/** Restarts of canary pods between two observations; a replaced pod (new uid) counts as a restart. */
export function restartGate(before: PodInfo[], after: PodInfo[], canaryOrdinals: number[], maxRestarts: number): GateResult {
    const evidence: string[] = [];
    let passed = true;
    for (const ordinal of canaryOrdinals) {
        const a = before.find((p) => p.ordinal === ordinal);
        const b = after.find((p) => p.ordinal === ordinal);
        if (!a || !b) {
            passed = false;
            evidence.push(`pod ${ordinal} missing ${!a ? "before" : "after"} the bake`);
            continue;
        }
        const restarts = a.uid === b.uid ? b.restarts - a.restarts : b.restarts + 1;
        if (restarts > maxRestarts) passed = false;
        evidence.push(`${b.name}: ${restarts} restart(s) during the bake${a.uid !== b.uid ? " (pod was replaced)" : ""}`);
    }
    if (canaryOrdinals.length === 0) evidence.push("no canary pod yet");
    return { gate: "restarts", passed, evidence };
}

export interface PageProbe {
    pod: string;
    status: number;
    body: string;
    error?: string;
}

export function pageGate(probes: PageProbe[], expectedVersionText: string): GateResult {
    const evidence: string[] = [];
    let passed = probes.length > 0;
    for (const probe of probes) {
        const ok = !probe.error && probe.status >= 200 && probe.status < 300 && probe.body.includes(expectedVersionText);
        if (!ok) passed = false;
        const seen = probe.error ?? `HTTP ${probe.status} "${probe.body.trim().slice(0, 60)}"`;
        evidence.push(`${probe.pod}: ${seen}${ok ? "" : ` (expected "${expectedVersionText}")`}`);
    }
    if (probes.length === 0) evidence.push("no canary pod to probe");
    return { gate: "page", passed, evidence };
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

export function metricGate(url: string, body: string | undefined, error: string | undefined,
    threshold: number, comparison: "<=" | ">="): GateResult {
    if (error !== undefined || body === undefined) {
        return { gate: "metric", passed: false, evidence: [`${url}: ${error ?? "no answer"}`] };
    }
    const value = parseMetric(body);
    if (value === undefined) return { gate: "metric", passed: false, evidence: [`${url}: not a number: "${body.slice(0, 60)}"`] };
    const passed = comparison === "<=" ? value <= threshold : value >= threshold;
    return { gate: "metric", passed, evidence: [`${url}: ${value} ${comparison} ${threshold} is ${passed}`] };
}

/** Parses gate settings from stack config strings (keys `gate*`), with defaults and range checks. */
export function gateSettingsFrom(config: Record<string, string | undefined>): GateSettings {
    const problems: string[] = [];
    const int = (key: string, fallback: number, min: number, max: number): number => {
        const raw = config[key];
        if (raw === undefined || raw === "") return fallback;
        const value = Number(raw);
        if (!/^\d+$/.test(raw) || value < min || value > max) problems.push(`${key}: "${raw}" is not an integer in ${min}..${max}`);
        return value;
    };
    const settings: GateSettings = {
        readyTimeoutSeconds: int("gateReadyTimeoutSeconds", DEFAULT_GATES.readyTimeoutSeconds, 1, 3600),
        bakeSeconds: int("gateBakeSeconds", DEFAULT_GATES.bakeSeconds, 0, 86400),
        maxRestarts: int("gateMaxRestarts", DEFAULT_GATES.maxRestarts, 0, 1000),
        checkPages: (config.gateCheckPages ?? "true") !== "false",
        metricComparison: DEFAULT_GATES.metricComparison,
    };
    if (config.gateCheckPages !== undefined && !["true", "false", ""].includes(config.gateCheckPages)) {
        problems.push(`gateCheckPages: "${config.gateCheckPages}" is not true or false`);
    }
    if (config.gateMetricUrl) {
        if (!/^https?:\/\/\S+$/.test(config.gateMetricUrl)) problems.push(`gateMetricUrl: "${config.gateMetricUrl}" is not an http(s) URL`);
        const threshold = Number(config.gateMetricThreshold);
        if (config.gateMetricThreshold === undefined || config.gateMetricThreshold === "" || !Number.isFinite(threshold)) {
            problems.push("gateMetricThreshold: a number is required when gateMetricUrl is set");
        }
        const comparison = config.gateMetricComparison ?? "<=";
        if (comparison !== "<=" && comparison !== ">=") problems.push(`gateMetricComparison: "${comparison}" is not <= or >=`);
        settings.metricUrl = config.gateMetricUrl;
        settings.metricThreshold = threshold;
        settings.metricComparison = comparison === ">=" ? ">=" : "<=";
    }
    if (problems.length > 0) throw new Error(`invalid gate configuration:\n  - ${problems.join("\n  - ")}`);
    return settings;
}
