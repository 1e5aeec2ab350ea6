import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { CanaryContract } from "sts-canary/api";
import { contractOf, desiredOf, keysOf, pendingConfig } from "../../../tool/canary";
import { registryOf, withPin } from "sts-canary/api";
import { pinnedList, promotionBlockers, restoreOf, safeStartPartition, snapshot } from "../../../tool/environments";
import { readEnvFile } from "../../../tool/envfile";
import { ClusterUnavailable, EXIT, Interrupted, LockLost, RefusedError, UsageError, exitCodeOf } from "../../../tool/errors";
import { resolveCluster, serverTimes } from "../../../tool/kube";
import { parsePlan, remainingSteps, stepTarget } from "../../../tool/plan";
import { parseBackendLocks, upFailureCause } from "../../../tool/stack";
import { CanaryStatus, PodStatus, age, describeOperation, progressBar, renderStatus, settled } from "../../../tool/status";

describe("tool: plans and steps", () => {
    const ok: [string, number, number[]][] = [["4,3,1,0", 5, [4, 3, 1, 0]], ["0", 5, [0]], [" 5, 2 ,0 ", 5, [5, 2, 0]], ["3,1", 5, [3, 1]]];
    for (const [text, replicas, plan] of ok) it(`parses "${text}" -> ${plan}`, () => assert.deepStrictEqual(parsePlan(text, replicas), plan));
    const bad: [string, number, RegExp][] = [
        ["", 5, /is empty/], ["4,x", 5, /"x" is not a non-negative integer/], ["6,0", 5, /partition 6 is out of range; allowed 0\.\.5/],
        ["3,3,0", 5, /strictly decreasing; 3 follows 3/], ["1,2", 5, /strictly decreasing/], ["-1", 5, /not a non-negative integer/],
    ];
    for (const [text, replicas, message] of bad) {
        it(`rejects --plan "${text}" as a usage error`, () => assert.throws(() => parsePlan(text, replicas), (e: Error) => e instanceof UsageError && message.test(e.message)));
    }
    const remaining: [number[], number, number[]][] = [[[4, 3, 1, 0], 5, [4, 3, 1, 0]], [[4, 3, 1, 0], 3, [1, 0]], [[4, 3, 1, 0], 0, []]];
    for (const [plan, current, expected] of remaining) it(`${plan} from ${current} -> ${expected}`, () => assert.deepStrictEqual(remainingSteps(plan, current), expected));
    const targets: [number, { to?: number; by?: number }, number | RegExp][] = [
        [5, {}, 4], [3, { by: 2 }, 1], [3, { to: 0 }, 0], [0, {}, /would be -1; allowed 0\.\.5 \(use --to\)/], [3, { to: 7 }, /would be 7/], [3, { to: 1, by: 1 }, /either --to or --by/],
    ];
    for (const [current, options, expected] of targets) {
        it(`steps from ${current} with ${JSON.stringify(options)}`, () => {
            if (typeof expected === "number") assert.strictEqual(stepTarget(current, 5, options), expected);
            else assert.throws(() => stepTarget(current, 5, options), expected);
        });
    }
});

const contract = (over: Partial<CanaryContract> = {}): CanaryContract => ({
    contract: 2, namespace: "sts", statefulSetName: "web", container: "nginx", images: { v2: "r/x:v2@sha256:a" },
    templateVersion: "v2", partition: 0, replicas: 3, stableVersion: "v2", configKeys: { version: "imageTag", partition: "partition", replicas: "replicas" }, ...over,
});

function pod(ordinal: number, over: Partial<PodStatus> = {}): PodStatus {
    return {
        name: `web-${ordinal}`, ordinal, uid: `u${ordinal}`, revision: "rev2", version: "v2", image: `r/p/x:v2@sha256:${"a".repeat(64)}`,
        digest: `sha256:${"a".repeat(64)}`, ready: true, restarts: 0, age: "1m", state: "Running", onUpdateRevision: true, ...over,
    };
}

function status(over: Partial<CanaryStatus> = {}): CanaryStatus {
    return {
        stack: "dev", project: "shop", cluster: "https://dev:6443 (context dev)", contract: contract(), config: {}, pendingConfig: [],
        statefulSet: { generation: 2, observedGeneration: 2, replicas: 3, partition: 0, currentRevision: "rev2", updateRevision: "rev2", minReadySeconds: 0 },
        stableVersion: "v2", templateVersion: "v2", pods: [0, 1, 2].map((i) => pod(i)), updated: 3, ready: 3,
        operation: { running: false, interrupted: false }, recent: [], ...over,
    };
}

describe("tool: promote-env preconditions and config", () => {
    const cases: [string, Partial<CanaryStatus>, RegExp | null][] = [
        ["a fully rolled out, healthy stack", {}, null],
        ["never deployed", { contract: undefined }, /has never been deployed/],
        ["mid-canary", { canaryVersion: "v3", templateVersion: "v3", contract: contract({ partition: 2, templateVersion: "v3" }), statefulSet: { ...status().statefulSet!, partition: 2 } },
            /is mid-canary \(partition 2, v3 over v2\)/],
        ["config not deployed", { pendingConfig: ["partition 2 (config) vs 0 (deployed)"] }, /config that is not deployed: partition 2 \(config\) vs 0 \(deployed\)/],
        ["pods not ready", { ready: 2, pods: [pod(0), pod(1), pod(2, { ready: false, state: "CrashLoopBackOff" })] }, /only 2\/3 pods of dev are Ready/],
        ["a pod on another version", { pods: [pod(0, { version: "v1" }), pod(1), pod(2)] }, /web-0 \(v1\) of dev do not run v2/],
        ["an operation in flight", { operation: { running: true, interrupted: false, summary: "promote v1 -> v2 in flight" } }, /dev: promote v1 -> v2 in flight/],
        ["an interrupted operation", { operation: { running: false, interrupted: true, summary: "interrupted promote" } }, /dev: interrupted promote/],
    ];
    for (const [name, over, expected] of cases) {
        it(`source: ${name}`, () => {
            const problems = promotionBlockers(status(over));
            if (expected === null) assert.deepStrictEqual(problems, []);
            else assert.ok(problems.some((p) => expected.test(p)), JSON.stringify(problems));
        });
    }

    it("pins a version (replacing its old pin), starts on one pod, reads the registry", () => {
        assert.deepStrictEqual(withPin([], "v2", "r@sha256:1"), ["v2=r@sha256:1"]);
        assert.deepStrictEqual(withPin(["v1=a", "v2=old"], "v2", "new"), ["v1=a", "v2=new"]);
        for (const [replicas, partition] of [[5, 4], [2, 1], [1, 0]]) assert.strictEqual(safeStartPartition(replicas), partition);
        assert.strictEqual(registryOf("127.0.0.1:5443/library/x:v1@sha256:1"), "127.0.0.1:5443");
        assert.deepStrictEqual(pinnedList(undefined), []);
        assert.deepStrictEqual(pinnedList({ value: '["a=b"]', objectValue: ["a=b"], secret: false }), ["a=b"]);
        assert.deepStrictEqual(pinnedList({ value: "a=b, c=d", secret: false }), ["a=b", "c=d"]);
    });

    it("snapshots keys exactly and restores them (absent keys removed)", () => {
        const config = { "p:imageTag": { value: "v1", secret: false }, "p:pinnedImages": { value: "[]", objectValue: [], secret: false } };
        const previous = snapshot(config, ["p:imageTag", "p:partition", "p:pinnedImages"]);
        assert.deepStrictEqual(previous, { "p:imageTag": { value: "v1", secret: false }, "p:partition": null, "p:pinnedImages": { value: "[]", objectValue: [], secret: false } });
        assert.deepStrictEqual(restoreOf(previous), {
            set: { "p:imageTag": { value: "v1", secret: false }, "p:pinnedImages": { value: "[]", objectValue: [], secret: false } }, remove: ["p:partition"],
        });
    });
});

describe("tool: the contract and the stack config", () => {
    it("reads the stsCanary output, and refuses one of another shape", () => {
        assert.strictEqual(contractOf({}), undefined);
        assert.deepStrictEqual(contractOf({ stsCanary: contract() }), contract());
        assert.throws(() => contractOf({ stsCanary: { contract: 2 } }), RefusedError);
        assert.throws(() => contractOf({ stsCanary: { ...contract(), contract: 1 } }), /written by an older sts-canary \(contract 1\): run `pulumi up` once/);
    });

    it("takes the program's config keys from the contract: the tool operates any program that names them", () => {
        const stateful = contract({ configKeys: { version: "release", partition: "canaryFrom" } });
        assert.deepStrictEqual(keysOf(stateful, "db"), { version: "db:release", partition: "db:canaryFrom", replicas: undefined, pinnedImages: undefined });
        const keys = keysOf(contract({ configKeys: { version: "imageTag", partition: "partition", pinnedImages: "pins" } }), "p");
        assert.strictEqual(keys.pinnedImages, "p:pins");
        const config = { "db:release": { value: "v3", secret: false }, "db:canaryFrom": { value: "1", secret: false } };
        assert.deepStrictEqual(pendingConfig(desiredOf(config, keysOf(stateful, "db")), stateful), ["release v3 (config) vs v2 (deployed)", "canaryFrom 1 (config) vs 0 (deployed)"]);
    });

    it("lists what the stack file says differently from the last deployment (unset keys use the program's defaults)", () => {
        assert.deepStrictEqual(pendingConfig({}, contract()), []);
        assert.deepStrictEqual(pendingConfig({ version: "v1", partition: 2, replicas: 3 }, contract()), ["imageTag v1 (config) vs v2 (deployed)", "partition 2 (config) vs 0 (deployed)"]);
        assert.deepStrictEqual(pendingConfig({}, undefined), ["never deployed"]);
    });
});

describe("tool: status", () => {
    const now = Date.parse("2026-11-25T12:00:00Z");
    it("renders versions, progress, every pod and the operation", () => {
        const text = renderStatus(status({
            stableVersion: "v1", templateVersion: "v2", canaryVersion: "v2",
            statefulSet: { generation: 3, observedGeneration: 3, replicas: 5, partition: 3, currentRevision: "web-111", updateRevision: "web-222", minReadySeconds: 0 },
            contract: contract({ partition: 3, replicas: 5 }),
            pods: [pod(0, { version: "v1", revision: "web-111" }), pod(3, { revision: "web-222" }), pod(4, { revision: "web-222", ready: false, restarts: 3, state: "CrashLoopBackOff" })],
            updated: 2, ready: 2, pendingConfig: ["partition 1 (config) vs 3 (deployed)"],
            operation: { running: false, interrupted: true, summary: "interrupted promote v1 -> v2 (plan 3,1,0) stopped while applying partition 1" },
            recent: [{ time: "2026-11-25T11:59:00.123Z", stack: "dev", by: "alice@laptop", event: "step", message: "partition 3 -> 1" }],
        }));
        assert.match(text, /^stack dev {3}statefulset sts\/web {3}partition 3 {3}stable v1 {3}canary v2$/m);
        assert.match(text, /^cluster https:\/\/dev:6443 \(context dev\)$/m);
        assert.match(text, /updated \[########\.{12}\] 2\/5 {3}ready \[########\.{12}\] 2\/5/);
        assert.match(text, /^4 +web-4 +web-222 +v2 +sha256:aaaaaaaaaaaa +no +3 +1m +CrashLoopBackOff$/m);
        assert.match(text, /stack config differs from the last deployment: partition 1 \(config\) vs 3 \(deployed\)/);
        assert.match(text, /^interrupted: interrupted promote v1 -> v2/m);
        assert.match(text, /^ {2}2026-11-25 11:59:00Z {2}step {8}partition 3 -> 1 {2}\(alice@laptop\)$/m);
    });

    it("describes an operation whose operator is alive, and one that is gone", () => {
        const record = {
            format: 2 as const, id: "x", kind: "promote" as const, stack: "dev", project: "shop", backend: "file:///x", plan: [3, 1, 0], currentTarget: 1,
            phase: "applying" as const, stableVersion: "v1", canaryVersion: "v2", initialPartition: 5, initialVersion: "v1", config: {},
            startedBy: { user: "alice", host: "laptop", pid: 7, checkout: "/a" }, startedAt: "2026-11-25T11:58:00Z", updatedAt: "2026-11-25T11:59:00Z",
        };
        const lease = { holder: "alice@laptop pid 7 in /a", renewedAt: now - 4000, expiresAt: now + 26_000, expired: false };
        const live = describeOperation({ lease, record, timeline: [] }, now);
        assert.ok(live.running);
        assert.strictEqual(live.summary, "promote v1 -> v2 (plan 3,1,0): applying partition 1, started by alice@laptop (pid 7, /a) at 2026-11-25T11:58:00Z; "
            + "lock held by alice@laptop pid 7 in /a, renewed 4s ago, expires in 26s");
        const gone = describeOperation({ lease: { ...lease, expiresAt: now - 12_000, expired: true }, record, timeline: [] }, now);
        assert.ok(gone.interrupted);
        assert.match(gone.summary ?? "", /^interrupted promote v1 -> v2 .* its lock \(alice@laptop pid 7 in \/a\) expired 12s ago; run `sts-canary promote` to continue it, or `sts-canary rollback`$/);
        assert.deepStrictEqual(describeOperation({ timeline: [] }, now), { lease: undefined, running: false, interrupted: false, summary: undefined });
    });

    it("is settled when every pod is updated and Ready", () => {
        assert.ok(settled(status()));
        assert.ok(!settled(status({ ready: 2 })));
        assert.ok(!settled(status({ updated: 2 })));
    });

    const bars: [number, number, string][] = [[0, 5, `[${".".repeat(20)}]`], [5, 5, `[${"#".repeat(20)}]`], [1, 4, `[${"#".repeat(5)}${".".repeat(15)}]`], [7, 5, `[${"#".repeat(20)}]`]];
    for (const [done, total, bar] of bars) it(`progress ${done}/${total}`, () => assert.strictEqual(progressBar(done, total), bar));
    const ages: [number, string][] = [[5, "5s"], [119, "119s"], [600, "10m"], [7300, "2h"], [200000, "2d"]];
    for (const [secondsAgo, text] of ages) it(`age of ${secondsAgo}s is ${text}`, () => assert.strictEqual(age(now - secondsAgo * 1000, now), text));
});

describe("tool: pulumi output it understands", () => {
    it("takes the rollout check's whole cause from the Diagnostics of a failed up", () => {
        // As `pulumi up` prints it (stdout of the Automation API's CommandError), shortened.
        const text = [
            " ~  pulumi-nodejs:dynamic/sts-canary:RolloutCheck shop-rollout updating (0s) [diff: ~partition]; error: rollout of StatefulSet shop/web failed its gates:",
            "    pulumi:pulumi:Stack sts-canary-dev **failed** 1 error",
            "Diagnostics:", "  pulumi:pulumi:Stack (sts-canary-dev):", "    error: update failed", "",
            "  pulumi-nodejs:dynamic/sts-canary:RolloutCheck (shop-rollout):",
            "    error: rollout of StatefulSet shop/web failed its gates:",
            '    gate http failed: web-4 /version.html: HTTP 200 "<h1>This is V2</h1>" (expected HTTP 200 matching /This is V4/)', "",
            "Outputs:", "  - imageTag: \"v1\"",
        ].join("\n");
        assert.strictEqual(upFailureCause(text), "rollout of StatefulSet shop/web failed its gates:\n"
            + 'gate http failed: web-4 /version.html: HTTP 200 "<h1>This is V2</h1>" (expected HTTP 200 matching /This is V4/)');
        const crash = ["Diagnostics:", "  pulumi-nodejs:dynamic/sts-canary:RolloutCheck (web-rollout):",
            "    error: rollout of StatefulSet shop/web failed: pod web-4 (ordinal 4, revision web-6f, image r:v3@sha256:1, 2 restart(s)): CrashLoopBackOff",
            "      last warning events of web-4:", "        BackOff: Back-off restarting failed container", ""].join("\n");
        assert.strictEqual(upFailureCause(crash), "rollout of StatefulSet shop/web failed: pod web-4 (ordinal 4, revision web-6f, image r:v3@sha256:1, 2 restart(s)): CrashLoopBackOff\n"
            + "last warning events of web-4:\nBackOff: Back-off restarting failed container");
        assert.strictEqual(upFailureCause(" stderr: error: invalid stack configuration\nerror: update failed"), "error: invalid stack configuration");
    });

    it("reads the locks of a DIY state backend from its error", () => {
        const text = "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`."
            + "\n  postgres://****:****@127.0.0.1:15432/pulumi_state/.pulumi/locks/organization/shop/dev/1.json: created by root@ci-1 (pid 4242) at 2026-11-25T12:00:01Z";
        assert.deepStrictEqual(parseBackendLocks(text), [{ user: "root", host: "ci-1", pid: 4242, createdAt: "2026-11-25T12:00:01Z" }]);
        assert.strictEqual(parseBackendLocks(`stdout: ${text}\nstderr: ${text}`).length, 1, "the CLI prints it twice");
        assert.deepStrictEqual(parseBackendLocks("created by x@y (pid 1) at z"), []);
        assert.match(upFailureCause(text), /^the stack is currently locked by 1 lock\(s\)/);
    });
});

describe("tool: exit codes", () => {
    const cases: [string, unknown, number][] = [
        ["usage", new UsageError("x"), EXIT.usage], ["refused", new RefusedError("x"), EXIT.refused],
        ["cluster unavailable", new ClusterUnavailable("x"), EXIT.refused], ["lock lost", new LockLost("x"), EXIT.locked],
        ["interrupted", new Interrupted(), EXIT.interrupted], ["anything else", new Error("x"), EXIT.error],
        ["commander usage", Object.assign(new Error("x"), { code: "commander.unknownOption" }), EXIT.usage],
        ["help", Object.assign(new Error("x"), { code: "commander.helpDisplayed" }), EXIT.ok],
    ];
    for (const [name, err, code] of cases) it(`${name} -> ${code}`, () => assert.strictEqual(exitCodeOf(err).code, code));
});

describe("tool: the stack's cluster, not the environment's current context", () => {
    let dir: string;
    const kubeconfig = (server: string, context: string) => [
        "apiVersion: v1", "kind: Config", `current-context: ${context}`,
        `clusters:\n- name: ${context}\n  cluster:\n    server: ${server}`,
        `contexts:\n- name: ${context}\n  context:\n    cluster: ${context}\n    user: u`,
        "users:\n- name: u\n  user:\n    token: t0k3n",
    ].join("\n");
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-kc-"));
        fs.writeFileSync(path.join(dir, "stack"), kubeconfig("https://10.1.1.1:6443", "dev-cluster"));
        fs.writeFileSync(path.join(dir, "env"), kubeconfig("https://127.0.0.1:1", "elsewhere"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("uses kubernetes:kubeconfig and kubernetes:context of the stack even when KUBECONFIG points elsewhere", () => {
        const cluster = resolveCluster("dev", {
            "kubernetes:kubeconfig": { value: path.join(dir, "stack"), secret: false }, "kubernetes:context": { value: "dev-cluster", secret: false },
        }, { KUBECONFIG: path.join(dir, "env") });
        assert.match(cluster.description, /^https:\/\/10\.1\.1\.1:6443 \(context dev-cluster\) from context dev-cluster of kubernetes:kubeconfig/);
    });

    it("falls back to KUBECONFIG only when the stack names no cluster", () => {
        assert.match(resolveCluster("dev", {}, { KUBECONFIG: path.join(dir, "env") }).description, /^https:\/\/127\.0\.0\.1:1 \(context elsewhere\) from current context of KUBECONFIG/);
    });

    it("refuses a context the kubeconfig does not have, naming it (nothing is read or changed)", () => {
        assert.throws(() => resolveCluster("dev", { "kubernetes:kubeconfig": { value: path.join(dir, "stack"), secret: false }, "kubernetes:context": { value: "prod", secret: false } }, {}),
            (err: Error) => err instanceof ClusterUnavailable && /cannot resolve the cluster of stack dev: kubernetes:context "prod" is not in the kubeconfig/.test(err.message));
    });
});

describe("tool: the lease's times on the API server's clock", () => {
    const cases: { name: string; fields: { time?: Date | string }[]; headers: Record<string, string>; want: object }[] = [
        {
            name: "newest managedFields time and the Date header",
            fields: [{ time: new Date("2026-11-25T12:00:01Z") }, { time: new Date("2026-11-25T12:00:09Z") }],
            headers: { date: "Wed, 25 Nov 2026 12:00:13 GMT" },
            want: { serverWrittenAt: Date.parse("2026-11-25T12:00:09Z"), serverReadAt: Date.parse("2026-11-25T12:00:13Z") },
        },
        { name: "no Date header: unknown, fall back to renewTime", fields: [{ time: new Date("2026-11-25T12:00:01Z") }], headers: {}, want: {} },
        { name: "no managedFields: unknown", fields: [], headers: { date: "Wed, 25 Nov 2026 12:00:13 GMT" }, want: {} },
        { name: "an entry without a time is ignored", fields: [{}, { time: "2026-11-25T12:00:05Z" }], headers: { date: "Wed, 25 Nov 2026 12:00:06 GMT" },
            want: { serverWrittenAt: Date.parse("2026-11-25T12:00:05Z"), serverReadAt: Date.parse("2026-11-25T12:00:06Z") } },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const lease = { metadata: { managedFields: c.fields.map((f) => ({ manager: "sts-canary", operation: "Update", ...f })) } };
            assert.deepStrictEqual(serverTimes(lease as never, c.headers), c.want);
        });
    }
});

describe("tool: the platform's environment file", () => {
    it("reads values quoted as the shell reads them (a Harbor robot name holds a $)", () => {
        const file = path.join(os.tmpdir(), `sts-canary-envfile-${process.pid}.env`);
        fs.writeFileSync(file, "# comment\nA=plain\nB=\"double quoted\"\nSTS_CANARY_PULL_USER='robot$library+puller'\nnot a line\n");
        try {
            assert.deepStrictEqual(readEnvFile(file), { A: "plain", B: "double quoted", STS_CANARY_PULL_USER: "robot$library+puller" });
        } finally {
            fs.rmSync(file, { force: true });
        }
    });
});
