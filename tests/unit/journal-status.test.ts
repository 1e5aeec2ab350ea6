import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Journal, formatEntry, isProcessAlive } from "../../components/cli/journal";
import { CanaryStatus, PodStatus, age, progressBar, renderStatus } from "../../components/cli/status";

describe("journal", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-journal-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("appends a readable timeline and echoes each entry", () => {
        const echoed: string[] = [];
        const journal = new Journal(dir, "dev", (line) => echoed.push(line));
        journal.record("step", "partition 5 -> 4");
        journal.record("gate-pass", "ready: 5/5 pods Ready", { gate: "ready" });
        const entries = journal.timeline();
        assert.deepStrictEqual(entries.map((e) => e.event), ["step", "gate-pass"]);
        assert.strictEqual(entries[1].details?.gate, "ready");
        assert.deepStrictEqual(journal.timeline(1).map((e) => e.event), ["gate-pass"]);
        assert.match(echoed[0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}step {7}partition 5 -> 4$/);
        assert.ok(fs.existsSync(path.join(dir, ".sts-canary", "dev", "timeline.jsonl")));
    });

    it("keeps the operation record until it is cleared, and skips a torn timeline line", () => {
        const journal = new Journal(dir, "prod");
        assert.strictEqual(journal.operation(), undefined);
        const op = { kind: "promote" as const, startedAt: "T", stableTag: "v1", canaryTag: "v2", initialPartition: 5, plan: [4, 0], phase: "baking" as const, pid: 1, currentTarget: 4 };
        journal.saveOperation(op);
        assert.deepStrictEqual(journal.operation(), op);
        journal.clearOperation();
        assert.strictEqual(journal.operation(), undefined);
        journal.record("a", "b");
        fs.appendFileSync(path.join(dir, ".sts-canary", "prod", "timeline.jsonl"), '{"time":"x", "ev');
        assert.strictEqual(journal.timeline().length, 1);
    });

    it("tells live processes from dead ones", () => {
        assert.strictEqual(isProcessAlive(process.pid), true);
        assert.strictEqual(isProcessAlive(0), false);
        assert.strictEqual(isProcessAlive(2 ** 22 + 12345), false);
    });

    it("formats an entry on one line", () => {
        assert.strictEqual(formatEntry({ time: "2026-11-25T10:00:00.123Z", stack: "s", event: "rollback", message: "m" }),
            "2026-11-25 10:00:00Z  rollback   m");
    });
});

describe("status rendering", () => {
    const pod = (ordinal: number, version: string, extra: Partial<PodStatus> = {}): PodStatus => ({
        name: `web-${ordinal}`, ordinal, uid: `u${ordinal}`, ip: "", image: `r/p/x:${version}@sha256:${"a".repeat(64)}`, imageID: "",
        revision: version === "v2" ? "web-222" : "web-111", ready: true, restarts: 0, phase: "Running", creationTimestamp: "",
        terminating: false, version, digest: `sha256:${"a".repeat(64)}`, onUpdateRevision: version === "v2", age: "3m", ...extra,
    });

    it("shows versions, progress and every pod", () => {
        const status: CanaryStatus = {
            stack: "dev", namespace: "sts", statefulSetName: "web",
            config: { imageTag: "v2", partition: 1, replicas: 5 },
            deployed: { imageTag: "v2", partition: 3, replicas: 5, stable: "v1" },
            stableTag: "v1", canaryTag: "v2",
            statefulSet: {
                name: "web", generation: 3, observedGeneration: 3, replicas: 5, partition: 3, templateImage: "", currentRevision: "web-111",
                updateRevision: "web-222", readyReplicas: 4, updatedReplicas: 2, currentReplicas: 3, annotations: {},
            },
            pods: [pod(0, "v1"), pod(1, "v1"), pod(2, "v1"), pod(3, "v2"), pod(4, "v2", { ready: false, restarts: 3, waitingReason: "CrashLoopBackOff" })],
            updated: 2, ready: 4, pendingConfig: ["partition 3 -> 1"], recent: [],
            interrupted: "an interrupted promote (…) stopped while baking partition 3",
        };
        const text = renderStatus(status);
        assert.match(text, /^stack dev {3}statefulset sts\/web {3}partition 3 {3}stable v1 {3}canary v2$/m);
        assert.match(text, /updated \[########\.{12}\] 2\/5 {3}ready \[#{16}\.{4}\] 4\/5/);
        assert.match(text, /^4 +web-4 +web-222 +v2 +sha256:aaaaaaaaaaaa +no +3 +3m +CrashLoopBackOff$/m);
        assert.match(text, /^0 +web-0 +web-111 +v1 /m);
        assert.match(text, /stack config not deployed yet: partition 3 -> 1/);
        assert.match(text, /note: an interrupted promote/);
    });

    it("says when the StatefulSet does not exist", () => {
        const text = renderStatus({
            stack: "x", namespace: "n", statefulSetName: "s", config: { imageTag: "v1", partition: 0, replicas: 5 },
            stableTag: "v1", pods: [], updated: 0, ready: 0, pendingConfig: ["never deployed"], recent: [],
        });
        assert.match(text, /the StatefulSet does not exist/);
        assert.match(text, /never deployed/);
    });

    const bars: [number, number, string][] = [[0, 5, `[${".".repeat(20)}]`], [5, 5, `[${"#".repeat(20)}]`], [1, 4, `[${"#".repeat(5)}${".".repeat(15)}]`], [7, 5, `[${"#".repeat(20)}]`]];
    for (const [done, total, bar] of bars) it(`progress ${done}/${total}`, () => assert.strictEqual(progressBar(done, total), bar));

    const ages: [number, string][] = [[5, "5s"], [119, "119s"], [600, "10m"], [7300, "2h"], [200000, "2d"]];
    for (const [secondsAgo, text] of ages) {
        it(`age of ${secondsAgo}s is ${text}`, () => assert.strictEqual(age(new Date(1_000_000_000_000 - secondsAgo * 1000).toISOString(), 1_000_000_000_000), text));
    }
});
