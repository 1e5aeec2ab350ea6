import * as assert from "assert";
import { PodView, StatefulSetView, StepTarget, Verdict, decide, stuckReason } from "../../components/rollout/decide";

const T0 = Date.parse("2026-11-25T10:00:00Z");
const S = 1000;

/** A pod of StatefulSet "web": ready on revision r (created at T0 - 60 s unless given). */
function pod(ordinal: number, revision: string, extra: Partial<PodView> = {}): PodView {
    return {
        name: `web-${ordinal}`, ordinal, uid: `uid-${ordinal}-${revision}`, revision, version: revision === "r2" ? "v2" : revision === "r3" ? "v3" : "v1",
        image: `reg/app:${revision}`, ready: true, readyChangedAt: T0 - 30 * S, createdAt: T0 - 60 * S, terminating: false, phase: "Running",
        restarts: 0, ...extra,
    };
}

function sts(extra: Partial<StatefulSetView> = {}): StatefulSetView {
    return { generation: 7, observedGeneration: 7, replicas: 5, partition: 3, currentRevision: "r1", updateRevision: "r2", minReadySeconds: 0, ...extra };
}

function target(extra: Partial<StepTarget> = {}): StepTarget {
    return { replicas: 5, partition: 3, generation: 7, readyTimeoutSeconds: 120, replaceStuckPods: true, startedAt: T0, ...extra };
}

const kind = (v: Verdict) => v.kind;
const crashLoop = { waiting: { container: "app", reason: "CrashLoopBackOff", message: "back-off 10s" }, ready: false, restarts: 2 };

describe("decide: when a step is done", () => {
    const cases: { name: string; sts: Partial<StatefulSetView>; target: Partial<StepTarget>; pods: PodView[]; now?: number; expect: string; reason?: RegExp }[] = [
        {
            name: "canary at partition 3: ordinals 3-4 on the template, all Ready",
            sts: {}, target: {}, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")], expect: "done",
        },
        {
            name: "the controller has not observed the applied generation",
            sts: { observedGeneration: 6 }, target: {}, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")],
            expect: "waiting", reason: /has not observed generation 7 yet \(observed 6\)/,
        },
        {
            name: "ordinal 3 still on the old revision (OrderedReady moves one pod at a time)",
            sts: {}, target: {}, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r2")],
            expect: "waiting", reason: /^web-3 is on revision r1, waiting for the controller to move it to r2/,
        },
        {
            name: "ordinal 4 recreated, not Ready yet",
            sts: {}, target: {}, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r2", { ready: false, createdAt: T0 + 2 * S, readyChangedAt: T0 + 2 * S })],
            now: T0 + 5 * S, expect: "waiting", reason: /^web-4 is not Ready yet \(Running, 3s old\)/,
        },
        {
            name: "first deploy: all pods on the only revision",
            sts: { currentRevision: "r1", updateRevision: "r1", partition: 0 }, target: { partition: 0 },
            pods: [0, 1, 2, 3, 4].map((o) => pod(o, "r1")), expect: "done",
        },
        {
            name: "first deploy still creating pods",
            sts: { currentRevision: "r1", updateRevision: "r1", partition: 0 }, target: { partition: 0 },
            pods: [pod(0, "r1"), pod(1, "r1")], expect: "waiting", reason: /^pod ordinal 4 does not exist yet/,
        },
        {
            name: "partition lowered to 0: every pod on the template",
            sts: { partition: 0 }, target: { partition: 0 }, pods: [0, 1, 2, 3, 4].map((o) => pod(o, "r2")), expect: "done",
        },
        {
            name: "partition raised from 3 to 4: pod 3 stays updated, done at once",
            sts: { partition: 4 }, target: { partition: 4 }, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")], expect: "done",
        },
        {
            name: "template reverted at partition 3: ordinals 3-4 must be back on the current revision",
            sts: { updateRevision: "r1" }, target: {}, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r1")],
            expect: "waiting", reason: /^web-3 is on revision r2, waiting for the controller to move it to r1/,
        },
        {
            name: "template reverted and done",
            sts: { updateRevision: "r1" }, target: {}, pods: [0, 1, 2, 3, 4].map((o) => pod(o, "r1")), expect: "done",
        },
        {
            name: "staged template (partition == replicas): nobody moves, all Ready",
            sts: { partition: 5 }, target: { partition: 5 }, pods: [0, 1, 2, 3, 4].map((o) => pod(o, "r1")), expect: "done",
        },
        {
            name: "single replica, partition 0",
            sts: { replicas: 1, partition: 0 }, target: { replicas: 1, partition: 0 }, pods: [pod(0, "r2")], expect: "done",
        },
        {
            name: "single replica, staged at partition 1",
            sts: { replicas: 1, partition: 1 }, target: { replicas: 1, partition: 1 }, pods: [pod(0, "r1")], expect: "done",
        },
        {
            name: "scaled up mid-canary: the new ordinals 5-6 are created on the template",
            sts: { replicas: 7 }, target: { replicas: 7 }, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2"), pod(5, "r2")],
            expect: "waiting", reason: /^pod ordinal 6 does not exist yet/,
        },
        {
            name: "scaled up mid-canary and done",
            sts: { replicas: 7 }, target: { replicas: 7 }, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2"), pod(5, "r2"), pod(6, "r2")],
            expect: "done",
        },
        {
            name: "scaled down mid-canary: ordinal 4 still exists",
            sts: { replicas: 4 }, target: { replicas: 4 }, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2", { terminating: true })],
            expect: "waiting", reason: /^scaling down: web-4 still exists/,
        },
        {
            name: "scaled down and done",
            sts: { replicas: 4 }, target: { replicas: 4 }, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2")], expect: "done",
        },
        {
            name: "a pod below the partition was deleted during the step: wait for it, do not fail",
            sts: {}, target: {}, pods: [pod(0, "r1"), pod(1, "r1", { terminating: true }), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")],
            expect: "waiting", reason: /^web-1 is terminating/,
        },
        {
            name: "a pod below the partition came back on the current revision, not Ready yet",
            sts: {}, target: {}, pods: [pod(0, "r1"), pod(1, "r1", { ready: false, createdAt: T0 + 10 * S }), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")],
            now: T0 + 20 * S, expect: "waiting", reason: /^web-1 is not Ready yet/,
        },
        {
            name: "minReadySeconds: Ready for 3 s of 10 is not available yet",
            sts: { minReadySeconds: 10 }, target: {}, pods: [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2", { readyChangedAt: T0 - 3 * S })],
            expect: "waiting", reason: /^web-4 is Ready but not yet for minReadySeconds \(10s\)/,
        },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const verdict = decide(sts(c.sts), c.pods, target(c.target), c.now ?? T0);
            assert.strictEqual(kind(verdict), c.expect, JSON.stringify(verdict));
            if (c.reason) assert.match((verdict as { reason: string }).reason, c.reason);
        });
    }

    it("names the updated pods that stay below a raised partition", () => {
        const verdict = decide(sts({ partition: 4 }), [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")], target({ partition: 4 }), T0);
        assert.ok(verdict.kind === "done");
        assert.deepStrictEqual(verdict.staysUpdated.map((p) => p.name), ["web-3"]);
    });

    it("waits while the StatefulSet is not visible", () => {
        assert.strictEqual(decide(undefined, [], target(), T0).kind, "waiting");
    });
});

describe("decide: failed and stuck pods", () => {
    it("fails on a canary pod crash-looping on the template, naming it", () => {
        const verdict = decide(sts({ partition: 4 }), [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r2", crashLoop)], target({ partition: 4 }), T0);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.pod?.name, "web-4");
        assert.strictEqual(verdict.cause, "CrashLoopBackOff");
        assert.match(verdict.hint ?? "", /revert the template/);
    });

    for (const reason of ["ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError"]) {
        it(`fails on ${reason}`, () => {
            const verdict = decide(sts(), [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r2", { ready: false, waiting: { container: "app", reason } })], target(), T0);
            assert.ok(verdict.kind === "failed");
            assert.strictEqual(verdict.cause, reason);
        });
    }

    it("fails a pod not Ready after readyTimeoutSeconds, counted from the start of the step", () => {
        const slow = pod(4, "r2", { ready: false, createdAt: T0 - 600 * S, readyChangedAt: T0 - 600 * S });
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), slow];
        assert.strictEqual(decide(sts(), pods, target({ readyTimeoutSeconds: 60 }), T0 + 59 * S).kind, "waiting");
        const verdict = decide(sts(), pods, target({ readyTimeoutSeconds: 60 }), T0 + 61 * S);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.cause, "not Ready after 60s (Running)");
    });

    it("says why an unschedulable pod is not Ready", () => {
        const pending = pod(4, "r2", { ready: false, phase: "Pending", unschedulable: "Unschedulable: 0/1 nodes are available", createdAt: T0 });
        const verdict = decide(sts(), [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pending], target({ readyTimeoutSeconds: 30 }), T0 + 31 * S);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.cause, "not Ready after 30s (Pending: Unschedulable: 0/1 nodes are available)");
    });

    it("replaces a pod stuck on a reverted revision at or above the partition (kubernetes#67250)", () => {
        // v3 crash-looped on ordinal 6; the template went back to r2 at partition 5.
        const pods = [...[0, 1, 2, 3, 4].map((o) => pod(o, "r1")), pod(5, "r2"), pod(6, "r3", crashLoop)];
        const verdict = decide(sts({ replicas: 7, partition: 5, updateRevision: "r2" }), pods, target({ replicas: 7, partition: 5 }), T0);
        assert.ok(verdict.kind === "replace", JSON.stringify(verdict));
        assert.deepStrictEqual(verdict.pods.map((p) => p.name), ["web-6"]);
        assert.match(verdict.why[0], /web-6 is stuck on revision r3 \(CrashLoopBackOff\), not on r2/);
    });

    it("replaces a pod unready past the timeout on an old revision, never a Ready one", () => {
        const unready = pod(4, "r3", { ready: false, createdAt: T0 - 500 * S, readyChangedAt: T0 - 500 * S });
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r3"), unready];
        const verdict = decide(sts({ updateRevision: "r1" }), pods, target({ readyTimeoutSeconds: 10 }), T0 + 11 * S);
        assert.ok(verdict.kind === "replace");
        assert.deepStrictEqual(verdict.pods.map((p) => p.name), ["web-4"], "web-3 is Ready: the controller replaces it itself");
    });

    it("does not replace when replaceStuckPods is false, and says what to do", () => {
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r3", crashLoop)];
        const verdict = decide(sts({ updateRevision: "r1" }), pods, target({ replaceStuckPods: false }), T0);
        assert.ok(verdict.kind === "failed");
        assert.match(verdict.hint ?? "", /replaceStuckPods is false: delete the pod yourself/);
    });

    it("never replaces a pod below the partition: it fails naming it", () => {
        const pods = [pod(0, "r1"), pod(1, "r1", crashLoop), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")];
        const verdict = decide(sts(), pods, target(), T0);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.pod?.name, "web-1");
        assert.match(verdict.hint ?? "", /below the partition \(3\); the check never replaces pods below the partition/);
    });

    it("explains a crash-looping canary left below a raised partition: only a revert moves it", () => {
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r2", crashLoop)];
        const verdict = decide(sts({ partition: 5 }), pods, target({ partition: 5 }), T0);
        assert.ok(verdict.kind === "failed");
        assert.match(verdict.hint ?? "", /raising the partition does not move a pod back; revert the template/);
    });

    it("ignores a stuck pod that is being removed by a scale-down", () => {
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2", crashLoop)];
        const verdict = decide(sts({ replicas: 4 }), pods, target({ replicas: 4 }), T0);
        assert.strictEqual(verdict.kind, "waiting");
    });
});

describe("stuckReason", () => {
    const t = { readyTimeoutSeconds: 60, startedAt: T0 };
    const table: [string, Partial<PodView>, number, string | undefined][] = [
        ["ready pod", {}, T0, undefined],
        ["terminating pod", { ready: false, terminating: true, waiting: { container: "a", reason: "CrashLoopBackOff" } }, T0, undefined],
        ["container creating, young", { ready: false, waiting: { container: "a", reason: "ContainerCreating" }, createdAt: T0 }, T0 + 10 * S, undefined],
        ["container creating, too long", { ready: false, waiting: { container: "a", reason: "ContainerCreating" }, createdAt: T0 }, T0 + 61 * S, "not Ready after 60s (ContainerCreating)"],
        ["init container crash loop", { ready: false, waiting: { container: "init", reason: "CrashLoopBackOff" } }, T0, "CrashLoopBackOff"],
        ["failed phase", { ready: false, phase: "Failed", lastTermination: { reason: "Evicted" } }, T0, "pod phase Failed (Evicted)"],
        ["unready since before the step: timer starts with the step", { ready: false, readyChangedAt: T0 - 1000 * S }, T0 + 30 * S, undefined],
    ];
    for (const [name, extra, now, expected] of table) {
        it(name, () => assert.strictEqual(stuckReason(pod(0, "r1", extra), t, now), expected));
    }
});
