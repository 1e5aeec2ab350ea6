import * as assert from "assert";
import {
    RolloutInputs, deriveStableTag, stableAfter, expectedUpdatedReplicas, planOrdinalVersions, waitForAnnotation, waitForConditions,
} from "../../components/rollout";

describe("planOrdinalVersions", () => {
    const cases: { inputs: RolloutInputs; expected: Record<string, string> }[] = [
        { inputs: { replicas: 5, partition: 3, imageTag: "v2", stableTag: "v1" }, expected: { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" } },
        { inputs: { replicas: 5, partition: 0, imageTag: "v2", stableTag: "v1" }, expected: { 0: "v2", 1: "v2", 2: "v2", 3: "v2", 4: "v2" } },
        { inputs: { replicas: 5, partition: 5, imageTag: "v2", stableTag: "v1" }, expected: { 0: "v1", 1: "v1", 2: "v1", 3: "v1", 4: "v1" } },
        { inputs: { replicas: 3, partition: 1, imageTag: "v3", stableTag: "v2" }, expected: { 0: "v2", 1: "v3", 2: "v3" } },
        { inputs: { replicas: 1, partition: 0, imageTag: "v1", stableTag: "v1" }, expected: { 0: "v1" } },
    ];
    for (const { inputs, expected } of cases) {
        it(`replicas=${inputs.replicas} partition=${inputs.partition} ${inputs.stableTag}->${inputs.imageTag}`, () => {
            assert.deepStrictEqual(planOrdinalVersions(inputs), Object.fromEntries(Object.entries(expected).map(([k, v]) => [String(k), v])));
        });
    }
});

describe("expectedUpdatedReplicas and waitForConditions", () => {
    // [replicas, partition, imageTag, stableTag, expected updated, expected conditions]
    const cases: [number, number, string, string, number, string[]][] = [
        [5, 0, "v1", "v1", 5, ["jsonpath={.status.updatedReplicas}=5", "jsonpath={.status.readyReplicas}=5", "jsonpath={.status.replicas}=5"]],
        [5, 3, "v2", "v1", 2, ["jsonpath={.status.updatedReplicas}=2", "jsonpath={.status.readyReplicas}=5", "jsonpath={.status.replicas}=5"]],
        [5, 1, "v2", "v1", 4, ["jsonpath={.status.updatedReplicas}=4", "jsonpath={.status.readyReplicas}=5", "jsonpath={.status.replicas}=5"]],
        [5, 0, "v2", "v1", 5, ["jsonpath={.status.updatedReplicas}=5", "jsonpath={.status.readyReplicas}=5", "jsonpath={.status.replicas}=5"]],
        // Rollback by reverting the template: every pod must come back, whatever the partition.
        [5, 3, "v1", "v1", 5, ["jsonpath={.status.updatedReplicas}=5", "jsonpath={.status.readyReplicas}=5", "jsonpath={.status.replicas}=5"]],
        // Staged template: no pod moves; updatedReplicas is absent from status when 0.
        [5, 5, "v2", "v1", 0, ["jsonpath={.status.currentReplicas}=5", "jsonpath={.status.readyReplicas}=5", "jsonpath={.status.replicas}=5"]],
        [500, 499, "v2", "v1", 1, ["jsonpath={.status.updatedReplicas}=1", "jsonpath={.status.readyReplicas}=500", "jsonpath={.status.replicas}=500"]],
        [1, 1, "v2", "v1", 0, ["jsonpath={.status.currentReplicas}=1", "jsonpath={.status.readyReplicas}=1", "jsonpath={.status.replicas}=1"]],
    ];
    for (const [replicas, partition, imageTag, stableTag, updated, conditions] of cases) {
        const inputs = { replicas, partition, imageTag, stableTag };
        it(`replicas=${replicas} partition=${partition} ${stableTag}->${imageTag}: ${updated} updated`, () => {
            assert.strictEqual(expectedUpdatedReplicas(inputs), updated);
            assert.deepStrictEqual(waitForConditions(inputs), conditions);
            assert.deepStrictEqual(JSON.parse(waitForAnnotation(inputs)), conditions);
        });
    }
});

describe("deriveStableTag", () => {
    const cases: [string, Parameters<typeof deriveStableTag>[0], string, string][] = [
        ["first deployment", undefined, "v1", "v1"],
        ["empty record", {}, "v2", "v2"],
        ["previous full rollout of v1", { imageTag: "v1", partition: 0, stableTag: "v1" }, "v2", "v1"],
        ["previous full rollout of v2 makes v2 stable", { imageTag: "v2", partition: 0, stableTag: "v1" }, "v3", "v2"],
        ["canary in progress keeps the old stable", { imageTag: "v2", partition: 3, stableTag: "v1" }, "v2", "v1"],
        ["rollback while canary in progress", { imageTag: "v2", partition: 3, stableTag: "v1" }, "v1", "v1"],
        ["staged template keeps the old stable", { imageTag: "v2", partition: 5, stableTag: "v1" }, "v2", "v1"],
        ["record without stableTag", { imageTag: "v2", partition: 3 }, "v2", "v2"],
    ];
    for (const [name, previous, imageTag, expected] of cases) {
        it(name, () => assert.strictEqual(deriveStableTag(previous, imageTag), expected));
    }
});

describe("stableAfter", () => {
    const cases: [number, string, string, string][] = [[0, "v2", "v1", "v2"], [3, "v2", "v1", "v1"], [5, "v2", "v1", "v1"], [0, "v1", "v1", "v1"]];
    for (const [partition, imageTag, stableTag, expected] of cases) {
        it(`partition ${partition} ${stableTag}->${imageTag}: ${expected}`, () => assert.strictEqual(stableAfter({ partition, imageTag, stableTag }), expected));
    }
});
