import * as assert from "node:assert/strict";
import { contradiction, holds, parseCondition } from "../../components/analysis/condition";
import { Measurement, QueryAnswer, measure, metricPhase, runPhase, valuePhase } from "../../components/analysis/measure";
import { parseAnswer, query } from "../../components/analysis/prometheus";
import { analysisGate, judgeGate } from "../../components/analysis/report";
import { AnalysisClock, AnalysisRun } from "../../components/analysis/run";
import { analysisSettings, checkAnalysis, promqlProblem } from "../../components/analysis/settings";
import { AnalysisMetricSpec, AnalysisSettings, StepFacts, podsRegex, renderQuery, unknownPlaceholders } from "../../components/analysis/spec";
import { TEMPLATES, TEMPLATE_NAMES } from "../../components/analysis/templates";
import type { AnalysisArgs } from "../../components/args";

const LABELS = { namespace: "namespace", pod: "pod", revision: "controller_revision_hash" };
const FACTS: StepFacts = { namespace: "shop", statefulset: "web", canaryPods: ["web-3", "web-4"], baselinePods: ["web-0", "web-1", "web-2"], canaryRevision: "web-b", baselineRevision: "web-a" };
const metric = (over: Partial<AnalysisMetricSpec> = {}): AnalysisMetricSpec =>
    ({ name: "success", query: "q", successCondition: "result >= 0.99", failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, ...over });
const m = (phase: Measurement["phase"]): Measurement => ({ metric: "x", at: 0, phase, samples: [], message: "" });

describe("analysis: conditions", () => {
    const cases: [string, number, boolean][] = [
        ["result >= 0.99", 0.99, true], ["result >= 0.99", 0.98, false], ["result < 0.5", 0.5, false], ["result != 0", 1, true],
        ["result > 0 && result < 1", 0.5, true], ["result > 0 && result < 1", 1, false], ["result < 0 || result > 1", 2, true], ["result == 1e-3", 0.001, true],
    ];
    for (const [text, value, expected] of cases) {
        it(`${text} for ${value} is ${expected}`, () => {
            const c = parseCondition(text);
            assert.ok(typeof c !== "string", String(c));
            assert.equal(holds(c, value), expected);
        });
    }
    it("refuses what it cannot evaluate, saying why", () => {
        assert.match(String(parseCondition("result >= ")), /is not `result <op> <number>`/);
        assert.match(String(parseCondition("result > 1 && result < 2 || result > 3")), /mixes && and \|\|/);
        assert.match(String(parseCondition("len(result) > 1")), /len\(result\) > 1/);
        assert.match(String(parseCondition("")), /empty/);
    });
    it("finds a value both conditions hold for, and none when they exclude each other", () => {
        const c = (t: string) => parseCondition(t) as Exclude<ReturnType<typeof parseCondition>, string>;
        assert.equal(contradiction(c("result >= 0.95"), c("result < 0.95")), undefined);
        assert.equal(contradiction(c("result >= 0.99"), c("result < 0.9")), undefined);
        assert.notEqual(contradiction(c("result >= 0.9"), c("result < 0.95")), undefined);
        assert.notEqual(contradiction(c("result < 0.5"), c("result < 0.9")), undefined);
        assert.equal(contradiction(c("result > 0 && result < 1"), c("result < 0 || result > 1")), undefined);
    });
});

describe("analysis: measurements and phases (Argo Rollouts' semantics)", () => {
    const phases: [Partial<AnalysisMetricSpec>, number, string][] = [
        [{ successCondition: "result >= 0.99" }, 1, "Successful"],
        [{ successCondition: "result >= 0.99" }, 0.9, "Failed"],
        [{ successCondition: undefined, failureCondition: "result > 0.1" }, 0.05, "Successful"],
        [{ successCondition: undefined, failureCondition: "result > 0.1" }, 0.2, "Failed"],
        [{ successCondition: "result >= 0.99", failureCondition: "result < 0.9" }, 0.95, "Inconclusive"],
        [{ successCondition: "result >= 0.99", failureCondition: "result < 0.9" }, 0.5, "Failed"],
        [{ successCondition: "result >= 0.99" }, NaN, "Inconclusive"],
    ];
    for (const [over, value, expected] of phases) {
        it(`${over.successCondition ?? "-"} / ${over.failureCondition ?? "-"}: ${value} is ${expected}`, () => assert.equal(valuePhase(value, metric(over)), expected));
    }
    it("judges every series and names the ones that fail", () => {
        const answer: QueryAnswer = { ok: true, samples: [{ series: 'pod="web-3"', value: 1 }, { series: 'pod="web-4"', value: 0.9 }] };
        const got = measure(metric(), answer, 0);
        assert.equal(got.phase, "Failed");
        assert.match(got.message, /pod="web-4" = 0\.9 \(Failed\)/);
        assert.match(got.message, /success: result >= 0\.99/);
    });
    it("a canary pod missing from a per-pod answer is Inconclusive, named; an aggregate answer needs no pods", () => {
        const expect = { podLabel: "pod", pods: ["web-3", "web-4"] };
        const got = measure(metric(), { ok: true, samples: [{ series: 'pod="web-3"', value: 1 }] }, 0, expect);
        assert.equal(got.phase, "Inconclusive");
        assert.match(got.message, /pod="web-4" has no series \(Inconclusive\)/);
        assert.equal(measure(metric(), { ok: true, samples: [{ series: "", value: 1 }] }, 0, expect).phase, "Successful");
        assert.equal(measure(metric(), { ok: true, samples: [{ series: 'pod="web-3"', value: 0.5 }] }, 0, expect).phase, "Failed");
    });
    it("no series is Inconclusive, an unanswered query is Error: never a pass", () => {
        assert.equal(measure(metric(), { ok: true, samples: [] }, 0).phase, "Inconclusive");
        assert.equal(measure(metric(), { ok: false, error: "Prometheus at http://p did not answer: ECONNREFUSED" }, 0).phase, "Error");
    });
    const limits: [string, Partial<AnalysisMetricSpec>, Measurement["phase"][], boolean, string][] = [
        ["failureLimit 0: the first failure fails", {}, ["Successful", "Failed"], false, "Failed"],
        ["failureLimit 3: three failures still run", { failureLimit: 3 }, ["Failed", "Failed", "Failed"], false, "Running"],
        ["failureLimit 3: the 4th failure fails", { failureLimit: 3 }, ["Failed", "Failed", "Failed", "Failed"], false, "Failed"],
        ["consecutiveErrorLimit 4: four errors still run", {}, ["Error", "Error", "Error", "Error"], false, "Running"],
        ["consecutiveErrorLimit 4: the 5th consecutive error is Error", {}, ["Error", "Error", "Error", "Error", "Error"], false, "Error"],
        ["errors not consecutive do not add up", {}, ["Error", "Error", "Successful", "Error", "Error", "Error"], false, "Running"],
        ["inconclusiveLimit 0: the first inconclusive stops", {}, ["Inconclusive"], false, "Inconclusive"],
        ["inconclusiveLimit 1 tolerates one", { inconclusiveLimit: 1 }, ["Inconclusive", "Successful"], true, "Successful"],
        ["done, all successful", {}, ["Successful", "Successful"], true, "Successful"],
        ["done with a tolerated error and successes", {}, ["Successful", "Error"], true, "Successful"],
        ["done with only errors (below the limit) is Error, not a pass", {}, ["Error", "Error"], true, "Error"],
        ["done without a measurement is Error", {}, [], true, "Error"],
    ];
    for (const [title, over, seq, done, expected] of limits) {
        it(title, () => assert.equal(metricPhase(metric(over), seq.map(m), done), expected));
    }
    it("the run is as bad as its worst metric", () => {
        assert.equal(runPhase(["Successful", "Inconclusive", "Error"]), "Error");
        assert.equal(runPhase(["Error", "Failed"]), "Failed");
        assert.equal(runPhase(["Successful", "Running"]), "Running");
        assert.equal(runPhase([]), "Successful");
    });
});

describe("analysis: queries", () => {
    it("fills every placeholder; pods become an exact alternation", () => {
        const q = renderQuery('x{{{podLabel}}=~"{{canaryPods}}",b=~"{{baselinePods}}",r="{{canaryRevision}}",ns="{{namespace}}"}[{{window}}]', { labels: LABELS, windowSeconds: 30, intervalSeconds: 10 }, FACTS);
        assert.equal(q, 'x{pod=~"web-3|web-4",b=~"web-0|web-1|web-2",r="web-b",ns="shop"}[30s]');
        assert.equal(podsRegex(["a.b"]), "a\\.b");
        assert.equal(podsRegex([]), "$^");
        assert.equal(renderQuery("{{pods}} {{revision}}", { labels: LABELS, windowSeconds: 1, intervalSeconds: 1 }, FACTS, "baseline"), "web-0|web-1|web-2 web-a");
    });
    it("names unknown placeholders; {{pods}} is for the judge only", () => {
        assert.deepEqual(unknownPlaceholders("{{canaryPod}} {{namespace}}", false), ["canaryPod"]);
        assert.deepEqual(unknownPlaceholders("{{pods}}", false), ["pods"]);
        assert.deepEqual(unknownPlaceholders("{{pods}}", true), []);
    });
    it("every template is valid PromQL, filled in", () => {
        for (const name of TEMPLATE_NAMES) {
            assert.equal(promqlProblem(TEMPLATES[name].query, LABELS), undefined, name);
            assert.equal(promqlProblem(TEMPLATES[name].judgeQuery, LABELS), undefined, name);
        }
        assert.match(String(promqlProblem("sum(rate(x[1m])", LABELS)), /not valid PromQL: it stops parsing at character 16/);
    });
    it("reads Prometheus' answers: vectors per pod, scalars, errors", () => {
        const vector = JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ metric: { pod: "web-3", code: "200" }, value: [1, "0.5"] }, { metric: { pod: "web-4" }, value: [1, "NaN"] }] } });
        assert.deepEqual(parseAnswer(200, vector, LABELS), { ok: true, samples: [{ series: 'pod="web-3"', value: 0.5 }, { series: 'pod="web-4"', value: NaN }] });
        assert.deepEqual(parseAnswer(200, JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "2"] } }), LABELS), { ok: true, samples: [{ series: "", value: 2 }] });
        assert.deepEqual(parseAnswer(400, JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }), LABELS), { ok: false, error: "HTTP 400: parse error" });
        assert.match(String((parseAnswer(502, "<html>bad gateway</html>", LABELS) as { error: string }).error), /not a Prometheus answer/);
        assert.match(String((parseAnswer(200, JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }), LABELS) as { error: string }).error), /returned a matrix/);
    });
    it("an unreachable Prometheus is an answer naming it, with any token redacted", async () => {
        const answer = await query(() => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:19090")), "http://u:secretpass@127.0.0.1:19090", "up", LABELS);
        assert.equal(answer.ok, false);
        assert.match((answer as { error: string }).error, /^Prometheus at .*127\.0\.0\.1:19090 did not answer: connect ECONNREFUSED/);
        assert.doesNotMatch((answer as { error: string }).error, /secretpass/);
    });
});

describe("analysis: arguments", () => {
    const problems = (args: Partial<AnalysisArgs>, bake = 60) => {
        const out: string[] = [];
        checkAnalysis({ prometheus: "http://127.0.0.1:19090", metrics: [{ name: "s", template: "success-rate" }], ...args } as AnalysisArgs, bake, (k, r) => { if (r) out.push(`${k}: ${r}`); });
        return out;
    };
    it("a template alone is valid", () => assert.deepEqual(problems({}), []));
    const bad: [string, Partial<AnalysisArgs>, number, RegExp][] = [
        ["no Prometheus", { prometheus: "" }, 60, /^gates\.analysis\.prometheus: required/],
        ["a Prometheus that is no URL", { prometheus: "prometheus:9090" }, 60, /prometheus: "prometheus:9090" is not an http\(s\) URL/],
        ["PromQL that does not parse", { metrics: [{ name: "s", query: "sum(rate(x[1m])", successCondition: "result > 1" }] }, 60, /metrics\[0\]\.query: is not valid PromQL/],
        ["an unknown placeholder", { metrics: [{ name: "s", query: "x{pod=~\"{{canary}}\"}", successCondition: "result > 1" }] }, 60, /metrics\[0\]\.query: unknown placeholder\(s\) \{\{canary\}\}/],
        ["contradictory conditions", { metrics: [{ name: "s", template: "success-rate", successCondition: "result >= 0.9", failureCondition: "result < 0.95" }] }, 60, /contradict: both hold for result = /],
        ["a condition that is not one", { metrics: [{ name: "s", template: "success-rate", successCondition: "result => 1" }] }, 60, /metrics\[0\]\.successCondition: "result => 1" is not/],
        ["limits out of range", { metrics: [{ name: "s", template: "success-rate", failureLimit: -1 }] }, 60, /metrics\[0\]\.failureLimit: -1 is out of range; allowed 0\.\.1000/],
        ["template and query", { metrics: [{ name: "s", template: "success-rate", query: "up" }] }, 60, /give exactly one of template/],
        ["an unknown template", { metrics: [{ name: "s", template: "sucess-rate" }] }, 60, /template: .*sucess-rate/],
        ["a query without conditions", { metrics: [{ name: "s", query: "up" }] }, 60, /a successCondition or a failureCondition is required/],
        ["a name used twice", { metrics: [{ name: "s", template: "success-rate" }, { name: "s", template: "latency-p95" }] }, 60, /metrics\[1\]\.name: "s" is used twice/],
        ["a bake shorter than one interval", { intervalSeconds: 10 }, 5, /^gates\.bakeSeconds: the analysis measures during the bake/],
        ["a judge with a bad direction", { judge: { metrics: [{ name: "l", template: "latency-mean", direction: "up" }] } }, 60, /judge\.metrics\[0\]\.direction/],
        ["a judge whose marginal is above pass", { judge: { metrics: [{ name: "l", template: "latency-mean" }], passScore: 50, marginalScore: 60 } }, 60, /marginalScore: must not be above passScore/],
        ["nothing to analyze", { metrics: [] }, 60, /give metrics, a judge, or both/],
    ];
    for (const [title, args, bake, expected] of bad) {
        it(`refuses ${title}, naming the key`, () => {
            const got = problems(args, bake);
            assert.ok(got.some((p) => expected.test(p)), got.join("\n"));
        });
    }
    it("applies defaults and templates", () => {
        const s = analysisSettings({ prometheus: "http://p", metrics: [{ name: "s", template: "success-rate" }], judge: { metrics: [{ name: "l", template: "latency-mean" }] }, load: {} }, 60);
        assert.equal(s.intervalSeconds, 10);
        assert.equal(s.count, 6);
        assert.equal(s.metrics[0].successCondition, "result >= 0.99");
        assert.equal(s.metrics[0].consecutiveErrorLimit, 4);
        assert.deepEqual([s.judge?.confidence, s.judge?.tolerance, s.judge?.minSamples, s.judge?.metrics[0].direction], [0.98, 0.25, 20, "increase"]);
        assert.deepEqual(s.load, { port: 80, path: "/", requestsPerSecond: 5 });
        const failureOnly = analysisSettings({ prometheus: "http://p", metrics: [{ name: "s", template: "success-rate", failureCondition: "result < 0.9" }] }, 60);
        assert.equal(failureOnly.metrics[0].successCondition, undefined, "a given condition replaces the template's");
    });
});

/** Virtual time: sleeps resolve in order of their deadlines once every other task has settled. */
function virtualClock(): AnalysisClock & { run<T>(p: Promise<T>, maxSteps?: number): Promise<T>; t: number } {
    const timers: { at: number; resolve: () => void }[] = [];
    const clock = {
        t: 0,
        now: () => clock.t,
        sleep: (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
            if (signal?.aborted) return resolve();
            const timer = { at: clock.t + ms, resolve };
            timers.push(timer);
            signal?.addEventListener("abort", () => { timers.splice(timers.indexOf(timer), 1); resolve(); }, { once: true });
        }),
        async run<T>(p: Promise<T>, maxSteps = 10_000): Promise<T> {
            let settled = false;
            const out = p.finally(() => { settled = true; });
            for (let i = 0; i < maxSteps && !settled; i++) {
                await new Promise((r) => setImmediate(r));
                if (settled || timers.length === 0) continue;
                timers.sort((a, b) => a.at - b.at);
                const next = timers.shift()!;
                clock.t = Math.max(clock.t, next.at);
                next.resolve();
            }
            return out;
        },
    };
    return clock;
}

describe("analysis: a run", () => {
    const settings = (over: Partial<AnalysisSettings> = {}): AnalysisSettings => ({
        prometheus: "http://p", initialDelaySeconds: 0, intervalSeconds: 2, count: 5, windowSeconds: 10, labels: LABELS, metrics: [metric()], ...over,
    });
    const answerOf = (values: number[]): QueryAnswer => ({ ok: true, samples: values.map((v, i) => ({ series: `pod="web-${3 + i}"`, value: v })) });

    it("measures every interval, count times, and passes a good canary", async () => {
        const clock = virtualClock();
        const at: number[] = [];
        const run = new AnalysisRun(settings(), FACTS, { query: async () => { at.push(clock.t); return answerOf([1, 1]); }, request: async () => 200, clock, log: () => undefined });
        const outcome = await clock.run(run.outcome());
        assert.deepEqual(at, [2000, 4000, 6000, 8000, 10000]);
        assert.equal(outcome.phase, "Successful");
        assert.equal(analysisGate(outcome).passed, true);
    });
    it("waits the initial delay, then measures every interval", async () => {
        const clock = virtualClock();
        const at: number[] = [];
        const run = new AnalysisRun(settings({ initialDelaySeconds: 5, count: 2 }), FACTS, { query: async () => { at.push(clock.t); return answerOf([1, 1]); }, request: async () => 200, clock, log: () => undefined });
        await clock.run(run.outcome());
        assert.deepEqual(at, [7000, 9000]);
        assert.equal(analysisSettings({ prometheus: "http://p", initialDelaySeconds: 6, intervalSeconds: 4, metrics: [] }, 30).count, 6, "(30 - 6) / 4 measurements fit in the bake");
    });
    it("stops at the first failed measurement and says which pod and value", async () => {
        const clock = virtualClock();
        let calls = 0;
        const run = new AnalysisRun(settings(), FACTS, { query: async () => answerOf(++calls >= 2 ? [1, 0.9] : [1, 1]), request: async () => 200, clock, log: () => undefined });
        const outcome = await clock.run(run.outcome());
        assert.equal(outcome.phase, "Failed");
        assert.equal(outcome.metrics[0].measurements.length, 2);
        assert.equal(clock.t, 4000, "decided one interval after the bad value appeared");
        const gate = analysisGate(outcome);
        assert.equal(gate.passed, false);
        assert.ok(gate.evidence.some((e) => /success #2 Failed: pod="web-3" = 1, pod="web-4" = 0\.9 \(Failed\)/.test(e)), gate.evidence.join("\n"));
    });
    it("Prometheus down: Error after consecutiveErrorLimit + 1 measurements, naming Prometheus", async () => {
        const clock = virtualClock();
        const run = new AnalysisRun(settings({ count: 10 }), FACTS, {
            query: async () => ({ ok: false, error: "Prometheus at http://p did not answer: ECONNREFUSED" }), request: async () => 200, clock, log: () => undefined,
        });
        const outcome = await clock.run(run.outcome());
        assert.equal(outcome.phase, "Error");
        assert.equal(outcome.metrics[0].measurements.length, 5);
        assert.ok(analysisGate(outcome).evidence.some((e) => /Prometheus at http:\/\/p did not answer/.test(e)));
    });
    it("sends the load to every canary and baseline pod each second, bounded, and counts the answers", async () => {
        const clock = virtualClock();
        const sent: string[] = [];
        const run = new AnalysisRun(settings({ count: 2, load: { port: 80, path: "/", requestsPerSecond: 3 } }), FACTS, {
            query: async () => answerOf([1, 1]), request: async (pod) => { sent.push(pod); return pod === "web-4" ? 500 : 200; }, clock, log: () => undefined,
        });
        const outcome = await clock.run(run.outcome());
        assert.ok(outcome.load!.sent >= 5 * 3 * 3 && outcome.load!.sent <= 5 * 3 * 5, String(outcome.load!.sent));
        assert.equal(new Set(sent).size, 5);
        assert.equal(outcome.load!.byStatus["500"] * 5, outcome.load!.sent);
        assert.ok(analysisGate(outcome).evidence.some((e) => /^load: \d+ request\(s\) to 5 pod\(s\) \(\d+ x 200, \d+ x 500\)$/.test(e)));
    });
    it("the judge samples canary and baseline pods separately, and is skipped without a baseline", async () => {
        const clock = virtualClock();
        const judge = { metrics: [{ name: "latency", query: 'x{pod=~"{{pods}}"}', direction: "increase" as const, critical: true }], confidence: 0.98, tolerance: 0.25, minSamples: 10, passScore: 95, marginalScore: 75 };
        const run = new AnalysisRun(settings({ metrics: [], count: 10, judge }), FACTS, {
            query: async (q) => (q.includes("web-3") ? answerOf([0.1 + Math.random() / 100, 0.1 + Math.random() / 100]) : answerOf([0.001 + Math.random() / 1e4, 0.001, 0.001 + Math.random() / 1e4])),
            request: async () => 200, clock, log: () => undefined,
        });
        const outcome = await clock.run(run.outcome());
        assert.equal(outcome.judge?.metrics[0].samples.canary, 20);
        assert.equal(outcome.judge?.metrics[0].samples.baseline, 30);
        assert.equal(outcome.judge?.verdict, "fail");
        assert.equal(judgeGate(outcome)?.passed, false);
        const alone = new AnalysisRun(settings({ metrics: [], count: 1, judge }), { ...FACTS, baselinePods: [] }, { query: async () => answerOf([1]), request: async () => 200, clock, log: () => undefined });
        const skipped = await clock.run(alone.outcome());
        assert.deepEqual(judgeGate(skipped), { gate: "judge", passed: true, evidence: ["skipped: no baseline pod (every pod runs the canary's revision): nothing to compare with"] });
    });
});
