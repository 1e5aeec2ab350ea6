import * as assert from "assert";
import type { PodView, StatefulSetView } from "../../components/rollout/decide";
import type { HttpProbe } from "../../components/rollout/gates";
import { Clock, PodEvidence, RolloutCluster, RolloutFailure, RolloutSpec, SyncState, realClock, runRollout } from "../../components/rollout/runner";

const T0 = Date.parse("2026-11-25T10:00:00Z");

function pod(ordinal: number, revision: string, extra: Partial<PodView> = {}): PodView {
    const version = { r1: "v1", r2: "v2", r3: "v3" }[revision] ?? "?";
    return {
        name: `web-${ordinal}`, ordinal, uid: `uid-${ordinal}-${revision}`, revision, version, image: `reg/app:${version}@sha256:${revision}`,
        ready: true, readyChangedAt: T0 - 30_000, createdAt: T0 - 60_000, terminating: false, phase: "Running", restarts: 0, ...extra,
    };
}

/** A cluster whose state the test evolves with time; records what the check did to it. */
class FakeCluster implements RolloutCluster {
    sts: StatefulSetView;
    podList: PodView[];
    deleted: string[] = [];
    probes: string[] = [];
    started = false;
    stopped = false;
    onChange: () => void = () => undefined;
    evolve: (now: number, cluster: FakeCluster) => void = () => undefined;
    probeAnswer: (pod: PodView) => HttpProbe = (p) => ({ pod: p.name, status: 200, body: `<h1>This is ${p.version?.toUpperCase()}</h1>` });
    metricAnswer: { status: number; body: string } = { status: 200, body: "0.01" };
    syncState: SyncState = { synced: true };
    /** Server clock minus the local one. */
    offset = 0;
    /** deletePod rejects this many times first (an API server restarting). */
    deleteFailures = 0;

    constructor(sts: Partial<StatefulSetView>, pods: PodView[]) {
        this.sts = { generation: 3, observedGeneration: 3, replicas: 5, partition: 3, currentRevision: "r1", updateRevision: "r2", minReadySeconds: 0, ...sts };
        this.podList = pods;
    }
    async start(onChange: () => void) { this.started = true; this.onChange = onChange; }
    stop() { this.stopped = true; }
    sync() { return this.syncState; }
    serverOffset() { return this.offset; }
    statefulSet() { return this.sts; }
    pods() { return this.podList; }
    async revisionVersions() { return { r1: "v1", r2: "v2", r3: "v3" }; }
    async deletePod(p: PodView): Promise<"deleted"> {
        if (this.deleteFailures-- > 0) throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
        this.deleted.push(p.name);
        this.podList = this.podList.map((x) => (x.uid === p.uid ? { ...x, terminating: true } : x));
        return "deleted";
    }
    async evidence(p: PodView): Promise<PodEvidence> {
        return { events: [`BackOff: Back-off restarting failed container app in pod ${p.name}`], logContainer: "app", logPrevious: true, logTail: ["nginx: [emerg] unknown directive \"no_such_directive\""] };
    }
    async probe(p: PodView, port: number | string, path: string) { this.probes.push(`${p.name}:${port}${path}`); return this.probeAnswer(p); }
    async fetch() { return this.metricAnswer; }
}

/** Time moves only when the check sleeps; each sleep lets the cluster evolve. */
function fakeClock(cluster: FakeCluster): Clock & { t: number } {
    const clock = {
        t: T0,
        now: () => clock.t,
        sleep: async (ms: number) => {
            clock.t += Math.max(ms, 1);
            cluster.evolve(clock.t, cluster);
        },
    };
    return clock;
}

function spec(extra: Partial<RolloutSpec> = {}): RolloutSpec {
    return {
        namespace: "ns", name: "web", replicas: 5, partition: 3, generation: 3, version: "v2", readyTimeoutSeconds: 120, transientGraceSeconds: 30, crashLoopRestarts: 1,
        rolloutTimeoutSeconds: 600, replaceStuckPods: true, gates: { bakeSeconds: 0, maxRestarts: 0 }, image: "reg/app:v2@sha256:r2", container: "app",
        expectedStableVersion: "", ...extra,
    };
}

const canaryReady = () => [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r2")];

describe("runRollout", () => {
    it("returns at once when the step is done, with what runs where", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        const report = await runRollout(cluster, spec(), fakeClock(cluster), () => undefined);
        assert.deepStrictEqual(report.ordinalVersions, { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
        assert.strictEqual(report.stableVersion, "v1");
        assert.strictEqual(report.durationSeconds, 0);
        assert.match(report.summary, /^web-0\.\.web-2 on v1, web-3\.\.web-4 on v2, all Ready; stable v1/);
        assert.ok(cluster.started && cluster.stopped);
    });

    it("waits for the controller to move each pod, then finishes", async () => {
        const cluster = new FakeCluster({}, [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r1")]);
        cluster.evolve = (now, c) => {
            // Every 2 s the controller replaces the highest ordinal not yet on r2.
            const seconds = (now - T0) / 1000;
            if (seconds === 2) c.podList[4] = pod(4, "r2", { createdAt: now });
            if (seconds === 4) c.podList[3] = pod(3, "r2", { createdAt: now });
        };
        const lines: string[] = [];
        const clock = fakeClock(cluster);
        const report = await runRollout(cluster, spec(), clock, (l) => lines.push(l));
        assert.strictEqual(clock.t - T0, 4000);
        assert.strictEqual(report.durationSeconds, 4);
        assert.deepStrictEqual(lines, [
            "waiting: web-4 is on revision r1, waiting for the controller to move it to r2",
            "waiting: web-3 is on revision r1, waiting for the controller to move it to r2",
        ]);
    });

    it("fails fast on a crash-looping canary, naming pod, ordinal, revision, image, reason, restarts, events and log", async () => {
        const cluster = new FakeCluster({ partition: 4 }, [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r1")]);
        cluster.evolve = (now, c) => {
            if (now - T0 === 3000) c.podList[4] = pod(4, "r3", { ready: false, createdAt: now, restarts: 0, waiting: { container: "app", reason: "ContainerCreating" } });
            if (now - T0 === 12000) {
                c.podList[4] = { ...c.podList[4], restarts: 1, waiting: { container: "app", reason: "CrashLoopBackOff", message: "back-off 10s restarting failed container=app" },
                    lastTermination: { reason: "Error", exitCode: 1 } };
            }
        };
        cluster.sts.updateRevision = "r3";
        const clock = fakeClock(cluster);
        await assert.rejects(runRollout(cluster, spec({ partition: 4, version: "v3" }), clock, () => undefined), (err: Error) => {
            assert.ok(err instanceof RolloutFailure);
            const expected = [
                "rollout of StatefulSet ns/web failed: pod web-4 (ordinal 4, revision r3, image reg/app:v3@sha256:r3, 1 restart(s)): CrashLoopBackOff (1 restart(s))",
                "  app: back-off 10s restarting failed container=app",
                "  last run ended: Error, exit code 1",
                "  hint: the template's revision does not become Ready: fix the release, or revert the template (imageTag) and run `pulumi up` again",
                "  last warning events of web-4:",
                "    BackOff: Back-off restarting failed container app in pod web-4",
                "  last log lines of container app (previous run):",
                "    nginx: [emerg] unknown directive \"no_such_directive\"",
            ];
            assert.strictEqual(err.message, expected.join("\n"));
            return true;
        });
        assert.strictEqual(clock.t - T0, 12000, "failed as soon as the pod crash-looped");
        assert.deepStrictEqual(cluster.deleted, [], "a pod on the template is never deleted");
    });

    it("replaces exactly the pod stuck on the reverted revision and converges, leaving lower pods alone", async () => {
        // v3 broke ordinal 4 at partition 4; the user reverted to v2 at partition 3.
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"),
            pod(4, "r3", { ready: false, restarts: 4, waiting: { container: "app", reason: "CrashLoopBackOff" } })];
        const cluster = new FakeCluster({ partition: 3, updateRevision: "r2" }, pods);
        cluster.evolve = (now, c) => {
            const p4 = c.podList[4];
            if (p4.terminating) c.podList[4] = pod(4, "r2", { createdAt: now, ready: false });
            else if (p4.revision === "r2" && !p4.ready && now - p4.createdAt >= 2000) c.podList[4] = { ...p4, ready: true };
            else if (p4.revision === "r2" && p4.ready && c.podList[3].revision === "r1") c.podList[3] = pod(3, "r2", { createdAt: now });
        };
        const lines: string[] = [];
        const report = await runRollout(cluster, spec(), fakeClock(cluster), (l) => lines.push(l));
        assert.deepStrictEqual(cluster.deleted, ["web-4"]);
        assert.deepStrictEqual(report.replaced, ["web-4"]);
        assert.match(lines[0], /^replaced stuck pod: web-4 is stuck on revision r3 \(CrashLoopBackOff \(4 restart\(s\)\)\); the controller recreates it on r2/);
        assert.deepStrictEqual(report.ordinalVersions, { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
        assert.match(report.summary, /replaced stuck pod\(s\) web-4/);
    });

    it("gives up after rolloutTimeoutSeconds with what it was waiting for", async () => {
        const cluster = new FakeCluster({ observedGeneration: 2 }, canaryReady());
        const clock = fakeClock(cluster);
        await assert.rejects(runRollout(cluster, spec({ rolloutTimeoutSeconds: 30 }), clock, () => undefined),
            /failed: the step: not done after rolloutTimeoutSeconds \(30s\): the StatefulSet controller has not observed generation 3 yet \(observed 2\)/);
        assert.strictEqual(clock.t - T0, 30000);
    });

    it("reports the updated pods that stay below a raised partition", async () => {
        const cluster = new FakeCluster({ partition: 4 }, canaryReady());
        const report = await runRollout(cluster, spec({ partition: 4 }), fakeClock(cluster), () => undefined);
        assert.deepStrictEqual(report.staysUpdated, ["web-3"]);
        assert.match(report.summary, /web-3 stay on v2 below the partition \(raising it does not move pods back\)/);
    });

    it("fails when pods below the partition do not run the expected stable version", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        await assert.rejects(runRollout(cluster, spec({ expectedStableVersion: "v0" }), fakeClock(cluster), () => undefined),
            /the pods below the partition should run v0 \(stableTag\), but web-0 runs v1, web-1 runs v1, web-2 runs v1/);
    });
});

describe("runRollout under API outages", () => {
    it("waits out an outage during a step (no decision on a stale view) and converges", async () => {
        const cluster = new FakeCluster({}, [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), pod(4, "r1")]);
        cluster.syncState = { synced: false, since: T0, error: "connect ECONNREFUSED 127.0.0.1:6443" };
        cluster.evolve = (now, c) => {
            const seconds = (now - T0) / 1000;
            // The view is stale while out of sync: a not-Ready pod there must not be judged.
            if (seconds === 1) c.podList[4] = pod(4, "r2", { ready: false, createdAt: T0 - 500_000, readyChangedAt: T0 - 500_000 });
            if (seconds === 20) {
                c.syncState = { synced: true };
                c.podList = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2", { createdAt: now - 2000 }), pod(4, "r2", { createdAt: now - 8000 })];
            }
        };
        const lines: string[] = [];
        const clock = fakeClock(cluster);
        const report = await runRollout(cluster, spec({ readyTimeoutSeconds: 10 }), clock, (l) => lines.push(l));
        assert.strictEqual(clock.t - T0, 20000);
        assert.deepStrictEqual(report.ordinalVersions, { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
        assert.deepStrictEqual(lines, ["waiting: connecting to the cluster for 0s (connect ECONNREFUSED 127.0.0.1:6443); retrying"]);
    });

    it("does not count the outage against a not-Ready pod once the view is back", async () => {
        const slow = () => pod(4, "r2", { ready: false, createdAt: T0 - 30_000, readyChangedAt: T0 - 30_000 });
        const cluster = new FakeCluster({}, [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r1"), slow()]);
        cluster.evolve = (now, c) => {
            const seconds = (now - T0) / 1000;
            if (seconds === 2) c.syncState = { synced: false, since: now, error: "connect ECONNREFUSED" };
            if (seconds === 40) c.syncState = { synced: true };
            if (seconds === 45) c.podList[4] = { ...slow(), ready: true, readyChangedAt: now };
            if (seconds === 47) c.podList[3] = pod(3, "r2", { createdAt: now });
        };
        const lines: string[] = [];
        const clock = fakeClock(cluster);
        await runRollout(cluster, spec({ readyTimeoutSeconds: 60 }), clock, (l) => lines.push(l));
        assert.strictEqual(clock.t - T0, 47000, "web-4 was unready 70 s by its timestamps, but 38 s of it unseen");
        assert.ok(lines.includes("the cluster is in view again after 38s; pods are judged from now on"), lines.join("\n"));
    });

    it("fails after rolloutTimeoutSeconds when the cluster never comes back, saying so", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        cluster.syncState = { synced: false, since: T0, error: "connect ECONNREFUSED 127.0.0.1:6443" };
        const clock = fakeClock(cluster);
        await assert.rejects(runRollout(cluster, spec({ rolloutTimeoutSeconds: 30 }), clock, () => undefined),
            /not done after rolloutTimeoutSeconds \(30s\): connecting to the cluster for 30s \(connect ECONNREFUSED 127\.0\.0\.1:6443\); retrying/);
    });

    it("fails at once on a permanent error (a missing right), naming it", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        cluster.syncState = { synced: false, since: T0, permanent: true, error: "pods of ns/web: 403 pods is forbidden: User \"ci\" cannot list resource \"pods\" in API group \"\" in the namespace \"ns\"" };
        const clock = fakeClock(cluster);
        await assert.rejects(runRollout(cluster, spec(), clock, () => undefined),
            /cannot be checked: pods of ns\/web: 403 pods is forbidden: User "ci" cannot list resource "pods"/);
        assert.strictEqual(clock.t, T0);
    });

    it("judges pod ages on the API server's clock, not this machine's", async () => {
        // This machine's clock is 10 minutes ahead; web-4 was created 5 s ago on the server's.
        const cluster = new FakeCluster({}, [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"),
            pod(4, "r2", { ready: false, createdAt: T0 - 600_000 - 5000, readyChangedAt: T0 - 600_000 - 5000 })]);
        cluster.offset = -600_000;
        cluster.evolve = (now, c) => { if (now - T0 === 3000) c.podList[4] = { ...c.podList[4], ready: true }; };
        const clock = fakeClock(cluster);
        await runRollout(cluster, spec({ readyTimeoutSeconds: 60 }), clock, () => undefined);
        assert.strictEqual(clock.t - T0, 3000);
    });

    it("tries a deletion again when the API server did not take it", async () => {
        const pods = [pod(0, "r1"), pod(1, "r1"), pod(2, "r1"), pod(3, "r2"), pod(4, "r3", { ready: false, restarts: 4, waiting: { container: "app", reason: "CrashLoopBackOff" } })];
        const cluster = new FakeCluster({ updateRevision: "r2" }, pods);
        cluster.deleteFailures = 2;
        cluster.evolve = (now, c) => { if (c.podList[4].terminating) c.podList[4] = pod(4, "r2", { createdAt: now }); };
        const lines: string[] = [];
        const report = await runRollout(cluster, spec(), fakeClock(cluster), (l) => lines.push(l));
        assert.deepStrictEqual(report.replaced, ["web-4"]);
        assert.strictEqual(lines.filter((l) => l.startsWith("could not replace web-4 yet: connect ECONNREFUSED")).length, 2);
    });
});

describe("runRollout gates", () => {
    const http = { port: 80, path: "/version.html", expectStatus: 200, bodyPattern: "This is V2" };

    it("bakes, then checks every canary pod's page through the pod proxy", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        const clock = fakeClock(cluster);
        const report = await runRollout(cluster, spec({ gates: { bakeSeconds: 10, maxRestarts: 0, http } }), clock, () => undefined);
        assert.strictEqual(clock.t - T0, 10000);
        assert.deepStrictEqual(cluster.probes, ["web-3:80/version.html", "web-4:80/version.html"]);
        assert.deepStrictEqual(report.gates.map((g) => [g.gate, g.passed]), [["restarts", true], ["ready", true], ["http", true]]);
    });

    it("fails a Ready release that serves the wrong page, with its evidence", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        cluster.probeAnswer = (p) => ({ pod: p.name, status: 200, body: "<h1>This is V1</h1>" });
        await assert.rejects(runRollout(cluster, spec({ gates: { bakeSeconds: 0, maxRestarts: 0, http } }), fakeClock(cluster), () => undefined),
            (err: Error) => {
                assert.match(err.message, /failed its gates:\ngate http failed: web-3 \/version\.html: HTTP 200 "<h1>This is V1<\/h1>" \(expected HTTP 200 matching \/This is V2\/\)/);
                return true;
            });
    });

    it("stops the bake and fails when a canary pod restarts more than allowed", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        cluster.evolve = (now, c) => { if (now - T0 === 4000) c.podList[4] = { ...c.podList[4], restarts: 2 }; };
        const clock = fakeClock(cluster);
        await assert.rejects(runRollout(cluster, spec({ gates: { bakeSeconds: 60, maxRestarts: 1, http } }), clock, () => undefined),
            /gate restarts failed: web-3: 0 restart\(s\) during the bake; web-4: 2 restart\(s\) during the bake; at most 1 allowed \(maxRestarts\)/);
        assert.strictEqual(clock.t - T0, 4000, "the bake stopped at the restart");
        assert.deepStrictEqual(cluster.probes, [], "no page check after a failed restart gate");
    });

    it("stops the bake and fails when a canary pod turns unready", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        cluster.evolve = (now, c) => { if (now - T0 === 6000) c.podList[3] = { ...c.podList[3], ready: false }; };
        const clock = fakeClock(cluster);
        await assert.rejects(runRollout(cluster, spec({ gates: { bakeSeconds: 60, maxRestarts: 0, http } }), clock, () => undefined),
            /gate ready failed: web-3 was not Ready 6s into the bake \(Running\); every canary pod must stay Ready during the bake/);
        assert.strictEqual(clock.t - T0, 6000);
    });

    it("redacts credentials from metric URLs and log tails", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        cluster.metricAnswer = { status: 500, body: "" };
        await assert.rejects(runRollout(cluster, spec({ gates: { bakeSeconds: 0, maxRestarts: 0, metric: { url: "http://u:pw@m/q?query=x&access_token=s3cr3t", threshold: 1, comparison: "<=" } } }),
            fakeClock(cluster), () => undefined), (err: Error) => {
            assert.match(err.message, /http:\/\/\*\*\*@m\/q\?query=x&access_token=\*\*\*: HTTP 500/);
            assert.doesNotMatch(err.message, /s3cr3t|pw@/);
            return true;
        });
    });

    it("judges the metric", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        cluster.metricAnswer = { status: 200, body: JSON.stringify({ data: { result: [{ value: [0, "0.2"] }] } }) };
        await assert.rejects(runRollout(cluster, spec({ gates: { bakeSeconds: 0, maxRestarts: 0, metric: { url: "http://m/q", threshold: 0.1, comparison: "<=" } } }),
            fakeClock(cluster), () => undefined), /gate metric failed: http:\/\/m\/q: 0\.2 <= 0\.1 is false/);
    });
});

describe("realClock", () => {
    it("wakes early on abort and leaves no listener behind", async () => {
        const controller = new AbortController();
        const started = Date.now();
        const sleeping = realClock.sleep(5000, controller.signal);
        controller.abort();
        await sleeping;
        assert.ok(Date.now() - started < 1000);
        // Many sleeps on one long-lived signal must not pile up listeners.
        const longLived = new AbortController();
        const warnings: Error[] = [];
        const onWarning = (w: Error) => warnings.push(w);
        process.on("warning", onWarning);
        try {
            for (let i = 0; i < 20; i++) await realClock.sleep(1, longLived.signal);
            await new Promise((r) => setImmediate(r));
        } finally {
            process.off("warning", onWarning);
        }
        assert.deepStrictEqual(warnings.map((w) => w.name), []);
    });
});
