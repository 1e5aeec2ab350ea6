import * as assert from "assert";
import { LiveVersions, describeStep, podRanges } from "../../components/rollout/describe";

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
