/**
 * Ready-made queries for the two metrics every team wants, request success rate and request
 * duration, per pod. They read `http_requests_total{code}` and the histogram
 * `http_request_duration_seconds`, which the platform's nginx base image exposes
 * (platform/base-image/README.md); on another Prometheus, set `labels` (and, for other metric
 * names, write the query yourself).
 */
import type { Direction } from "./judge";

export interface Template {
    description: string;
    /** For analysis metrics: the canary pods, one series per pod. */
    query: string;
    /** For the judge: the pods of `{{pods}}`, one series per pod. */
    judgeQuery: string;
    /** Conditions when none is given. */
    successCondition: string;
    /** Which change is bad, for the judge. */
    direction: Direction;
}

const sel = (pods: string, extra = "") => `{{{namespaceLabel}}="{{namespace}}",{{podLabel}}=~"${pods}"${extra}}`;
const rate = (metric: string, pods: string, extra = "") => `rate(${metric}${sel(pods, extra)}[{{window}}])`;
const by = "by ({{podLabel}})";

function successRate(pods: string): string {
    return `sum ${by} (${rate("http_requests_total", pods, ',code!~"5.."')}) / sum ${by} (${rate("http_requests_total", pods)})`;
}
function errorRate(pods: string): string {
    return `(sum ${by} (${rate("http_requests_total", pods, ',code=~"5.."')}) or sum ${by} (${rate("http_requests_total", pods)}) * 0)`
        + ` / sum ${by} (${rate("http_requests_total", pods)})`;
}
function quantile(q: number, pods: string): string {
    return `histogram_quantile(${q}, sum by ({{podLabel}}, le) (${rate("http_request_duration_seconds_bucket", pods)}))`;
}
function meanDuration(pods: string): string {
    return `sum ${by} (${rate("http_request_duration_seconds_sum", pods)}) / sum ${by} (${rate("http_request_duration_seconds_count", pods)})`;
}

export const TEMPLATES = {
    "success-rate": {
        description: "share of requests not answered 5xx, per pod, over the window",
        query: successRate("{{canaryPods}}"), judgeQuery: successRate("{{pods}}"), successCondition: "result >= 0.99", direction: "decrease",
    },
    "error-rate": {
        description: "share of requests answered 5xx, per pod, over the window (0 when there is none)",
        query: errorRate("{{canaryPods}}"), judgeQuery: errorRate("{{pods}}"), successCondition: "result <= 0.01", direction: "increase",
    },
    "latency-p95": {
        description: "95th percentile of request duration (seconds), per pod, over the window",
        query: quantile(0.95, "{{canaryPods}}"), judgeQuery: quantile(0.95, "{{pods}}"), successCondition: "result <= 0.5", direction: "increase",
    },
    "latency-p99": {
        description: "99th percentile of request duration (seconds), per pod, over the window",
        query: quantile(0.99, "{{canaryPods}}"), judgeQuery: quantile(0.99, "{{pods}}"), successCondition: "result <= 1", direction: "increase",
    },
    "latency-mean": {
        description: "mean request duration (seconds), per pod, over the window",
        query: meanDuration("{{canaryPods}}"), judgeQuery: meanDuration("{{pods}}"), successCondition: "result <= 0.5", direction: "increase",
    },
} as const satisfies Record<string, Template>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];
