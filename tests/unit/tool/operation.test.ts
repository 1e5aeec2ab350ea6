import * as assert from "assert";
import {
    FENCE_KEY, LEASE_DURATION_SECONDS, OperationStore, RENEW_DEADLINE_SECONDS, RENEW_INTERVAL_SECONDS, RENEW_RETRY_SECONDS,
    TIMELINE_LIMIT, appendTimeline, leaseInfo, microTime, operationObjectName, redact, sanitizeBackendUrl,
} from "../../../tool/operation";
import { currentHolder, holderIdentity, parseHolder } from "../../../tool/holder";
import { LockLost, LockedError } from "../../../tool/errors";
import { ALICE, BOB, FakeClock, FakeCluster, T0 } from "./fakes";

const NAME = operationObjectName("web");

function store() {
    const clock = new FakeClock();
    const cluster = new FakeCluster(3);
    return { clock, cluster, store: new OperationStore(cluster, "shop", "web", "dev", clock) };
}

describe("tool: the operation lock (Lease)", () => {
    it("is a Lease <sts>-sts-canary naming who and where, renewed every 10 s, deleted on release", async () => {
        const { clock, cluster, store: s } = store();
        const lock = await s.acquire(ALICE, () => undefined);
        const lease = (await cluster.getLease("shop", NAME))!;
        assert.strictEqual(lease.holderIdentity, "alice@laptop pid 111 in /home/alice/shop");
        assert.strictEqual(lease.leaseDurationSeconds, LEASE_DURATION_SECONDS);
        assert.strictEqual(lease.renewTime, "2026-11-25T12:00:00.000000Z");
        await clock.advance(RENEW_INTERVAL_SECONDS * 1000);
        assert.strictEqual((await cluster.getLease("shop", NAME))!.renewTime, "2026-11-25T12:00:10.000000Z");
        await clock.advance(RENEW_INTERVAL_SECONDS * 1000);
        assert.strictEqual((await cluster.getLease("shop", NAME))!.renewTime, "2026-11-25T12:00:20.000000Z");
        await lock.release();
        assert.strictEqual(await cluster.getLease("shop", NAME), undefined);
    });

    it("refuses a second holder while the lease is live, naming the holder and when it expires", async () => {
        const { clock, store: s } = store();
        await s.acquire(ALICE, () => undefined);
        await clock.advance(4_000);
        await assert.rejects(s.acquire(BOB, () => undefined), (err: Error) => {
            assert.ok(err instanceof LockedError);
            assert.match(err.message, /held by alice@laptop pid 111 in \/home\/alice\/shop; its lease was renewed 4s ago and expires in 26s \(2026-11-25T12:00:30\.000Z\)/);
            return true;
        });
    });

    it("is taken over once it expired (the holder is gone), counting the transition", async () => {
        const { clock, cluster, store: s } = store();
        // What Alice's process left when it was killed: her lease, renewed for the last time now.
        await cluster.createLease("shop", NAME, {
            holderIdentity: holderIdentity(ALICE), leaseDurationSeconds: LEASE_DURATION_SECONDS,
            acquireTime: microTime(T0), renewTime: microTime(T0), leaseTransitions: 0,
        });
        await clock.advance(LEASE_DURATION_SECONDS * 1000 - 1);
        await assert.rejects(s.acquire(BOB, () => undefined), LockedError);
        await clock.advance(1);
        const bob = await s.acquire(BOB, () => undefined);
        assert.strictEqual(bob.tookOver?.holder, holderIdentity(ALICE));
        const lease = (await cluster.getLease("shop", NAME))!;
        assert.strictEqual(lease.holderIdentity, holderIdentity(BOB));
        assert.strictEqual(lease.leaseTransitions, 1);
        await bob.release();
    });

    it("tells its holder when someone else took it over, and then neither writes nor deletes it", async () => {
        const { clock, cluster, store: s } = store();
        let lost = "";
        const alice = await s.acquire(ALICE, (why) => { lost = why; });
        const lease = (await cluster.getLease("shop", NAME))!;
        await cluster.replaceLease("shop", NAME, { ...lease, holderIdentity: holderIdentity(BOB) });
        await clock.advance(RENEW_INTERVAL_SECONDS * 1000);
        assert.match(lost, /taken over by bob@ci-runner pid 222/);
        await assert.rejects(alice.log("step", "x"), /taken over/);
        await alice.release();
        assert.strictEqual((await cluster.getLease("shop", NAME))?.holderIdentity, holderIdentity(BOB));
    });

    it("keeps trying (every 2 s) when the API server does not answer, and stops at the renew deadline, before anyone may take over", async () => {
        const { clock, cluster, store: s } = store();
        let lost = "";
        const lock = await s.acquire(ALICE, (why) => { lost = why; });
        cluster.unreachable = true;
        await clock.advance(RENEW_INTERVAL_SECONDS * 1000);
        for (let t = RENEW_INTERVAL_SECONDS; t < RENEW_DEADLINE_SECONDS - RENEW_RETRY_SECONDS; t += RENEW_RETRY_SECONDS) await clock.advance(RENEW_RETRY_SECONDS * 1000);
        assert.strictEqual(lost, "");
        assert.doesNotThrow(() => lock.check(), "still ours at 18 s");
        await clock.advance(RENEW_RETRY_SECONDS * 1000);
        assert.match(lost, /not renewed for 20s \(deadline 20s: cannot reach the stack's cluster .*ECONNREFUSED\); another operator may take it over, so this one stops writing/);
        assert.ok(RENEW_DEADLINE_SECONDS < LEASE_DURATION_SECONDS, "the holder stops before a takeover is allowed");
        cluster.unreachable = false;
        await assert.rejects(lock.log("step", "x"), LockLost);
        await lock.release();
    });

    it("recovers when the API server answers again before the deadline", async () => {
        const { clock, cluster, store: s } = store();
        let lost = "";
        const lock = await s.acquire(ALICE, (why) => { lost = why; });
        cluster.unreachable = true;
        await clock.advance(RENEW_INTERVAL_SECONDS * 1000);
        await clock.advance(RENEW_RETRY_SECONDS * 1000);
        cluster.unreachable = false;
        await clock.advance(RENEW_RETRY_SECONDS * 1000);
        for (let i = 0; i < 3; i++) await clock.advance(RENEW_INTERVAL_SECONDS * 1000);
        assert.strictEqual(lost, "");
        await lock.log("step", "fine");
        await lock.release();
    });

    it("a holder paused past its deadline (SIGSTOP) writes nothing when it resumes, even before its renewal notices", async () => {
        const { clock, cluster, store: s } = store();
        let lost = "";
        const alice = await s.acquire(ALICE, (why) => { lost = why; });
        // Paused: no timer runs for 40 s; Bob takes over after the lease expired.
        clock.time += 40_000;
        const bobStore = new OperationStore(cluster, "shop", "web", "dev", clock);
        const bob = await bobStore.acquire(BOB, () => undefined);
        assert.strictEqual(bob.tookOver?.holder, holderIdentity(ALICE));
        // Alice resumes: her first write is refused by her own deadline.
        await assert.rejects(alice.log("step", "late"), (err: Error) => err instanceof LockLost && /not renewed for 40s/.test(err.message));
        assert.match(lost, /not renewed for 40s/);
        assert.ok(!(await s.state()).timeline.some((e) => e.message === "late"));
        await alice.release();
        assert.strictEqual((await cluster.getLease("shop", NAME))?.holderIdentity, holderIdentity(BOB), "her release leaves Bob's lease alone");
        await bob.release();
    });

    it("fences the record: a former holder's write is refused by the ConfigMap whatever its clock says", async () => {
        const { clock, cluster, store: s } = store();
        const alice = await s.acquire(ALICE, () => undefined);
        await alice.log("step", "mine");
        // Bob holds the record now (as after a takeover), while Alice's clock says her lease is fresh.
        const record = (await cluster.getRecord("shop", NAME))!;
        await cluster.replaceRecord("shop", NAME, { data: { ...record.data, [FENCE_KEY]: holderIdentity(BOB) }, resourceVersion: record.resourceVersion });
        await assert.rejects(alice.save({} as never), (err: Error) => err instanceof LockLost && /now belongs to bob@ci-runner pid 222/.test(err.message));
        await assert.rejects(alice.log("step", "late"), LockLost);
        assert.deepStrictEqual((await s.state()).timeline.map((e) => e.message), ["mine"]);
        void clock;
        await alice.release();
    });

    it("names holders uniquely per run (containers repeat host name, pid and path)", () => {
        const a = currentHolder("/app");
        const b = currentHolder("/app");
        assert.notStrictEqual(holderIdentity(a), holderIdentity(b));
        assert.match(holderIdentity(a), /^.+@.+ pid \d+ in \/app #[0-9a-f]{8}$/);
        assert.deepStrictEqual(parseHolder(holderIdentity(a)), { user: a.user, host: a.host, pid: a.pid, checkout: "/app", instance: a.instance });
    });

    it("judges expiry on the API server's clock, whatever the operators' clocks say", async () => {
        for (const skew of [+60_000, -60_000]) {
            const server = new FakeClock(T0);
            const cluster = new FakeCluster(3);
            cluster.serverClock = server;
            // Alice (killed) wrote her lease with her own clock; Bob's clock is `skew` off the server's.
            await cluster.createLease("shop", NAME, {
                holderIdentity: holderIdentity(ALICE), leaseDurationSeconds: LEASE_DURATION_SECONDS,
                acquireTime: microTime(T0 - skew), renewTime: microTime(T0 - skew), leaseTransitions: 0,
            });
            const bobClock = new FakeClock(T0 + skew);
            const bob = new OperationStore(cluster, "shop", "web", "dev", bobClock);
            const both = async (ms: number) => { await server.advance(ms); await bobClock.advance(ms); };
            await both(4_000);
            // By renewTime and his own clock Bob would see a lease 124 s old (or 116 s in the future).
            await assert.rejects(bob.acquire(BOB, () => undefined), (err: Error) => {
                assert.ok(err instanceof LockedError, `skew ${skew}: ${err.message}`);
                assert.match(err.message, /its lease was renewed 4s ago and expires in 27s/);
                return true;
            });
            assert.strictEqual((await bob.state()).lease?.expired, false);
            await both(26_000);
            await assert.rejects(bob.acquire(BOB, () => undefined), LockedError, "the server's times have whole seconds: one more to be sure");
            await both(1_000);
            const taken = await bob.acquire(BOB, () => undefined);
            assert.strictEqual(taken.tookOver?.holder, holderIdentity(ALICE), `skew ${skew}`);
            await taken.release();
        }
    });

    it("reads expiry from renewTime and the duration", () => {
        const info = leaseInfo({ holderIdentity: "x", renewTime: microTime(T0), leaseDurationSeconds: 30 }, T0 + 29_999)!;
        assert.strictEqual(info.expired, false);
        assert.strictEqual(leaseInfo({ holderIdentity: "x", renewTime: microTime(T0), leaseDurationSeconds: 30 }, T0 + 30_000)!.expired, true);
        assert.strictEqual(leaseInfo({ holderIdentity: "", renewTime: microTime(T0) }, T0), undefined, "a released lease holds nothing");
        assert.deepStrictEqual(parseHolder(holderIdentity(ALICE)), ALICE);
    });
});

describe("tool: the operation record and timeline (ConfigMap)", () => {
    it("writes with the resourceVersion it read and retries a bounded number of times on conflicts", async () => {
        const { cluster, store: s } = store();
        const lock = await s.acquire(ALICE, () => undefined);
        cluster.recordConflicts = 3;
        await lock.log("step", "one");
        assert.deepStrictEqual((await s.state()).timeline.map((e) => e.message), ["one"]);
        cluster.recordConflicts = 5;
        await assert.rejects(lock.log("step", "two"), /changed under every one of 5 attempts/);
        await lock.release();
    });

    it("keeps another writer's change (read-modify-write of the whole data)", async () => {
        const { cluster, store: s } = store();
        const lock = await s.acquire(ALICE, () => undefined);
        await lock.log("step", "one");
        const current = (await cluster.getRecord("shop", NAME))!;
        await cluster.replaceRecord("shop", NAME, { data: { ...current.data, note: "kept" }, resourceVersion: current.resourceVersion });
        await lock.log("step", "two");
        assert.strictEqual((await cluster.getRecord("shop", NAME))!.data.note, "kept");
        await lock.release();
    });

    it("caps the timeline at the last 500 entries", () => {
        const entry = (i: number) => ({ time: new Date(T0 + i).toISOString(), stack: "dev", by: "a@b", event: "step", message: `m${i}` });
        let text: string | undefined;
        for (let i = 0; i < TIMELINE_LIMIT + 20; i += 10) text = appendTimeline(text, Array.from({ length: 10 }, (_, j) => entry(i + j)));
        const lines = text!.trim().split("\n");
        assert.strictEqual(lines.length, TIMELINE_LIMIT);
        assert.strictEqual(JSON.parse(lines[0]).message, "m20");
        assert.strictEqual(JSON.parse(lines.at(-1)!).message, `m${TIMELINE_LIMIT + 19}`);
    });

    it("never stores credentials: URL userinfo and secret environment values are redacted", async () => {
        const env = { PULUMI_CONFIG_PASSPHRASE: "correct horse battery" };
        assert.strictEqual(redact("postgres://pulumi_state:s3cr3t@127.0.0.1:15432/db failed", env), "postgres://***@127.0.0.1:15432/db failed");
        assert.strictEqual(redact("passphrase correct horse battery rejected", env), "passphrase *** rejected");
        assert.strictEqual(sanitizeBackendUrl("postgres://u:pw@127.0.0.1:15432/pulumi_state?sslmode=disable"), "postgres://127.0.0.1:15432/pulumi_state");
        assert.strictEqual(sanitizeBackendUrl("s3://state?endpoint=minio:9000&secret=x"), "s3://state");
        const { cluster, store: s } = store();
        const lock = await s.acquire(ALICE, () => undefined);
        await lock.log("up-FAIL", "error: postgres://pulumi_state:hunter22@10.0.0.1/x: connection refused");
        assert.doesNotMatch(JSON.stringify((await cluster.getRecord("shop", NAME))!.data), /hunter22/);
        await lock.release();
    });

    it("reports an unreadable record instead of failing status", async () => {
        const { cluster, store: s } = store();
        await cluster.createRecord("shop", NAME, { data: { operation: "{not json" } });
        const state = await s.state();
        assert.strictEqual(state.record, undefined);
        assert.match(state.recordProblem ?? "", /not JSON/);
    });
});
