import * as assert from "assert";
import type { PodView, StatefulSetView } from "../../components/rollout/decide";
import type { HttpProbe } from "../../components/rollout/gates";
import { Clock, PodEvidence, RolloutCluster, RolloutFailure, RolloutSpec, realClock, runRollout } from "../../components/rollout/runner";

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

    constructor(sts: Partial<StatefulSetView>, pods: PodView[]) {
        this.sts = { generation: 3, observedGeneration: 3, replicas: 5, partition: 3, currentRevision: "r1", updateRevision: "r2", minReadySeconds: 0, ...sts };
        this.podList = pods;
    }
    async start(onChange: () => void) { this.started = true; this.onChange = onChange; }
    stop() { this.stopped = true; }
    statefulSet() { return this.sts; }
    pods() { return this.podList; }
    async revisionVersions() { return { r1: "v1", r2: "v2", r3: "v3" }; }
    async deletePod(p: PodView) {
        this.deleted.push(p.name);
        this.podList = this.podList.map((x) => (x.uid === p.uid ? { ...x, terminating: true } : x));
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
        namespace: "ns", name: "web", replicas: 5, partition: 3, generation: 3, version: "v2", readyTimeoutSeconds: 120,
        rolloutTimeoutSeconds: 600, replaceStuckPods: true, gates: { bakeSeconds: 0, maxRestarts: 0 }, ...extra,
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
                "rollout of StatefulSet ns/web failed: pod web-4 (ordinal 4, revision r3, image reg/app:v3@sha256:r3, 1 restart(s)): CrashLoopBackOff",
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
        assert.match(lines[0], /^replaced stuck pod: web-4 is stuck on revision r3 \(CrashLoopBackOff\), not on r2/);
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

describe("runRollout gates", () => {
    const http = { port: 80, path: "/version.html", expectStatus: 200, bodyPattern: "This is V2" };

    it("bakes, then checks every canary pod's page through the pod proxy", async () => {
        const cluster = new FakeCluster({}, canaryReady());
        const clock = fakeClock(cluster);
        const report = await runRollout(cluster, spec({ gates: { bakeSeconds: 10, maxRestarts: 0, http } }), clock, () => undefined);
        assert.strictEqual(clock.t - T0, 10000);
        assert.deepStrictEqual(cluster.probes, ["web-3:80/version.html", "web-4:80/version.html"]);
        assert.deepStrictEqual(report.gates.map((g) => [g.gate, g.passed]), [["restarts", true], ["http", true]]);
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
