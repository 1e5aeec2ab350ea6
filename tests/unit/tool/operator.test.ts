import * as assert from "assert";
import * as os from "os";
import { getEventListeners } from "events";
import { EXIT, UpFailed, exitCodeOf } from "../../../tool/errors";
import { processState } from "../../../tool/backend";
import { promoteEnv } from "../../../tool/commands/promote-env";
import { promote } from "../../../tool/commands/promote";
import { rollback } from "../../../tool/commands/rollback";
import { collectStatus } from "../../../tool/commands/status";
import { step } from "../../../tool/commands/step";
import { LockedError } from "../../../tool/errors";
import { holderIdentity } from "../../../tool/holder";
import { LEASE_DURATION_SECONDS, OperationRecord, OperationStore, microTime, operationObjectName } from "../../../tool/operation";
import { parsePlan, rollbackReach } from "../../../tool/plan";
import { ALICE, BOB, FakeClock, FakeCluster, FakeStack, PROJECT, T0, context, refOf } from "./fakes";

const NAME = operationObjectName("web");

function setup(replicas = 5) {
    const clock = new FakeClock();
    const cluster = new FakeCluster(replicas);
    const stack = new FakeStack("dev", cluster);
    const store = new OperationStore(cluster, "shop", "web", "dev", clock);
    return { clock, cluster, stack, store };
}

/** What another operator (gone or alive) left in the cluster: its lease and its record. */
async function leftBy(env: ReturnType<typeof setup>, holder: typeof ALICE, renewedSecondsAgo: number, record?: Partial<OperationRecord>) {
    const at = env.clock.now() - renewedSecondsAgo * 1000;
    await env.cluster.createLease("shop", NAME, {
        holderIdentity: holderIdentity(holder), leaseDurationSeconds: LEASE_DURATION_SECONDS,
        acquireTime: microTime(at - 60_000), renewTime: microTime(at), leaseTransitions: 0,
    });
    if (record) {
        const full: OperationRecord = {
            format: 2, id: "abc", kind: "promote", stack: "dev", project: PROJECT, backend: "postgres://127.0.0.1:15432/pulumi_state",
            plan: [4, 3, 1, 0], currentTarget: 3, phase: "applying", stableVersion: "v1", canaryVersion: "v2",
            initialPartition: 0, initialVersion: "v1",
            config: { [`${PROJECT}:imageTag`]: { value: "v2", secret: false }, [`${PROJECT}:partition`]: { value: "3", secret: false } },
            startedBy: holder, startedAt: new Date(at - 60_000).toISOString(), updatedAt: new Date(at).toISOString(), ...record,
        };
        await env.cluster.createRecord("shop", NAME, { data: { operation: JSON.stringify(full) } });
    }
}

const versions = (cluster: FakeCluster) => cluster.pods.map((p) => p.version).join(",");

describe("tool: an operation under faults", () => {
    it("reads the canary under the lock: a step that landed just before is seen, not a stale snapshot", async () => {
        const env = setup();
        env.cluster.apply("v2", 4, new Set());
        await env.stack.setConfig({ [`${PROJECT}:imageTag`]: { value: "v2", secret: false }, [`${PROJECT}:partition`]: { value: "4", secret: false } });
        await env.stack.up({});
        // Alice's step to 3 lands (and her lease goes) while Bob's command starts.
        const create = env.cluster.createLease.bind(env.cluster);
        env.cluster.createLease = async (...args) => {
            await env.stack.setConfig({ [`${PROJECT}:partition`]: { value: "3", secret: false } });
            await env.stack.up({});
            return create(...args);
        };
        const outcome = await step(context(env.stack, env.cluster, env.clock, BOB), {});
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.strictEqual(env.stack.get("partition"), "2", "one step from where the stack is, not from the snapshot before the lock");
    });

    it("never reports a failure after the stack changed as 'refused, nothing was changed'", async () => {
        const env = setup();
        env.stack.onUp = () => { env.cluster.unreachable = true; };
        const ctx = context(env.stack, env.cluster, env.clock, ALICE);
        await assert.rejects(step(ctx, { version: "v2", to: 4 }), (err: Error) => {
            const { code, message } = exitCodeOf(err);
            assert.strictEqual(code, EXIT.error, message);
            assert.match(message ?? "", /ECONNREFUSED[\s\S]*this run had already changed the stack: `sts-canary status` shows where it stands/);
            return true;
        });
        assert.ok(ctx.lines.some((l) => /^warning: could not release the operation lock \(it expires by itself within 30s\)/.test(l)), ctx.lines.join("\n"));
    });

    it("a lock that cannot be released does not replace the outcome", async () => {
        const env = setup();
        env.cluster.deleteLease = async () => { throw new Error("connect ECONNREFUSED 127.0.0.1:6443"); };
        const ctx = context(env.stack, env.cluster, env.clock, ALICE);
        const outcome = await step(ctx, { version: "v2", to: 4 });
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.ok(ctx.lines.some((l) => /could not release the operation lock .*ECONNREFUSED/.test(l)));
    });
});

describe("tool: rollback after a step that failed mid-way", () => {
    it("moves a Ready pod the step moved below the restored partition back too: partition 2 first, then 3", async () => {
        const env = setup();
        // A healthy canary of v2 at partition 3, from an earlier operation.
        await env.stack.setConfig({ [`${PROJECT}:imageTag`]: { value: "v2", secret: false }, [`${PROJECT}:partition`]: { value: "3", secret: false } });
        await env.stack.up({});
        // The step to 2 moves web-2 (Ready), then its gate fails.
        env.stack.onUp = (count) => {
            if (count !== 2) return;
            env.cluster.apply("v2", 2, new Set());
            throw new UpFailed("rollout of StatefulSet shop/web failed its gates:\ngate http failed: web-2 /version.html: HTTP 500");
        };
        const ctx = context(env.stack, env.cluster, env.clock, ALICE);
        const outcome = await step(ctx, {});
        assert.strictEqual(outcome.code, EXIT.rolledBack, outcome.message);
        assert.strictEqual(versions(env.cluster), "v1,v1,v1,v1,v1", "web-2 left on v2 below the restored partition");
        assert.strictEqual(env.stack.get("partition"), "3");
        assert.strictEqual(env.stack.get("imageTag"), "v1");
        assert.deepStrictEqual(env.stack.calls.filter((c) => /^(up|setConfig)/.test(c)).slice(-4), [
            "setConfig imageTag=v1 partition=2", "up", "setConfig imageTag=v1 partition=3", "up",
        ]);
        const rollbackEntry = (await env.store.state()).timeline.find((e) => e.event === "rollback");
        assert.match(rollbackEntry?.message ?? "", /partition 2 first \(web-2 ran the canary below 3, where the controller would leave them\)/);
    });

    it("finds the lowest pod off the stable revision", () => {
        const pods = (revs: string[]) => revs.map((revision, ordinal) => ({ ordinal, revision }));
        const table: [string[], number, number][] = [
            [["s", "s", "s", "c", "c"], 3, 3],
            [["s", "s", "c", "c", "c"], 3, 2],
            [["s", "s", "s", "s", "s"], 5, 5],
            [["s", "b", "s", "c", "c"], 3, 1],
            [["s", "", "s", "s", "s"], 3, 3],
        ];
        for (const [revs, restore, expected] of table) assert.strictEqual(rollbackReach(pods(revs), "s", restore), expected, revs.join(","));
    });
});

describe("tool: step", () => {
    it("moves the partition one step through config + up, records the timeline, leaves no record or lock", async () => {
        const env = setup();
        const ctx = context(env.stack, env.cluster, env.clock, ALICE);
        const outcome = await step(ctx, { version: "v2", to: 4 });
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.strictEqual(env.stack.get("partition"), "4");
        assert.strictEqual(env.stack.get("imageTag"), "v2");
        assert.strictEqual(versions(env.cluster), "v1,v1,v1,v1,v2");
        assert.deepStrictEqual(env.stack.calls.filter((c) => c === "up"), ["up"]);
        const state = await env.store.state();
        assert.strictEqual(state.record, undefined);
        assert.strictEqual(state.lease, undefined, "the lease is deleted at the end");
        assert.deepStrictEqual(state.timeline.map((e) => e.event), ["step", "applied"]);
        assert.match(state.timeline[0].message, /^partition 0 -> 4, imageTag v1 -> v2 \(v2 on ordinals 4\.\.4, v1 below\)$/);
        assert.strictEqual(state.timeline[0].by, "alice@laptop");
        // The next step goes one further by default.
        assert.strictEqual((await step(ctx, {})).code, EXIT.ok);
        assert.strictEqual(versions(env.cluster), "v1,v1,v1,v2,v2");
    });

    it("rolls back automatically when up fails, never touching the pods below the canary (exit 3)", async () => {
        const env = setup();
        env.stack.broken.add("v3");
        const before = env.cluster.pods.map((p) => p.uid);
        const outcome = await step(context(env.stack, env.cluster, env.clock, ALICE), { version: "v3", to: 4 });
        assert.strictEqual(outcome.code, EXIT.rolledBack, outcome.message);
        assert.match(outcome.message, /the step to partition 4 failed: rollout of StatefulSet shop\/web failed: pod web-4 .*CrashLoopBackOff; rolled back to v1/);
        assert.strictEqual(env.stack.get("imageTag"), "v1");
        assert.strictEqual(env.stack.get("partition"), "0");
        assert.strictEqual(versions(env.cluster), "v1,v1,v1,v1,v1");
        assert.deepStrictEqual(env.cluster.pods.slice(0, 4).map((p) => p.uid), before.slice(0, 4));
        const state = await env.store.state();
        assert.deepStrictEqual(state.timeline.map((e) => e.event), ["step", "up-FAIL", "rollback", "rolled-back"]);
        assert.match(state.timeline[3].message, /pods web-0, web-1, web-2, web-3 untouched$/);
        assert.strictEqual(state.record, undefined);
    });

    it("with --no-rollback stops and keeps the record for the next operator (exit 4)", async () => {
        const env = setup();
        env.stack.broken.add("v3");
        const outcome = await step(context(env.stack, env.cluster, env.clock, ALICE), { version: "v3", to: 4, noRollback: true });
        assert.strictEqual(outcome.code, EXIT.rollbackFailed);
        const state = await env.store.state();
        assert.strictEqual(state.record?.canaryVersion, "v3");
        assert.strictEqual(state.lease, undefined);
        const status = await collectStatus(context(env.stack, env.cluster, env.clock, BOB));
        assert.ok(status.operation.interrupted);
        assert.match(status.operation.summary ?? "", /interrupted step v1 -> v3 .* stopped while applying partition 4/);
    });

    // Bug 10.6a: a resumed step passed its record on, and the record was cleared only when there was none.
    it("clears the record after finishing an interrupted step, so status and promote-env see no operation", async () => {
        const env = setup();
        env.cluster.apply("v2", 4, new Set());
        await leftBy(env, ALICE, 120, { kind: "step", plan: [3], currentTarget: 3,
            config: { [`${PROJECT}:imageTag`]: { value: "v2", secret: false }, [`${PROJECT}:partition`]: { value: "3", secret: false } } });
        const outcome = await step(context(env.stack, env.cluster, env.clock, BOB), {});
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.strictEqual(versions(env.cluster), "v1,v1,v1,v2,v2");
        const state = await env.store.state();
        assert.strictEqual(state.record, undefined, "the finished step's record is gone");
        const status = await collectStatus(context(env.stack, env.cluster, env.clock, BOB));
        assert.strictEqual(status.operation.summary, undefined);
        assert.ok(!status.operation.interrupted && !status.operation.running);
    });

    it("refuses a second canary over one in progress, and another version over an interrupted step (exit 6)", async () => {
        const env = setup();
        const ctx = context(env.stack, env.cluster, env.clock, ALICE);
        assert.strictEqual((await step(ctx, { version: "v2", to: 4 })).code, EXIT.ok);
        await assert.rejects(step(ctx, { version: "v3" }), (err: Error) => exitCodeOf(err).code === EXIT.refused
            && /^a canary of v2 over v1 is in progress at partition 4: finish it or roll it back before starting another$/.test(err.message));
        await assert.rejects(promote(ctx, { version: "v3", plan: (replicas) => parsePlan("2,0", replicas) }), (err: Error) => exitCodeOf(err).code === EXIT.refused
            && /^a canary of v2 over v1 is in progress at partition 4: finish it \(`sts-canary promote --plan \.\.\.`\) or roll it back before starting another$/.test(err.message));
        assert.strictEqual(versions(env.cluster), "v1,v1,v1,v1,v2", "nothing moved");
        const env2 = setup();
        env2.cluster.apply("v2", 4, new Set());
        await leftBy(env2, ALICE, 60, { kind: "step", plan: [4], currentTarget: 4 });
        await assert.rejects(step(context(env2.stack, env2.cluster, env2.clock, BOB), { version: "v3" }), (err: Error) => exitCodeOf(err).code === EXIT.refused
            && /^an interrupted step of v2 is in the record: finish it \(`sts-canary step`\) or roll it back first$/.test(err.message));
    });

    it("refuses a stale checkout whose stack file differs from the last deployment, changing nothing (exit 6)", async () => {
        const env = setup();
        env.stack.config[`${PROJECT}:partition`] = { value: "3", secret: false };
        await assert.rejects(step(context(env.stack, env.cluster, env.clock, ALICE), {}), (err: Error) => {
            assert.strictEqual(exitCodeOf(err).code, EXIT.refused);
            assert.match(err.message, /partition 3 \(config\) vs 0 \(deployed\).*stack file may be stale/);
            return true;
        });
        assert.ok(!env.stack.calls.includes("up"));
        assert.strictEqual((await env.store.state()).lease, undefined);
    });

    it("refuses before anything when the stack's cluster cannot be reached (exit 6)", async () => {
        const env = setup();
        env.cluster.unreachable = true;
        await assert.rejects(step(context(env.stack, env.cluster, env.clock, ALICE), {}), (err: Error) => {
            assert.strictEqual(exitCodeOf(err).code, EXIT.refused);
            assert.match(exitCodeOf(err).message ?? "", /refused \(nothing was changed\): cannot reach the stack's cluster https:\/\/127\.0\.0\.1:6443/);
            return true;
        });
        assert.deepStrictEqual(env.stack.calls.filter((c) => !c.startsWith("getConfig")), []);
    });

    it("rejects an --image-tag the stack cannot deploy and a step out of range (exit 2)", async () => {
        const env = setup();
        const ctx = context(env.stack, env.cluster, env.clock, ALICE);
        await assert.rejects(step(ctx, { version: "v9" }), (err: Error) => exitCodeOf(err).code === EXIT.usage && /--image-tag v9: not a version stack dev can deploy; allowed: v1, v2, v3/.test(err.message));
        await assert.rejects(step(ctx, { to: 9 }), (err: Error) => exitCodeOf(err).code === EXIT.usage && /allowed 0\.\.5/.test(err.message));
        assert.ok(!env.stack.calls.includes("up"));
    });
});

describe("tool: promote", () => {
    const plan = (text: string) => (replicas: number) => parsePlan(text, replicas);

    it("walks the plan, one up per step, and ends with the new stable version", async () => {
        const env = setup();
        const outcome = await promote(context(env.stack, env.cluster, env.clock, ALICE), { version: "v2", plan: plan("4,2,0") });
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.strictEqual(env.stack.calls.filter((c) => c === "up").length, 3);
        assert.strictEqual(env.cluster.stableVersion, "v2");
        const timeline = (await env.store.state()).timeline;
        assert.deepStrictEqual(timeline.filter((e) => e.event === "step").map((e) => /-> (\d+)/.exec(e.message)?.[1]), ["4", "2", "0"]);
        assert.strictEqual(timeline.at(-1)?.event, "promoted");
    });

    it("refuses a concurrent promote while another operator holds the lock, naming it and its expiry (exit 7)", async () => {
        const env = setup();
        const alice = context(env.stack, env.cluster, env.clock, ALICE);
        const otherCheckout = new FakeStack("dev", env.cluster); // Bob's checkout of the same stack
        let refusal: unknown;
        env.stack.onUp = async (n) => {
            if (n !== 2) return;
            // While Alice's second step runs, Bob tries too.
            refusal = await promote(context(otherCheckout, env.cluster, env.clock, BOB), { version: "v2", plan: plan("4,2,0") }).then(() => undefined, (e) => e);
            const status = await collectStatus(context(otherCheckout, env.cluster, env.clock, BOB));
            assert.ok(status.operation.running);
            assert.match(status.operation.summary ?? "", /^promote v1 -> v2 \(plan 4,2,0\): applying partition 2, started by alice@laptop \(pid 111, \/home\/alice\/shop\)/);
        };
        const outcome = await promote(alice, { version: "v2", plan: plan("4,2,0") });
        assert.strictEqual(outcome.code, EXIT.ok);
        assert.ok(refusal instanceof LockedError, String(refusal));
        assert.strictEqual(exitCodeOf(refusal).code, EXIT.locked);
        assert.match((refusal as Error).message, /promote of v2 \(plan 4,2,0, at partition 2\) on this stack is held by alice@laptop pid 111 in \/home\/alice\/shop; its lease was renewed 0s ago and expires in 30s/);
        assert.ok(!otherCheckout.calls.includes("up") && !otherCheckout.calls.some((c) => c.startsWith("setConfig")), "Bob changed nothing");
    });

    it("takes over a stale (expired) lock and continues the interrupted promotion with the config from the record", async () => {
        const env = setup();
        env.cluster.apply("v2", 4, new Set()); // Alice's first step was done; she was killed while applying partition 3
        await leftBy(env, ALICE, LEASE_DURATION_SECONDS + 5, { currentTarget: 3 });
        // Bob's checkout still says v1 / partition 0 (stale): the record says what to set.
        const bob = new FakeStack("dev", env.cluster);
        bob.config[`${PROJECT}:imageTag`] = { value: "v1", secret: false };
        bob.config[`${PROJECT}:partition`] = { value: "0", secret: false };
        const outcome = await promote(context(bob, env.cluster, env.clock, BOB), {});
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.deepStrictEqual(bob.calls.filter((c) => /^(refresh|setConfig|up)/.test(c)), [
            "refresh", "setConfig imageTag=v2 partition=3", "up", "setConfig imageTag=v2 partition=1", "up", "setConfig imageTag=v2 partition=0", "up",
        ]);
        assert.strictEqual(env.cluster.stableVersion, "v2");
        const state = await env.store.state();
        assert.strictEqual(state.record, undefined);
        assert.strictEqual(state.lease, undefined);
        const events = state.timeline.map((e) => e.event);
        assert.deepStrictEqual(events.slice(0, 3), ["takeover", "resume", "promote"]);
        assert.match(state.timeline[0].message, /took over the operation lock of alice@laptop pid 111 in \/home\/alice\/shop: not renewed since .*, expired 5s ago/);
        assert.ok(state.timeline.every((e) => e.by === "bob@ci-runner"));
    });

    it("clears the record of an operation on a StatefulSet deleted since (same name, another uid) and starts anew", async () => {
        const env = setup();
        env.cluster.uid = "sts-uid-2"; // the stack was destroyed and deployed again: same name, another object
        await leftBy(env, ALICE, LEASE_DURATION_SECONDS + 5, { currentTarget: 3, statefulSetUid: "sts-uid-1" });
        const outcome = await promote(context(env.stack, env.cluster, env.clock, BOB), { version: "v3", plan: plan("4,0") });
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.strictEqual(env.cluster.stableVersion, "v3");
        const state = await env.store.state();
        assert.strictEqual(state.record, undefined);
        const stale = state.timeline.find((e) => e.event === "stale");
        assert.match(stale?.message ?? "", /^cleared the record of an interrupted promote of v2 .*StatefulSet shop\/web was deleted and created again since$/);
        assert.ok(!state.timeline.some((e) => e.event === "resume"), "the stale operation was not continued");
    });

    it("keeps the record of an operation on the same StatefulSet (records without a uid too)", async () => {
        for (const statefulSetUid of ["sts-uid-1", undefined]) {
            const env = setup();
            env.cluster.apply("v2", 4, new Set());
            await leftBy(env, ALICE, 60, { currentTarget: 3, statefulSetUid });
            await assert.rejects(promote(context(env.stack, env.cluster, env.clock, BOB), { version: "v3", plan: plan("4,0") }),
                /interrupted promote of v2 is in the record/);
        }
    });

    it("clears the state backend lock the killed operator's pulumi left, and only that one", async () => {
        const env = setup();
        env.cluster.apply("v2", 4, new Set());
        await leftBy(env, ALICE, 40, { currentTarget: 3 });
        const killedAt = new Date(env.clock.now() - 45_000).toISOString().replace(/\.\d+Z$/, "Z");
        env.stack.backendLock = { user: "alice", host: "laptop", pid: 4711, createdAt: killedAt };
        const dead = { processState: () => "dead" as const };
        const outcome = await promote(context(env.stack, env.cluster, env.clock, BOB, dead), {});
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.deepStrictEqual(env.stack.calls.filter((c) => /^(refresh|cancel)/.test(c)), ["refresh", "cancel", "refresh"]);
        assert.match((await env.store.state()).timeline.find((e) => e.event === "unlock")?.message ?? "", /alice@laptop pid 4711/);

        // A lock of someone else (a plain `pulumi up` elsewhere) is never cleared.
        const other = setup();
        other.cluster.apply("v2", 4, new Set());
        await leftBy(other, ALICE, 40, { currentTarget: 3 });
        other.stack.backendLock = { user: "carol", host: "desk", pid: 9, createdAt: killedAt };
        await assert.rejects(promote(context(other.stack, other.cluster, other.clock, BOB, dead), {}), /currently locked/);
        assert.ok(!other.stack.calls.includes("cancel"));
    });

    it("never cancels the backend lock of a gone operator's pulumi that may still run (paused, or another machine): exit 7, nothing changed", async () => {
        for (const state of ["alive", "unknown"] as const) {
            const env = setup();
            env.cluster.apply("v2", 4, new Set());
            await leftBy(env, ALICE, 40, { currentTarget: 3 });
            env.stack.backendLock = { user: "alice", host: "laptop", pid: 4711, createdAt: new Date(env.clock.now() - 45_000).toISOString().replace(/\.\d+Z$/, "Z") };
            await assert.rejects(promote(context(env.stack, env.cluster, env.clock, BOB, { processState: () => state }), {}), (err: Error) => {
                assert.strictEqual(exitCodeOf(err).code, EXIT.locked, err.message);
                assert.match(err.message, state === "alive" ? /is still running \(paused\?\)/ : /may still be running on another machine or container/);
                assert.match(err.message, /run `pulumi cancel --stack dev` and this command again/);
                return true;
            });
            assert.ok(!env.stack.calls.includes("cancel"), state);
            assert.deepStrictEqual(env.stack.calls.filter((c) => /^(up|set)/.test(c)), [], "nothing was changed");
        }
    });

    it("judges a pid alive only within the holder's own boot and pid namespace", () => {
        const here = { user: "a", host: os.hostname(), pid: 1, checkout: "/x", machine: "m1" };
        assert.strictEqual(processState(here, process.pid, "m1"), "alive");
        assert.strictEqual(processState(here, 2 ** 22 + 12345, "m1"), "dead");
        assert.strictEqual(processState(here, process.pid, "m2"), "unknown", "another container with the same host name");
        assert.strictEqual(processState({ ...here, host: "elsewhere" }, process.pid, "m1"), "unknown");
        assert.strictEqual(processState({ ...here, machine: undefined }, process.pid, "m1"), "unknown");
    });

    it("refuses to start another canary over the interrupted one, or over a rollback in the record", async () => {
        const env = setup();
        env.cluster.apply("v2", 4, new Set());
        await leftBy(env, ALICE, 60, { currentTarget: 3 });
        await assert.rejects(promote(context(env.stack, env.cluster, env.clock, BOB), { version: "v3", plan: plan("4,0") }),
            (err: Error) => exitCodeOf(err).code === EXIT.refused && /interrupted promote of v2 is in the record/.test(err.message));
        const env2 = setup();
        await leftBy(env2, ALICE, 60, { kind: "rollback", phase: "rolling-back" });
        await assert.rejects(promote(context(env2.stack, env2.cluster, env2.clock, BOB), { plan: plan("4,0") }), /interrupted rollback .* must finish first/);
    });

    it("requires --plan when there is nothing to continue, and stops when an approval is declined (exit 5)", async () => {
        const env = setup();
        await assert.rejects(promote(context(env.stack, env.cluster, env.clock, ALICE), {}), (err: Error) => exitCodeOf(err).code === EXIT.usage);
        const ctx = context(env.stack, env.cluster, env.clock, ALICE, { ask: async () => false });
        const outcome = await promote(ctx, { version: "v2", plan: plan("4,2,0"), pause: true });
        assert.strictEqual(outcome.code, EXIT.stopped);
        assert.strictEqual(env.stack.get("partition"), "4");
        assert.strictEqual((await env.store.state()).record, undefined);
    });

    it("loses the lock when another operator took it over, and stops (exit 7)", async () => {
        const env = setup();
        env.stack.onUp = async (n) => {
            if (n !== 2) return;
            // Alice's process was frozen past the lease; Bob took the lock over meanwhile.
            const lease = (await env.cluster.getLease("shop", NAME))!;
            await env.cluster.replaceLease("shop", NAME, { ...lease, holderIdentity: holderIdentity(BOB), renewTime: microTime(env.clock.now()) });
            await env.clock.advance(10_000); // Alice's renewal finds out
        };
        await assert.rejects(promote(context(env.stack, env.cluster, env.clock, ALICE), { version: "v2", plan: plan("4,2,0") }), (err: Error) => {
            assert.strictEqual(exitCodeOf(err).code, EXIT.locked);
            assert.match(err.message, /taken over by bob@ci-runner/);
            return true;
        });
        assert.strictEqual(env.stack.calls.filter((c) => c === "up").length, 2, "no step after the loss");
        assert.strictEqual((await env.cluster.getLease("shop", NAME))?.holderIdentity, holderIdentity(BOB), "Bob's lease is left alone");
    });
});

describe("tool: rollback", () => {
    it("rolls an interrupted promotion back to the stable version and the initial partition", async () => {
        const env = setup();
        env.cluster.apply("v2", 3, new Set());
        await leftBy(env, ALICE, 90, { currentTarget: 1 });
        const outcome = await rollback(context(env.stack, env.cluster, env.clock, BOB), "bad canary");
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.strictEqual(versions(env.cluster), "v1,v1,v1,v1,v1");
        assert.strictEqual(env.stack.get("imageTag"), "v1");
        assert.strictEqual(env.stack.get("partition"), "0");
        assert.strictEqual((await env.store.state()).record, undefined);
    });

    it("says there is nothing to roll back on a stable stack", async () => {
        const env = setup();
        const outcome = await rollback(context(env.stack, env.cluster, env.clock, BOB), "x");
        assert.strictEqual(outcome.code, EXIT.ok);
        assert.match(outcome.message, /nothing to roll back/);
        assert.ok(!env.stack.calls.includes("up"));
    });

    it("refuses while the owner's lease is live (exit 7)", async () => {
        const env = setup();
        await leftBy(env, ALICE, 5, { currentTarget: 3 });
        await assert.rejects(rollback(context(env.stack, env.cluster, env.clock, BOB), "x"), (err: Error) => exitCodeOf(err).code === EXIT.locked);
    });
});

describe("tool: promote-env", () => {
    function envs() {
        const clock = new FakeClock();
        const devCluster = new FakeCluster(3, "v2", "https://dev:6443 (context dev) from kubernetes:kubeconfig (/dev)");
        const prodCluster = new FakeCluster(5, "v1", "https://prod:6443 (context prod) from kubernetes:kubeconfig (/prod)");
        const dev = new FakeStack("dev", devCluster);
        const prod = new FakeStack("prod", prodCluster);
        const prodStore = new OperationStore(prodCluster, "shop", "web", "prod", clock);
        return { clock, devCluster, prodCluster, dev, prod, prodStore };
    }

    it("pins the digest dev runs in prod's config and starts it on one pod, each stack on its own cluster", async () => {
        const e = envs();
        const outcome = await promoteEnv(context(e.prod, e.prodCluster, e.clock, ALICE), { stack: e.dev, cluster: e.devCluster }, { yes: true });
        assert.strictEqual(outcome.code, EXIT.ok, outcome.message);
        assert.deepStrictEqual(e.prod.config[`${PROJECT}:pinnedImages`].objectValue, [`v2=${refOf("v2")}`]);
        assert.strictEqual(e.prod.get("partition"), "4");
        assert.strictEqual(versions(e.prodCluster), "v1,v1,v1,v1,v2");
        assert.strictEqual(versions(e.devCluster), "v2,v2,v2", "dev untouched");
        assert.strictEqual((await e.prodStore.state()).record, undefined);
    });

    // Bug 10.6b: the initial partition was recorded after the write, and `pinnedImages: []` was
    // written where the key had been absent.
    it("restores the target's config exactly when the step fails: absent keys absent, others as they were", async () => {
        const e = envs();
        e.prod.broken.add("v2");
        const before = JSON.parse(JSON.stringify(e.prod.config));
        assert.strictEqual(before[`${PROJECT}:pinnedImages`], undefined);
        let recordAtFirstWrite: OperationRecord | undefined;
        const setConfig = e.prod.setConfig.bind(e.prod);
        e.prod.setConfig = async (values) => {
            recordAtFirstWrite ??= (await e.prodStore.state()).record;
            return setConfig(values);
        };
        const outcome = await promoteEnv(context(e.prod, e.prodCluster, e.clock, ALICE), { stack: e.dev, cluster: e.devCluster }, { yes: true });
        assert.strictEqual(outcome.code, EXIT.rolledBack, outcome.message);
        assert.deepStrictEqual(e.prod.config, before);
        assert.strictEqual(versions(e.prodCluster), "v1,v1,v1,v1,v1");
        assert.ok(recordAtFirstWrite, "the record was in the cluster before the first config write");
        assert.strictEqual(recordAtFirstWrite.initialPartition, 0);
        assert.deepStrictEqual(recordAtFirstWrite.previousConfig?.[`${PROJECT}:pinnedImages`], null);
        assert.deepStrictEqual(recordAtFirstWrite.previousConfig?.[`${PROJECT}:partition`], { value: "0", secret: false });
    });

    it("restores exactly when the preview fails (exit 6) or the change is declined (exit 5)", async () => {
        const e = envs();
        e.prod.config[`${PROJECT}:pinnedImages`] = { value: '["v0=x"]', objectValue: ["v0=x"], secret: false };
        const before = JSON.parse(JSON.stringify(e.prod.config));
        e.prod.previewFails = true;
        await assert.rejects(promoteEnv(context(e.prod, e.prodCluster, e.clock, ALICE), { stack: e.dev, cluster: e.devCluster }, { yes: true }),
            (err: Error) => exitCodeOf(err).code === EXIT.refused && /preview of prod failed; its config was restored/.test(err.message));
        assert.deepStrictEqual(e.prod.config, before);
        e.prod.previewFails = false;
        const declined = await promoteEnv(context(e.prod, e.prodCluster, e.clock, ALICE, { ask: async () => false }), { stack: e.dev, cluster: e.devCluster }, {});
        assert.strictEqual(declined.code, EXIT.stopped);
        assert.deepStrictEqual(e.prod.config, before);
        assert.ok(!e.prod.calls.includes("up"));
        assert.strictEqual((await e.prodStore.state()).record, undefined);
    });

    it("refuses while dev is mid-canary or has an operation, and without --yes or a terminal", async () => {
        const e = envs();
        e.devCluster.apply("v3", 2, new Set());
        await assert.rejects(promoteEnv(context(e.prod, e.prodCluster, e.clock, ALICE), { stack: e.dev, cluster: e.devCluster }, { yes: true }),
            (err: Error) => exitCodeOf(err).code === EXIT.refused && /refusing to promote from dev:[\s\S]*mid-canary/.test(err.message));
        await assert.rejects(promoteEnv(context(e.prod, e.prodCluster, e.clock, ALICE), { stack: e.dev, cluster: e.devCluster }, {}),
            (err: Error) => exitCodeOf(err).code === EXIT.usage && /pass --yes/.test(err.message));
        assert.deepStrictEqual(e.prod.calls.filter((c) => c !== "getConfig"), []);
    });

    it("refuses a verified image from another registry than the target pulls from", async () => {
        const e = envs();
        // Prod was deployed pulling from its own Harbor (its contract says so).
        e.prod.config[`${PROJECT}:registryServer`] = { value: "harbor.prod.example.com", secret: false };
        await e.prod.up({});
        await assert.rejects(promoteEnv(context(e.prod, e.prodCluster, e.clock, ALICE), { stack: e.dev, cluster: e.devCluster }, { yes: true }),
            /is in registry 127\.0\.0\.1:5443, but stack prod pulls from harbor\.prod\.example\.com/);
    });
});

describe("tool: long-lived signals keep no listeners (bug 10.6c)", () => {
    it("an operation removes its Ctrl-C listener, and its lock's renewal timer leaves none behind", async () => {
        const env = setup();
        const controller = new AbortController();
        const ctx = context(env.stack, env.cluster, env.clock, ALICE, { signal: controller.signal });
        for (let i = 0; i < 12; i++) await step(ctx, { to: i % 2 === 0 ? 4 : 5, version: "v2" });
        assert.strictEqual(getEventListeners(controller.signal, "abort").length, 0);
    });

    it("realClock.sleep (the tool's clock) removes its abort listener when the timer fires", async () => {
        const { realClock } = await import("../../../components/rollout/runner");
        const signal = new AbortController().signal;
        for (let i = 0; i < 20; i++) await realClock.sleep(1, signal);
        assert.strictEqual(getEventListeners(signal, "abort").length, 0);
    });
});

describe("tool: status", () => {
    it("shows the live canary and the operation every operator sees", async () => {
        const env = setup();
        env.cluster.apply("v2", 3, new Set());
        await leftBy(env, ALICE, 3, { currentTarget: 3 });
        env.clock.time = T0;
        // Bob's checkout has not pulled Alice's config changes.
        const bob = new FakeStack("dev", env.cluster);
        bob.config[`${PROJECT}:imageTag`] = { value: "v1", secret: false };
        bob.config[`${PROJECT}:partition`] = { value: "0", secret: false };
        const status = await collectStatus(context(bob, env.cluster, env.clock, BOB));
        assert.strictEqual(status.stableVersion, "v1");
        assert.strictEqual(status.canaryVersion, "v2");
        assert.strictEqual(status.updated, 2);
        assert.ok(status.operation.running);
        assert.deepStrictEqual(status.pendingConfig, ["imageTag v1 (config) vs v2 (deployed)", "partition 0 (config) vs 3 (deployed)"]);
    });

    it("reports a stack that was never deployed", async () => {
        const env = setup();
        env.stack.undeploy();
        const status = await collectStatus(context(env.stack, env.cluster, env.clock, BOB));
        assert.strictEqual(status.contract, undefined);
        assert.deepStrictEqual(status.pendingConfig, ["never deployed"]);
    });
});
