import * as assert from "assert";
import type { AnalysisSettings } from "../../components/analysis/spec";
import { LiveVersions, describeGates, describeStep, podRanges } from "../../components/rollout/describe";
import type { GateSettings } from "../../components/rollout/inputs";

const on = (versions: string[], currentVersion: string): LiveVersions => ({
    currentVersion, pods: Object.fromEntries(versions.map((v, i) => [i, v])),
});

describe("describeStep: the step in words for the preview", () => {
    const cases: { name: string; step: [number, number, string]; live: LiveVersions; text: string; stable: string; ordinals: string }[] = [
        {
            name: "the issue's example: canary at partition 5 of 7",
            step: [7, 5, "v2"], live: on(["v1", "v1", "v1", "v1", "v1", "v1", "v1"], "v1"),
            text: "pods web-5..web-6: v1 -> v2; web-0..web-4 stay on v1", stable: "v1", ordinals: "v1 v1 v1 v1 v1 v2 v2",
        },
        {
            name: "first deploy",
            step: [3, 0, "v1"], live: { pods: {} },
            text: "pods web-0..web-2: new on v1", stable: "v1", ordinals: "v1 v1 v1",
        },
        {
            name: "lowering the partition from 3 to 1",
            step: [5, 1, "v2"], live: on(["v1", "v1", "v1", "v2", "v2"], "v1"),
            text: "pods web-1..web-2: v1 -> v2; web-3..web-4 already on v2; web-0 stays on v1", stable: "v1", ordinals: "v1 v2 v2 v2 v2",
        },
        {
            name: "full promotion: the template becomes stable",
            step: [5, 0, "v2"], live: on(["v1", "v2", "v2", "v2", "v2"], "v1"),
            text: "pods web-0: v1 -> v2; web-1..web-4 already on v2", stable: "v2", ordinals: "v2 v2 v2 v2 v2",
        },
        {
            name: "raising the partition from 3 to 4 moves nothing back",
            step: [5, 4, "v2"], live: on(["v1", "v1", "v1", "v2", "v2"], "v1"),
            text: "no pod moves: web-4 already on v2; web-0..web-2 stay on v1; web-3 stays on v2 (raising the partition does not move pods back; revert the template to do that)",
            stable: "v1", ordinals: "v1 v1 v1 v2 v2",
        },
        {
            name: "reverting the template at partition 3",
            step: [5, 3, "v1"], live: on(["v1", "v1", "v1", "v2", "v3"], "v1"),
            text: "pods web-4: v3 -> v1; web-3: v2 -> v1; web-0..web-2 stay on v1", stable: "v1", ordinals: "v1 v1 v1 v1 v1",
        },
        {
            name: "staged template: partition == replicas",
            step: [5, 5, "v2"], live: on(["v1", "v1", "v1", "v1", "v1"], "v1"),
            text: "no pod moves: web-0..web-4 stay on v1", stable: "v1", ordinals: "v1 v1 v1 v1 v1",
        },
        {
            name: "scale up mid-canary",
            step: [7, 3, "v2"], live: on(["v1", "v1", "v1", "v2", "v2"], "v1"),
            text: "pods web-5..web-6: new on v2; web-3..web-4 already on v2; web-0..web-2 stay on v1", stable: "v1", ordinals: "v1 v1 v1 v2 v2 v2 v2",
        },
        {
            name: "scale down mid-canary",
            step: [3, 2, "v2"], live: on(["v1", "v1", "v1", "v2", "v2"], "v1"),
            text: "pods web-2: v1 -> v2; web-0..web-1 stay on v1; web-3..web-4 removed", stable: "v1", ordinals: "v1 v1 v2",
        },
        {
            name: "single replica",
            step: [1, 0, "v2"], live: on(["v1"], "v1"),
            text: "pods web-0: v1 -> v2", stable: "v2", ordinals: "v2",
        },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const [replicas, partition, version] = c.step;
            const d = describeStep({ name: "web", replicas, partition, version }, c.live);
            assert.strictEqual(d.text, c.text);
            assert.strictEqual(d.stableVersion, c.stable);
            assert.strictEqual(Object.keys(d.ordinalVersions).sort((a, b) => Number(a) - Number(b)).map((k) => d.ordinalVersions[k]).join(" "), c.ordinals);
        });
    }
});

describe("podRanges", () => {
    it("groups consecutive ordinals", () => {
        assert.strictEqual(podRanges("db", [4, 0, 1, 2, 6]), "db-0..db-2, db-4, db-6");
        assert.strictEqual(podRanges("db", [3]), "db-3");
        assert.strictEqual(podRanges("db", []), "");
    });
});

describe("describeGates: the gates `up` runs, in words", () => {
    const page = { port: 80, path: "/version.html", expectStatus: 200, bodyPattern: "This is V2" };
    const analysis: AnalysisSettings = {
        prometheus: "https://reader:s3cr3t-pw@prometheus.example.com", initialDelaySeconds: 20, intervalSeconds: 10, count: 6, windowSeconds: 30,
        labels: { namespace: "namespace", pod: "pod", revision: "revision" },
        metrics: [{ name: "success-rate", query: "q", failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 }],
    };
    const cases: { name: string; gates: Partial<GateSettings> | undefined; text: string }[] = [
        {
            name: "the version page's gate after a bake",
            gates: { bakeSeconds: 2, maxRestarts: 0, http: page },
            text: "bake 2s, then judge; at most 0 restart(s) per canary pod; every canary pod answers GET :80/version.html with 200 and a body matching /This is V2/",
        },
        {
            name: "no bake, a named port, any body",
            gates: { bakeSeconds: 0, maxRestarts: 1, http: { port: "http", path: "/healthz", expectStatus: 204 } },
            text: "no bake, judge at once; at most 1 restart(s) per canary pod; every canary pod answers GET :http/healthz with 204",
        },
        {
            name: "a metric whose URL carries a token",
            gates: { bakeSeconds: 30, maxRestarts: 0, metric: { url: "http://prom:9090/api/v1/query?query=up&access_token=abc123", threshold: 0.05, comparison: "<=" } },
            text: "bake 30s, then judge; at most 0 restart(s) per canary pod; the metric at http://prom:9090/api/v1/query?query=up&access_token=*** is <= 0.05",
        },
        {
            name: "an analysis (its Prometheus credentials left out)",
            gates: { bakeSeconds: 80, maxRestarts: 0, analysis },
            text: "bake 80s, then judge; at most 0 restart(s) per canary pod; analysis: success-rate every 10s x6 after 20s on https://***@prometheus.example.com",
        },
        { name: "no gates input (a resource without one)", gates: undefined, text: "" },
        { name: "a partial input: what is known", gates: { bakeSeconds: 5 }, text: "bake 5s, then judge" },
    ];
    for (const c of cases) it(c.name, () => assert.strictEqual(describeGates(c.gates), c.text));
});
