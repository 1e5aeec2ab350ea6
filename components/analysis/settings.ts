/**
 * `gates.analysis` as given -> the AnalysisSettings the check runs (defaults from options.ts,
 * templates filled in), and every problem of it, each naming its key, before anything exists.
 */
import { parser } from "@prometheus-io/lezer-promql";
import type { AnalysisArgs, AnalysisMetricArgs, JudgeMetricArgs } from "../args";
import { oneOfProblem, rangeProblem, urlProblem } from "../checks";
import { DEFAULTS, LIMITS } from "../options";
import { contradiction, parseCondition } from "./condition";
import { DIRECTIONS, Direction } from "./judge";
import { AnalysisSettings, LabelNames, StepFacts, renderQuery, unknownPlaceholders } from "./spec";
import { TEMPLATES, TEMPLATE_NAMES, TemplateName } from "./templates";

type Add = (propertyPath: string, reason: string | undefined) => void;

const templateOf = (name: string | undefined) => (name !== undefined && name in TEMPLATES ? TEMPLATES[name as TemplateName] : undefined);

export function labelNames(args: Pick<AnalysisArgs, "labels">): LabelNames {
    return { namespace: args.labels?.namespace ?? "namespace", pod: args.labels?.pod ?? "pod", revision: args.labels?.revision ?? "controller_revision_hash" };
}

/** The settings the check runs; `bakeSeconds` bounds the default count. Assumes valid arguments. */
export function analysisSettings(args: AnalysisArgs, bakeSeconds: number): AnalysisSettings {
    const intervalSeconds = args.intervalSeconds ?? DEFAULTS.analysisInterval;
    const initialDelaySeconds = args.initialDelaySeconds ?? DEFAULTS.analysisInitialDelay;
    const judge = args.judge;
    return {
        prometheus: args.prometheus,
        initialDelaySeconds,
        intervalSeconds,
        count: args.count ?? Math.max(1, Math.floor((bakeSeconds - initialDelaySeconds) / intervalSeconds)),
        windowSeconds: args.windowSeconds ?? DEFAULTS.analysisWindow,
        labels: labelNames(args),
        metrics: (args.metrics ?? []).map((m) => {
            const template = templateOf(m.template);
            const defaulted = m.successCondition === undefined && m.failureCondition === undefined ? template?.successCondition : undefined;
            return {
                name: m.name, query: m.query ?? template?.query ?? "",
                successCondition: m.successCondition ?? defaulted, failureCondition: m.failureCondition,
                failureLimit: m.failureLimit ?? DEFAULTS.failureLimit,
                inconclusiveLimit: m.inconclusiveLimit ?? DEFAULTS.inconclusiveLimit,
                consecutiveErrorLimit: m.consecutiveErrorLimit ?? DEFAULTS.consecutiveErrorLimit,
            };
        }),
        judge: judge && {
            metrics: judge.metrics.map((m) => ({
                name: m.name, query: m.query ?? templateOf(m.template)?.judgeQuery ?? "",
                direction: (m.direction ?? templateOf(m.template)?.direction ?? "increase") as Direction, critical: m.critical ?? false,
            })),
            confidence: (judge.confidencePercent ?? DEFAULTS.judgeConfidence) / 100,
            tolerance: (judge.tolerancePercent ?? DEFAULTS.judgeTolerance) / 100,
            minSamples: judge.minSamples ?? DEFAULTS.judgeMinSamples,
            passScore: judge.passScore ?? DEFAULTS.judgePassScore,
            marginalScore: judge.marginalScore ?? DEFAULTS.judgeMarginalScore,
        },
        load: args.load && {
            port: args.load.port ?? 80, path: args.load.path ?? "/", requestsPerSecond: args.load.requestsPerSecond ?? DEFAULTS.loadRate,
        },
    };
}

const SAMPLE_FACTS: StepFacts = {
    namespace: "ns", statefulset: "web", canaryPods: ["web-2"], baselinePods: ["web-0", "web-1"], canaryRevision: "web-2", baselineRevision: "web-1",
};

/** Why the PromQL does not parse (at which character), or undefined. Placeholders are filled with sample values first. */
export function promqlProblem(query: string, labels: LabelNames): string | undefined {
    const promql = renderQuery(query, { labels, windowSeconds: 30, intervalSeconds: 10 }, SAMPLE_FACTS, "canary");
    let at: number | undefined;
    parser.parse(promql).iterate({ enter: (node) => { if (node.type.isError && at === undefined) at = node.from; } });
    if (at === undefined) return undefined;
    return `is not valid PromQL: it stops parsing at character ${at + 1} of "${promql.length > 160 ? `${promql.slice(0, 160)}...` : promql}" (placeholders filled in)`;
}

/** A template or a query (not both, not neither), placeholders known, PromQL that parses. */
function checkQuery(m: AnalysisMetricArgs | JudgeMetricArgs, at: string, judge: boolean, labels: LabelNames, add: Add): void {
    if (typeof m.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(m.name)) add(`${at}.name`, "required: a name of letters, digits, _ . -");
    if ((m.template === undefined) === (m.query === undefined)) return add(at, `give exactly one of template (${TEMPLATE_NAMES.join(", ")}) or query`);
    if (m.template !== undefined) return add(`${at}.template`, oneOfProblem(m.template, TEMPLATE_NAMES));
    if (typeof m.query !== "string") return add(`${at}.query`, "must be a string of PromQL");
    const unknown = unknownPlaceholders(m.query, judge);
    if (unknown.length > 0) {
        return add(`${at}.query`, `unknown placeholder(s) ${unknown.map((u) => `{{${u}}}`).join(", ")}`
            + `${judge ? "" : " ({{pods}} and {{revision}} are for judge queries)"}; see the README's Analysis section`);
    }
    add(`${at}.query`, promqlProblem(m.query, labels));
}

function checkMetric(m: AnalysisMetricArgs, at: string, labels: LabelNames, add: Add): void {
    checkQuery(m, at, false, labels, add);
    const parsed = (["successCondition", "failureCondition"] as const).map((key) => {
        if (m[key] === undefined) return undefined;
        const c = parseCondition(m[key] as string);
        if (typeof c === "string") add(`${at}.${key}`, c);
        return typeof c === "string" ? undefined : c;
    });
    if (parsed[0] && parsed[1]) {
        const both = contradiction(parsed[0], parsed[1]);
        if (both !== undefined) add(at, `successCondition and failureCondition contradict: both hold for result = ${both}`);
    }
    if (m.template === undefined && m.successCondition === undefined && m.failureCondition === undefined) {
        add(at, "a successCondition or a failureCondition is required with a query");
    }
    for (const key of ["failureLimit", "inconclusiveLimit", "consecutiveErrorLimit"] as const) {
        if (m[key] !== undefined) add(`${at}.${key}`, rangeProblem(m[key] as number, LIMITS[key].min, LIMITS[key].max));
    }
}

/** Every problem of `gates.analysis` (ranges of single options are checked from the table by validate.ts). */
export function checkAnalysis(args: AnalysisArgs, bakeSeconds: number | undefined, add: Add): void {
    const at = "gates.analysis";
    if (args.prometheus === undefined || args.prometheus === "") add(`${at}.prometheus`, "required: the Prometheus base URL the analysis queries, e.g. http://prometheus.monitoring:9090");
    else add(`${at}.prometheus`, urlProblem(args.prometheus));
    const labels = labelNames(args);
    const metrics = args.metrics ?? [];
    if (metrics.length === 0 && !args.judge) add(at, "give metrics, a judge, or both");
    const names = new Set<string>();
    metrics.forEach((m, i) => {
        if (names.has(m?.name)) add(`${at}.metrics[${i}].name`, `"${m.name}" is used twice`);
        names.add(m?.name);
        checkMetric(m ?? {}, `${at}.metrics[${i}]`, labels, add);
    });
    if (args.judge) {
        if (!Array.isArray(args.judge.metrics) || args.judge.metrics.length === 0) add(`${at}.judge.metrics`, "at least one metric is required");
        (args.judge.metrics ?? []).forEach((m, i) => {
            checkQuery(m ?? {}, `${at}.judge.metrics[${i}]`, true, labels, add);
            if (m?.direction !== undefined) add(`${at}.judge.metrics[${i}].direction`, oneOfProblem(m.direction, DIRECTIONS));
        });
        const { passScore, marginalScore } = args.judge;
        if ((marginalScore ?? DEFAULTS.judgeMarginalScore) > (passScore ?? DEFAULTS.judgePassScore)) add(`${at}.judge.marginalScore`, "must not be above passScore");
    }
    const interval = args.intervalSeconds ?? DEFAULTS.analysisInterval;
    const delay = args.initialDelaySeconds ?? DEFAULTS.analysisInitialDelay;
    if (args.count === undefined && (bakeSeconds ?? 0) < delay + interval) {
        add("gates.bakeSeconds", `the analysis measures during the bake: ${bakeSeconds ?? 0}s is shorter than the initial delay and one interval `
            + `(${delay}s + ${interval}s); bake longer or set gates.analysis.count`);
    }
}
