import * as assert from "assert";
import { promotionBlockers, registryOf, safeStartPartition, withPinned } from "../../components/cli/environments";
import { CanaryStatus, PodStatus } from "../../components/cli/status";

function pod(ordinal: number, overrides: Partial<PodStatus> = {}): PodStatus {
    return {
        name: `web-${ordinal}`, ordinal, uid: `u${ordinal}`, ip: "", image: "r/p/x:v2@sha256:a", imageID: "", revision: "rev2", ready: true,
        restarts: 0, phase: "Running", creationTimestamp: "", terminating: false, version: "v2", digest: "sha256:a", onUpdateRevision: true,
        age: "1m", ...overrides,
    };
}

function status(overrides: Partial<CanaryStatus> = {}): CanaryStatus {
    const pods = [0, 1, 2].map((i) => pod(i));
    return {
        stack: "dev", namespace: "sts", statefulSetName: "web",
        config: { imageTag: "v2", partition: 0, replicas: 3 },
        deployed: { imageTag: "v2", partition: 0, replicas: 3, stable: "v2" },
        stableTag: "v2", canaryTag: undefined,
        statefulSet: {
            name: "web", generation: 2, observedGeneration: 2, replicas: 3, partition: 0, templateImage: "", currentRevision: "rev2",
            updateRevision: "rev2", readyReplicas: 3, updatedReplicas: 3, currentReplicas: 3, annotations: {},
        },
        pods, updated: 3, ready: 3, pendingConfig: [], recent: [], ...overrides,
    };
}

describe("promotionBlockers", () => {
    const cases: [string, Partial<CanaryStatus>, RegExp | null][] = [
        ["a fully rolled out, healthy stack", {}, null],
        ["never deployed", { deployed: undefined }, /has never been deployed/],
        ["mid-canary", { canaryTag: "v3", deployed: { imageTag: "v3", partition: 2, replicas: 3, stable: "v2" } }, /is mid-canary \(partition 2, v3 over v2\)/],
        ["config not deployed", { pendingConfig: ["partition 0 -> 2"] }, /config that is not deployed: partition 0 -> 2/],
        ["pods not ready", { ready: 2, pods: [pod(0), pod(1), pod(2, { ready: false, waitingReason: "CrashLoopBackOff" })] }, /only 2\/3 pods of dev are Ready/],
        ["a pod on another version", { pods: [pod(0, { version: "v1" }), pod(1), pod(2)] }, /web-0 \(v1\) of dev do not run v2/],
        ["an interrupted operation", { interrupted: "an interrupted promote ..." }, /dev: an interrupted promote/],
    ];
    for (const [name, overrides, expected] of cases) {
        it(name, () => {
            const problems = promotionBlockers(status(overrides));
            if (expected === null) assert.deepStrictEqual(problems, []);
            else assert.ok(problems.some((p) => expected.test(p)), JSON.stringify(problems));
        });
    }
});

describe("environment promotion helpers", () => {
    it("replaces or adds a pinned entry", () => {
        assert.deepStrictEqual(withPinned([], "v2", "r@sha256:1"), ["v2=r@sha256:1"]);
        assert.deepStrictEqual(withPinned(["v1=a", "v2=old"], "v2", "new"), ["v1=a", "v2=new"]);
    });
    const starts: [number, number][] = [[5, 4], [2, 1], [1, 0]];
    for (const [replicas, partition] of starts) it(`starts ${replicas} replicas at partition ${partition}`, () => assert.strictEqual(safeStartPartition(replicas), partition));
    it("reads the registry of a reference", () => assert.strictEqual(registryOf("127.0.0.1:5443/library/x:v1@sha256:1"), "127.0.0.1:5443"));
});
