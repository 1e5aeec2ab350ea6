import * as assert from "assert";
import { PodView, StatefulSetView, StepTarget, Verdict, causeKind, decide, stuckReason } from "../../components/rollout/decide";

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
    return { replicas: 5, partition: 3, generation: 7, readyTimeoutSeconds: 120, transientGraceSeconds: 30, crashLoopRestarts: 2, replaceStuckPods: true, ...extra };
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
    const lower = () => [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1")];

    it("fails on a canary pod crash-looping on the template once it reached crashLoopRestarts, naming it", () => {
        const verdict = decide(sts({ partition: 4 }), [...lower(), pod(4, "r2", crashLoop)], target({ partition: 4 }), T0);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.pod?.name, "web-4");
        assert.strictEqual(verdict.cause, "CrashLoopBackOff (2 restart(s))");
        assert.match(verdict.hint ?? "", /revert the template/);
    });

    it("tolerates a crash loop below crashLoopRestarts (a dependency that comes back), and fails at once with 0", () => {
        const once = pod(4, "r2", { ...crashLoop, restarts: 1, createdAt: T0, readyChangedAt: T0 });
        assert.strictEqual(decide(sts({ partition: 4 }), [...lower(), once], target({ partition: 4 }), T0 + 5 * S).kind, "waiting");
        const strict = decide(sts({ partition: 4 }), [...lower(), once], target({ partition: 4, crashLoopRestarts: 0 }), T0 + 5 * S);
        assert.ok(strict.kind === "failed" && strict.cause === "CrashLoopBackOff (1 restart(s))");
    });

    // A registry answering 503 for a moment, a Secret created a moment later: waited out for transientGraceSeconds.
    const transient: [string, string][] = [
        ["ErrImagePull", "rpc error: code = Unknown desc = failed to pull and unpack image: unexpected status from HEAD request: 503 Service Unavailable"],
        ["ImagePullBackOff", "Back-off pulling image \"reg/app:v2\""],
        ["CreateContainerConfigError", "secret \"db\" not found"],
        ["CreateContainerError", "context deadline exceeded"],
        ["RunContainerError", "failed to start"],
    ];
    for (const [reason, message] of transient) {
        it(`${reason} (${message.slice(0, 40)}...) waits transientGraceSeconds, from the pod's own timestamps`, () => {
            const stuck = pod(4, "r2", { ready: false, createdAt: T0, readyChangedAt: T0, waiting: { container: "app", reason, message } });
            const at = (seconds: number) => decide(sts(), [...lower(), stuck], target(), T0 + seconds * S);
            assert.strictEqual(at(29).kind, "waiting");
            const verdict = at(31);
            assert.ok(verdict.kind === "failed", JSON.stringify(verdict));
            assert.strictEqual(verdict.cause, `${reason} for more than 30s`);
        });
    }

    const permanent: [string, string][] = [
        ["ErrImagePull", "failed to resolve reference \"reg/app@sha256:00\": reg/app@sha256:00: not found"],
        ["ErrImagePull", "failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized"],
        ["ImagePullBackOff", "Back-off pulling image \"reg/app:v9\": ErrImagePull: manifest unknown"],
        ["InvalidImageName", "Failed to apply default image tag"],
        ["ErrImageNeverPull", "Container image is not present with pull policy of Never"],
    ];
    for (const [reason, message] of permanent) {
        it(`${reason} (${message.slice(0, 50)}...) fails at once`, () => {
            const stuck = pod(4, "r2", { ready: false, createdAt: T0, readyChangedAt: T0, waiting: { container: "app", reason, message } });
            const verdict = decide(sts(), [...lower(), stuck], target(), T0 + 2 * S);
            assert.ok(verdict.kind === "failed", JSON.stringify(verdict));
            assert.strictEqual(verdict.cause, reason);
        });
    }

    it("fails a pod not Ready after readyTimeoutSeconds, counted from the pod's own timestamps (not from when up started)", () => {
        const slow = pod(4, "r2", { ready: false, createdAt: T0 - 50 * S, readyChangedAt: T0 - 50 * S });
        assert.strictEqual(decide(sts(), [...lower(), slow], target({ readyTimeoutSeconds: 60 }), T0 + 9 * S).kind, "waiting");
        const verdict = decide(sts(), [...lower(), slow], target({ readyTimeoutSeconds: 60 }), T0 + 11 * S);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.cause, "not Ready after 60s (Running)");
    });

    it("does not hold the span before an API outage ended against a pod (its status may not be reported yet)", () => {
        const slow = pod(4, "r2", { ready: false, createdAt: T0 - 100 * S, readyChangedAt: T0 - 100 * S });
        const seen = target({ readyTimeoutSeconds: 60, seenSince: T0 - 5 * S });
        assert.strictEqual(decide(sts(), [...lower(), slow], seen, T0).kind, "waiting");
        assert.strictEqual(decide(sts(), [...lower(), slow], seen, T0 + 56 * S).kind, "failed");
    });

    it("says why an unschedulable pod is not Ready", () => {
        const pending = pod(4, "r2", { ready: false, phase: "Pending", unschedulable: "Unschedulable: 0/1 nodes are available", createdAt: T0 });
        const verdict = decide(sts(), [...lower(), pending], target({ readyTimeoutSeconds: 30 }), T0 + 31 * S);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.cause, "not Ready after 30s (Pending: Unschedulable: 0/1 nodes are available)");
    });

    it("replaces a pod stuck on a reverted revision at or above the partition (kubernetes#67250)", () => {
        // v3 crash-looped on ordinal 6; the template went back to r2 at partition 5.
        const pods = [...[0, 1, 2, 3, 4].map((o) => pod(o, "r1")), pod(5, "r2"), pod(6, "r3", crashLoop)];
        const verdict = decide(sts({ replicas: 7, partition: 5, updateRevision: "r2" }), pods, target({ replicas: 7, partition: 5 }), T0);
        assert.ok(verdict.kind === "replace", JSON.stringify(verdict));
        assert.deepStrictEqual(verdict.pods.map((p) => p.name), ["web-6"]);
        assert.match(verdict.why[0], /web-6 is stuck on revision r3 \(CrashLoopBackOff \(2 restart\(s\)\)\); the controller recreates it on r2/);
    });

    it("replaces a reverted canary that runs but never turned Ready at once, never a Ready one", () => {
        // Created 20 s ago, readyTimeoutSeconds 120: no need to wait for the timeout, the template is no longer its revision.
        const unready = pod(4, "r3", { ready: false, createdAt: T0 - 20 * S, readyChangedAt: T0 - 20 * S });
        const verdict = decide(sts({ updateRevision: "r1" }), [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r3"), unready], target(), T0);
        assert.ok(verdict.kind === "replace", JSON.stringify(verdict));
        assert.deepStrictEqual(verdict.pods.map((p) => p.name), ["web-4"], "web-3 is Ready: the controller replaces it itself");
        assert.match(verdict.why[0], /web-4 is stuck on revision r3 \(not Ready\); the controller recreates it on r1/);
    });

    it("replaces a stuck pod below the partition on another revision than the current one: it comes back on the current", () => {
        // The tool's rollback to partition 3 after a failed step to 2: web-2 crash-loops on the broken r3 below the partition.
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r3", crashLoop), pod(3, "r1"), pod(4, "r1")];
        const verdict = decide(sts({ updateRevision: "r1" }), pods, target(), T0);
        assert.ok(verdict.kind === "replace", JSON.stringify(verdict));
        assert.deepStrictEqual(verdict.pods.map((p) => p.name), ["web-2"]);
        assert.match(verdict.why[0], /web-2 is stuck on revision r3 .*; the controller recreates it on r1/);
    });

    it("leaves a canary pod below a raised partition alone while it is only restarting (not stuck)", () => {
        const restarting = pod(3, "r2", { ready: false, createdAt: T0 - 5 * S, readyChangedAt: T0 - 5 * S });
        const verdict = decide(sts({ partition: 4 }), [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), restarting, pod(4, "r2")], target({ partition: 4 }), T0);
        assert.strictEqual(verdict.kind, "waiting");
    });

    it("replaces a crash-looping canary left below a raised partition: it comes back on the stable revision", () => {
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r2", crashLoop)];
        const verdict = decide(sts({ partition: 5 }), pods, target({ partition: 5 }), T0);
        assert.ok(verdict.kind === "replace", JSON.stringify(verdict));
        assert.deepStrictEqual(verdict.pods.map((p) => p.name), ["web-4"]);
    });

    it("does not replace when replaceStuckPods is false, and says what to do", () => {
        const pods = [...lower(), pod(4, "r3", crashLoop)];
        const verdict = decide(sts({ updateRevision: "r1" }), pods, target({ replaceStuckPods: false }), T0);
        assert.ok(verdict.kind === "failed");
        assert.match(verdict.hint ?? "", /replaceStuckPods is false: delete the pod yourself/);
    });

    it("fails on a stuck pod below the partition on the current revision: a new pod would get the same one", () => {
        const pods = [pod(0, "r1"), pod(1, "r1", crashLoop), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")];
        const verdict = decide(sts(), pods, target(), T0);
        assert.ok(verdict.kind === "failed");
        assert.strictEqual(verdict.pod?.name, "web-1");
        assert.match(verdict.hint ?? "", /below the partition \(3\) on the stable revision r1: a new pod would get the same revision/);
    });

    it("ignores a stuck pod that is being removed by a scale-down", () => {
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2", crashLoop)];
        const verdict = decide(sts({ replicas: 4 }), pods, target({ replicas: 4 }), T0);
        assert.strictEqual(verdict.kind, "waiting");
    });
});

describe("decide: the live spec is the one applied", () => {
    const pods = () => [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")];
    const cases: [string, Partial<StatefulSetView>, RegExp | undefined][] = [
        ["a kubectl edit of the partition after the apply", { generation: 8, observedGeneration: 8, partition: 1 }, /changed by someone else after this step applied generation 7 \(now generation 8\): partition 1 \(applied 3\)/],
        ["a scale by someone else", { generation: 8, observedGeneration: 8, replicas: 6 }, /replicas 6 \(applied 5\)/],
        ["another image in the template", { generation: 8, observedGeneration: 8, templateImage: "reg/other@sha256:1" }, /image reg\/other@sha256:1 \(applied reg\/app:r2\)/],
        ["a newer generation with the same partition, replicas and image (e.g. minReadySeconds)", { generation: 8, observedGeneration: 8, templateImage: "reg/app:r2" }, undefined],
    ];
    for (const [name, live, failure] of cases) {
        it(name, () => {
            const verdict = decide(sts(live), pods(), target({ image: "reg/app:r2" }), T0);
            if (!failure) return assert.strictEqual(verdict.kind, "done");
            assert.ok(verdict.kind === "failed", JSON.stringify(verdict));
            assert.match(verdict.cause, failure);
        });
    }
});

describe("causeKind", () => {
    const table: [string | undefined, string, number, string][] = [
        [undefined, "", 0, "unready"],
        ["ContainerCreating", "", 0, "unready"],
        ["CrashLoopBackOff", "", 1, "unready"],
        ["CrashLoopBackOff", "", 2, "permanent"],
        ["ErrImagePull", "503 Service Unavailable", 0, "transient"],
        ["ErrImagePull", "dial tcp 127.0.0.1:5443: connect: connection refused", 0, "transient"],
        ["ErrImagePull", "manifest unknown", 0, "permanent"],
        ["ImagePullBackOff", "Back-off pulling image", 0, "transient"],
        ["ImagePullBackOff", "Back-off pulling image: 403 Forbidden", 0, "permanent"],
        ["CreateContainerConfigError", "configmap \"x\" not found", 0, "transient"],
        ["InvalidImageName", "", 0, "permanent"],
    ];
    for (const [reason, message, restarts, expected] of table) {
        it(`${reason ?? "(none)"} ${message} restarts=${restarts}: ${expected}`, () => {
            assert.strictEqual(causeKind({ waiting: reason ? { container: "a", reason, message } : undefined, restarts }, 2), expected);
        });
    }
});

describe("stuckReason", () => {
    const t = { readyTimeoutSeconds: 60, transientGraceSeconds: 30, crashLoopRestarts: 2 };
    const table: [string, Partial<PodView>, number, string | undefined][] = [
        ["ready pod", {}, T0, undefined],
        ["terminating pod", { ready: false, terminating: true, waiting: { container: "a", reason: "CrashLoopBackOff" }, restarts: 5 }, T0, undefined],
        ["container creating, young", { ready: false, waiting: { container: "a", reason: "ContainerCreating" }, createdAt: T0 }, T0 + 10 * S, undefined],
        ["container creating, too long", { ready: false, waiting: { container: "a", reason: "ContainerCreating" }, createdAt: T0 }, T0 + 61 * S, "not Ready after 60s (ContainerCreating)"],
        ["init container crash loop", { ready: false, waiting: { container: "init", reason: "CrashLoopBackOff" }, restarts: 3 }, T0, "CrashLoopBackOff (3 restart(s))"],
        ["failed phase", { ready: false, phase: "Failed", lastTermination: { reason: "Evicted" } }, T0, "pod phase Failed (Evicted)"],
        ["unready for 1000 s by its own timestamps: stuck at once, whenever the check began", { ready: false, createdAt: T0 - 2000 * S, readyChangedAt: T0 - 1000 * S }, T0, "not Ready after 60s (Running)"],
    ];
    for (const [name, extra, now, expected] of table) {
        it(name, () => assert.strictEqual(stuckReason(pod(0, "r1", extra), t, now), expected));
    }
});
