/**
 * The Prometheus metric source: an instant query through the HTTP API (`/api/v1/query`), its
 * answer as samples. Anything but a vector or scalar of numbers is an Error measurement naming
 * Prometheus: an unreachable server, an HTTP error, a query error, a body that is not its JSON.
 */
import type { QueryAnswer, Sample } from "./measure";
import type { LabelNames } from "./spec";
import { redact } from "../redact";

export type Get = (url: string) => Promise<{ status: number; body: string }>;

interface ApiAnswer {
    status?: string;
    error?: string;
    data?: { resultType?: string; result?: unknown };
}

/** `pod="web-3"` (or every label but __name__ when there is no pod label). */
function seriesName(metric: Record<string, string>, labels: LabelNames): string {
    if (metric[labels.pod]) return `${labels.pod}="${metric[labels.pod]}"`;
    return Object.entries(metric).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`).join(",");
}

export function parseAnswer(status: number, body: string, labels: LabelNames): QueryAnswer {
    let json: ApiAnswer;
    try {
        json = JSON.parse(body) as ApiAnswer;
    } catch {
        return { ok: false, error: `HTTP ${status}, not a Prometheus answer: "${body.trim().slice(0, 80)}"` };
    }
    if (json.status !== "success") return { ok: false, error: `HTTP ${status}: ${json.error ?? "query failed"}` };
    const { resultType, result } = json.data ?? {};
    if (resultType === "scalar" && Array.isArray(result)) return { ok: true, samples: [{ series: "", value: Number(result[1]) }] };
    if (resultType !== "vector" || !Array.isArray(result)) return { ok: false, error: `the query returned a ${resultType ?? "?"}; an instant vector or scalar is needed` };
    const samples: Sample[] = (result as { metric: Record<string, string>; value: [number, string] }[])
        .map((r) => ({ series: seriesName(r.metric ?? {}, labels), value: Number(r.value?.[1]) }));
    return { ok: true, samples };
}

/** One instant query; never throws: what went wrong is the answer. */
export async function query(get: Get, prometheus: string, promql: string, labels: LabelNames): Promise<QueryAnswer> {
    const url = `${prometheus.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(promql)}`;
    try {
        const { status, body } = await get(url);
        const answer = parseAnswer(status, body, labels);
        return answer.ok ? answer : { ok: false, error: `Prometheus at ${redact(prometheus)}: ${answer.error}` };
    } catch (err) {
        return { ok: false, error: `Prometheus at ${redact(prometheus)} did not answer: ${(err as Error).message}` };
    }
}
