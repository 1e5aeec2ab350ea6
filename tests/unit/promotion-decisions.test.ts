import * as assert from "assert";
import { PodInfo } from "../../components/cli/kube";
import { PlanError, describeInterrupted, parsePlan, podsToForceReplace, remainingSteps, stepTarget } from "../../components/cli/plan";
import { gateSettingsFrom, metricGate, pageGate, parseMetric, readinessGate, restartGate } from "../../components/cli/gates";

function pod(ordinal: number, overrides: Partial<PodInfo> = {}): PodInfo {
    return {
        name: `web-${ordinal}`, ordinal, uid: `uid-${ordinal}`, ip: `10.244.0.${ordinal + 10}`, image: "r:v1@sha256:x", imageID: "",
        revision: "rev-stable", ready: true, restarts: 0, phase: "Running", creationTimestamp: "2026-11-25T00:00:00Z",
        terminating: false, ...overrides,
    };
}

describe("parsePlan", () => {
    const ok: [string, number, number[]][] = [["4,3,1,0", 5, [4, 3, 1, 0]], ["0", 5, [0]], [" 5, 2 ,0 ", 5, [5, 2, 0]], ["3,1", 5, [3, 1]]];
    for (const [text, replicas, plan] of ok) it(`"${text}" -> ${plan}`, () => assert.deepStrictEqual(parsePlan(text, replicas), plan));
    const bad: [string, number, RegExp][] = [
        ["", 5, /is empty/], ["4,x", 5, /"x" is not a non-negative integer/], ["6,0", 5, /partition 6 is out of range; allowed 0\.\.5/],
        ["3,3,0", 5, /strictly decreasing; 3 follows 3/], ["1,2", 5, /strictly decreasing/], ["-1", 5, /not a non-negative integer/],
    ];
    for (const [text, replicas, message] of bad) {
        it(`rejects "${text}"`, () => assert.throws(() => parsePlan(text, replicas), (e: Error) => e instanceof PlanError && message.test(e.message)));
    }
});

describe("remainingSteps and stepTarget", () => {
    const remaining: [number[], number, number[]][] = [[[4, 3, 1, 0], 5, [4, 3, 1, 0]], [[4, 3, 1, 0], 3, [1, 0]], [[4, 3, 1, 0], 0, []]];
    for (const [plan, current, expected] of remaining) it(`${plan} from ${current} -> ${expected}`, () => assert.deepStrictEqual(remainingSteps(plan, current), expected));
    const targets: [number, { to?: number; by?: number }, number | RegExp][] = [
        [5, {}, 4], [3, { by: 2 }, 1], [3, { to: 0 }, 0], [0, {}, /would be -1; allowed 0\.\.5/], [3, { to: 7 }, /would be 7/], [3, { to: 1, by: 1 }, /either --to or --by/],
    ];
    for (const [current, options, expected] of targets) {
        it(`from ${current} with ${JSON.stringify(options)}`, () => {
            if (typeof expected === "number") assert.strictEqual(stepTarget(current, 5, options), expected);
            else assert.throws(() => stepTarget(current, 5, options), expected);
        });
    }
});

describe("podsToForceReplace", () => {
    const sts = { updateRevision: "rev-stable" };
    const cases: [string, PodInfo[], number, string[]][] = [
        ["nothing when all pods are on the update revision", [pod(0), pod(3), pod(4)], 3, []],
        ["unready pods on the broken revision", [pod(0), pod(3, { revision: "rev-bad", ready: false }), pod(4, { revision: "rev-bad", ready: false })], 3, ["web-3", "web-4"]],
        ["not Ready pods the controller will replace itself are left alone", [pod(4, { revision: "rev-bad", ready: true })], 3, []],
        ["never pods below the partition, even broken ones", [pod(1, { revision: "rev-bad", ready: false }), pod(4, { revision: "rev-bad", ready: false })], 3, ["web-4"]],
        ["not pods already terminating", [pod(4, { revision: "rev-bad", ready: false, terminating: true })], 3, []],
    ];
    for (const [name, pods, from, expected] of cases) {
        it(name, () => assert.deepStrictEqual(podsToForceReplace(pods, sts, from).map((p) => p.name), expected));
    }
});

describe("describeInterrupted", () => {
    it("says what was interrupted and how to continue", () => {
        const text = describeInterrupted({
            kind: "promote", startedAt: "T", stableTag: "v1", canaryTag: "v2", initialPartition: 5, plan: [4, 3, 1, 0],
            currentTarget: 3, phase: "baking", pid: 1,
        });
        assert.match(text, /interrupted promote .* v1 -> v2\) stopped while baking partition 3; run `sts-canary promote --plan 4,3,1,0` to continue/);
    });
});

describe("gates", () => {
    it("readiness passes only with every pod Ready", () => {
        assert.strictEqual(readinessGate([pod(0), pod(1)], 2).passed, true);
        const failing = readinessGate([pod(0), pod(1, { ready: false, waitingReason: "CrashLoopBackOff", restarts: 3 })], 2);
        assert.strictEqual(failing.passed, false);
        assert.match(failing.evidence.join("\n"), /web-1 not Ready \(CrashLoopBackOff, 3 restarts\)/);
        assert.strictEqual(readinessGate([pod(0)], 2).passed, false);
    });

    const restartCases: [string, PodInfo[], PodInfo[], number, boolean][] = [
        ["no restarts", [pod(3), pod(4)], [pod(3), pod(4)], 0, true],
        ["a restart during the bake", [pod(3), pod(4, { restarts: 1 })], [pod(3), pod(4, { restarts: 2 })], 0, false],
        ["restarts before the bake do not count", [pod(4, { restarts: 5 })], [pod(4, { restarts: 5 })], 0, true],
        ["a replaced pod counts", [pod(4)], [pod(4, { uid: "new" })], 0, false],
        ["tolerated restarts", [pod(4)], [pod(4, { restarts: 1 })], 1, true],
    ];
    for (const [name, before, after, max, passed] of restartCases) {
        it(`restarts: ${name}`, () => assert.strictEqual(restartGate(before, after, before.map((p) => p.ordinal), max).passed, passed));
    }

    const pageCases: [string, { status: number; body: string; error?: string }[], boolean][] = [
        ["right page", [{ status: 200, body: "<h1>This is V2</h1>" }], true],
        ["wrong page", [{ status: 200, body: "<h1>This is V1</h1>" }], false],
        ["server error", [{ status: 500, body: "This is V2" }], false],
        ["unreachable", [{ status: 0, body: "", error: "connect ECONNREFUSED" }], false],
        ["no pods", [], false],
    ];
    for (const [name, probes, passed] of pageCases) {
        it(`page: ${name}`, () => assert.strictEqual(pageGate(probes.map((p, i) => ({ pod: `web-${i}`, ...p })), "This is V2").passed, passed));
    }

    const metrics: [string, number | undefined][] = [
        ["0.02", 0.02], ["  7\n", 7], ['{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.5"]}]}}', 0.5],
        ['{"data":{"result":[]}}', undefined], ["NaN", undefined], ["abc", undefined],
    ];
    for (const [body, value] of metrics) it(`parseMetric(${body.slice(0, 30)}) = ${value}`, () => assert.strictEqual(parseMetric(body), value));

    it("metric compares with the threshold and fails closed", () => {
        assert.strictEqual(metricGate("u", "0.01", undefined, 0.05, "<=").passed, true);
        assert.strictEqual(metricGate("u", "0.10", undefined, 0.05, "<=").passed, false);
        assert.strictEqual(metricGate("u", "0.99", undefined, 0.95, ">=").passed, true);
        assert.strictEqual(metricGate("u", undefined, "ECONNREFUSED", 1, "<=").passed, false);
        assert.strictEqual(metricGate("u", "oops", undefined, 1, "<=").passed, false);
    });

    it("reads gate settings from stack config with defaults and errors", () => {
        assert.deepStrictEqual(gateSettingsFrom({}), { readyTimeoutSeconds: 120, bakeSeconds: 20, maxRestarts: 0, checkPages: true, metricComparison: "<=" });
        const s = gateSettingsFrom({ gateBakeSeconds: "5", gateMetricUrl: "http://127.0.0.1:9/m", gateMetricThreshold: "0.1", gateMetricComparison: ">=", gateCheckPages: "false" });
        assert.strictEqual(s.bakeSeconds, 5);
        assert.strictEqual(s.checkPages, false);
        assert.strictEqual(s.metricComparison, ">=");
        assert.throws(() => gateSettingsFrom({ gateBakeSeconds: "-1" }), /gateBakeSeconds: "-1" is not an integer in 0\.\.86400/);
        assert.throws(() => gateSettingsFrom({ gateMetricUrl: "http://x" }), /gateMetricThreshold: a number is required/);
        assert.throws(() => gateSettingsFrom({ gateMetricUrl: "ftp://x", gateMetricThreshold: "1" }), /not an http\(s\) URL/);
    });
});
