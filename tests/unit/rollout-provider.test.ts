import * as assert from "assert";
import { kubeconfigSource, clusterAccessFromConfig, describeAccess } from "../../components/cluster";
import { CheckInputs, UNKNOWN, changedKeys, check, diff } from "../../components/rollout/provider";
import { tagOf } from "../../components/images/reference";
import { podView, revisionVersion, statefulSetView } from "../../components/rollout/views";

const inputs = (extra: Partial<CheckInputs> = {}): CheckInputs => ({
    namespace: "ns", name: "web", generation: 4, replicas: 5, partition: 3, version: "v2", image: "reg/app:v2@sha256:x", container: "app",
    readyTimeoutSeconds: 120, transientGraceSeconds: 30, crashLoopRestarts: 2, rolloutTimeoutSeconds: 600, replaceStuckPods: true, expectedStableVersion: "",
    gates: { bakeSeconds: 0, maxRestarts: 0 }, cluster: { context: "local" }, ...extra,
});

describe("RolloutCheck provider: check and diff", () => {
    it("describes a changed step from the live cluster", async () => {
        let reads = 0;
        const result = await check({}, inputs(), async () => {
            reads++;
            return { currentVersion: "v1", pods: { 0: "v1", 1: "v1", 2: "v1", 3: "v1", 4: "v1" } };
        });
        assert.strictEqual(reads, 1);
        assert.strictEqual(result.inputs.step, "pods web-3..web-4: v1 -> v2; web-0..web-2 stay on v1");
        assert.strictEqual(result.inputs.stableVersion, "v1");
        assert.deepStrictEqual(result.inputs.ordinalVersions, { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
    });

    it("makes no cluster call when nothing changed (a no-op up)", async () => {
        const olds = { ...inputs(), step: "previous words", ordinalVersions: { 0: "v1" }, stableVersion: "v1" };
        const result = await check(olds, inputs(), async () => { throw new Error("must not read"); });
        assert.strictEqual(result.inputs.step, "previous words");
        assert.deepStrictEqual(diff(olds, result.inputs), { changes: false, replaces: [] });
    });

    it("reads again when the StatefulSet's generation is not known yet (a preview of a change)", async () => {
        const olds = { ...inputs(), step: "old", ordinalVersions: {}, stableVersion: "v1" };
        const result = await check(olds, inputs({ generation: UNKNOWN as unknown as number }), async () => ({ pods: {} }));
        assert.strictEqual(result.inputs.step, "pods web-0..web-4: new on v2".replace("web-0..web-4: new on v2", "web-3..web-4: new on v2; web-0..web-2 new on v2"));
    });

    it("still describes the step when the cluster cannot be read", async () => {
        const result = await check({}, inputs(), async () => { throw new Error("connect ECONNREFUSED 127.0.0.1:6443"); });
        assert.match(result.inputs.step, /\(live state not readable: connect ECONNREFUSED 127\.0\.0\.1:6443\)$/);
    });

    it("diffs only what the user asked for: never the description or the cluster credentials", () => {
        const olds = { ...inputs(), step: "a", ordinalVersions: { 0: "v1" }, stableVersion: "v1" };
        assert.deepStrictEqual(changedKeys(olds, { ...inputs({ cluster: { kubeconfig: "other" } }), step: "b" } as CheckInputs), []);
        assert.deepStrictEqual(changedKeys(olds, inputs({ partition: 2 })), ["partition"]);
        // The old state also holds what the check found (its outputs): a no-op up must not see a change.
        const state = { ...olds, summary: "all Ready", durationSeconds: 4.2, replacedPods: [], gateResults: [], currentRevision: "a", updateRevision: "b" };
        assert.deepStrictEqual(changedKeys(state, inputs()), []);
        assert.deepStrictEqual(changedKeys(olds, inputs({ generation: 5 })), ["generation"]);
        assert.deepStrictEqual(changedKeys(olds, inputs({ gates: { bakeSeconds: 5, maxRestarts: 0 } })), ["gates"]);
        assert.strictEqual(diff(olds, inputs({ version: "v3" })).changes, true);
    });
});

describe("the stack's cluster (cluster.ts)", () => {
    const exists = (files: string[]) => (p: string) => files.includes(p);

    it("reads kubernetes:kubeconfig, kubernetes:context and kubernetes:cluster", () => {
        const config: Record<string, string> = { kubeconfig: "/k", context: "dev", cluster: "" };
        assert.deepStrictEqual(clusterAccessFromConfig((k) => config[k]), { kubeconfig: "/k", context: "dev" });
    });

    const table: [string, Parameters<typeof kubeconfigSource>[0], Record<string, string>, string[], ReturnType<typeof kubeconfigSource>][] = [
        ["explicit path", { kubeconfig: "/etc/k.yaml" }, {}, ["/etc/k.yaml"], { kind: "files", files: ["/etc/k.yaml"], origin: "kubernetes:kubeconfig (/etc/k.yaml)" }],
        ["explicit path with ~", { kubeconfig: "~/k" }, {}, ["/home/u/k"], { kind: "files", files: ["/home/u/k"], origin: "kubernetes:kubeconfig (/home/u/k)" }],
        ["explicit contents", { kubeconfig: "apiVersion: v1\nclusters: []" }, { KUBECONFIG: "/other" }, ["/other"],
            { kind: "contents", contents: "apiVersion: v1\nclusters: []", origin: "kubernetes:kubeconfig (contents)" }],
        ["explicit value that is no file is contents", { kubeconfig: "/missing" }, {}, [], { kind: "contents", contents: "/missing", origin: "kubernetes:kubeconfig (contents)" }],
        ["KUBECONFIG list when nothing is configured", {}, { KUBECONFIG: "/a:/b" }, [], { kind: "files", files: ["/a", "/b"], origin: "KUBECONFIG (/a:/b)" }],
        ["~/.kube/config", {}, {}, ["/home/u/.kube/config"], { kind: "files", files: ["/home/u/.kube/config"], origin: "/home/u/.kube/config" }],
        ["in-cluster", {}, {}, [], { kind: "in-cluster", origin: "in-cluster service account" }],
    ];
    for (const [name, access, env, files, expected] of table) {
        it(name, () => assert.deepStrictEqual(kubeconfigSource(access, env, exists(files), "/home/u"), expected));
    }

    it("says which context of which file it means", () => {
        const access = { context: "dev-cluster" };
        assert.strictEqual(describeAccess(access, kubeconfigSource(access, { KUBECONFIG: "/x" }, () => false, "/h")), "context dev-cluster of KUBECONFIG (/x)");
    });
});

describe("views of Kubernetes objects", () => {
    const raw = {
        metadata: {
            name: "web-4", uid: "u4", creationTimestamp: "2026-11-25T10:00:00Z",
            labels: { "controller-revision-hash": "web-7d9", "app.kubernetes.io/version": "v3" },
            ownerReferences: [{ kind: "StatefulSet", name: "web" }],
        },
        spec: { containers: [{ name: "sidecar", image: "reg/side:1" }, { name: "app", image: "reg/app:v3@sha256:abc" }] },
        status: {
            phase: "Running",
            conditions: [{ type: "Ready", status: "False", lastTransitionTime: "2026-11-25T10:00:05Z" }, { type: "PodScheduled", status: "True" }],
            containerStatuses: [
                { name: "sidecar", restartCount: 0, state: { running: {} } },
                { name: "app", restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s" } }, lastState: { terminated: { reason: "Error", exitCode: 1 } } },
            ],
        },
    };

    it("reads a pod: ordinal, revision, version, canary container image, readiness, restarts, why it waits", () => {
        assert.deepStrictEqual(podView(raw, "web", "app"), {
            name: "web-4", ordinal: 4, uid: "u4", revision: "web-7d9", version: "v3", image: "reg/app:v3@sha256:abc", ready: false,
            readyChangedAt: Date.parse("2026-11-25T10:00:05Z"), createdAt: Date.parse("2026-11-25T10:00:00Z"), terminating: false, phase: "Running",
            restarts: 3, waiting: { container: "app", reason: "CrashLoopBackOff", message: "back-off 40s" },
            lastTermination: { reason: "Error", exitCode: 1, message: undefined }, unschedulable: undefined,
        });
    });

    it("ignores pods of other StatefulSets and non-ordinal names", () => {
        assert.strictEqual(podView({ ...raw, metadata: { ...raw.metadata, name: "web-x" } }, "web"), undefined);
        assert.strictEqual(podView({ ...raw, metadata: { ...raw.metadata, ownerReferences: [{ kind: "StatefulSet", name: "webby" }] } }, "web"), undefined);
    });

    it("reads a StatefulSet and the version of a ControllerRevision", () => {
        assert.deepStrictEqual(statefulSetView({
            metadata: { generation: 4, uid: "3f2a" }, spec: { replicas: 7, updateStrategy: { rollingUpdate: { partition: 5 } }, minReadySeconds: 3 },
            status: { observedGeneration: 4, currentRevision: "a", updateRevision: "b" },
        }), { uid: "3f2a", generation: 4, observedGeneration: 4, replicas: 7, partition: 5, currentRevision: "a", updateRevision: "b", minReadySeconds: 3, templateImage: undefined });
        assert.strictEqual(revisionVersion({ data: { spec: { template: { metadata: { labels: { "app.kubernetes.io/version": "v7" } } } } } }), "v7");
        assert.strictEqual(revisionVersion({ data: { spec: { template: { spec: { containers: [{ name: "app", image: "r/a:v8@sha256:1" }] } } } } }, "app"), "v8");
        assert.strictEqual(tagOf("h:5443/p/r:v2@sha256:abc"), "v2");
        assert.strictEqual(tagOf("h:5443/p/r@sha256:abc"), undefined);
    });
});

describe("the rollout check's provider process ends with its engine", () => {
    it("quits once the engine's address stops answering", async () => {
        const net = await import("net");
        const { exitWithEngine } = await import("../../components/rollout/progress");
        const server = net.createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as { port: number }).port;
        let quits = 0;
        const timer = exitWithEngine(`127.0.0.1:${port}`, 20, () => { quits++; });
        try {
            await new Promise((r) => setTimeout(r, 120));
            assert.strictEqual(quits, 0, "the engine answers");
            await new Promise<void>((resolve) => server.close(() => resolve()));
            const deadline = Date.now() + 3000;
            while (quits === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
            assert.ok(quits > 0, "did not quit after the engine went away");
        } finally {
            clearInterval(timer);
        }
    });
});
