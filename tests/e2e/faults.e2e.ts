/**
 * The safe canary under the faults production brings, on the local platform with its real parts:
 * the API server stopped and started again during a step, the registry gone while a canary pod
 * pulls, a canary that runs but never turns Ready reverted, the tool's rollback after a step that
 * failed mid-way, two operators with one of them paused (SIGSTOP) past its lease, and a destroy
 * and a namespace rename of the stateful example. Each case failed before the faults issue.
 */
import * as assert from "assert";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { PodInfo, getPods, getStatefulSet, kubectl, operationObjects, tagOf } from "./kubectl";
import { getConfigValue, setConfig, timedUp, failingUp as failingUpOf } from "./stack";
import { CliResult, REPO_ROOT, deleteNamespaces, eventually, loadPlatformEnv, localStack, pushTestImage, run, runCli } from "./platform";

const STACK = "e2e-faults";
const NAMESPACE = "e2e-faults";
const APP = "web";
const log = (line: string) => console.log(`      ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An nginx image that serves a version page and is Ready, unless `cmd` says otherwise. */
function page(version: string, cmd?: string): [string, Record<string, string>] {
    const lines = ["FROM BASE", "COPY version.html /usr/share/nginx/html/"];
    if (cmd) lines.push(`CMD ["sh", "-c", ${JSON.stringify(cmd)}]`);
    return [lines.join("\n") + "\n", { "version.html": `<h1>This is ${version}</h1>\n` }];
}

/** An image no node has pulled yet (its own content, so its own digest: a cached one is never pulled). */
function pullOnce(): Promise<string> {
    const nonce = `${Date.now().toString(36)}-${process.pid}`;
    const [dockerfile, files] = page("f-pull");
    return pushTestImage(`f-pull-${nonce}`, `${dockerfile}COPY nonce /\n`, { ...files, nonce });
}

describe("the safe canary under faults", function () {
    let stack: Stack;
    const pods = () => getPods(NAMESPACE, APP);
    const tags = (list: PodInfo[]) => list.map((p) => tagOf(p.image));
    const refs: Record<string, string> = {};
    const cli = (args: string[], options: Parameters<typeof runCli>[1] = {}) => runCli(["--stack", STACK, ...args], options);

    async function up(settings: Record<string, string | string[]>, what: string): Promise<number> {
        await setConfig(stack, settings);
        const { result, seconds } = await timedUp(stack);
        log(`${what}: pulumi up ${result.summary.result} in ${seconds.toFixed(1)}s`);
        return seconds;
    }

    const failingUp = (settings: Record<string, string | string[]>, what: string) => failingUpOf(stack, settings, what, log);

    /** Every pod on v1 and Ready (the state each case starts from and returns to). */
    async function allOnV1(): Promise<void> {
        await up({ imageTag: "v1", partition: "0" }, "back to v1 everywhere");
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v1", "v1"]);
        assert.ok(now.every((p) => p.ready));
    }

    before(async function () {
        // Releases built elsewhere (pinned by digest): one that crashes on web-2 only, one that never turns Ready, one to pull.
        [refs.host2, refs.never, refs.pull] = await Promise.all([
            pushTestImage("f-host2", ...page("f-host2", "if [ \"$(hostname)\" = web-2 ]; then echo \"broken on $(hostname)\"; exit 1; fi; exec nginx -g 'daemon off;'")),
            pushTestImage("f-never", "FROM BASE\n"),
            pullOnce(),
        ]);
        stack = await localStack(STACK, {
            namespace: NAMESPACE, appName: APP, nodePort: "30094", replicas: "5", versions: ["v1", "v2"],
            pinnedImages: [`f-host2=${refs.host2}`, `f-never=${refs.never}`, `f-pull=${refs.pull}`],
            imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "240", readyTimeoutSeconds: "30", checkVersionPage: "false",
        });
        await stack.destroy({ color: "never" });
        await deleteNamespaces(NAMESPACE);
        await up({}, "v1 on 5 pods");
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
        await deleteNamespaces(NAMESPACE);
    });

    it("waits out an API server outage during a step and converges (the platform's controllers recover by themselves)", async () => {
        await setConfig(stack, { imageTag: "v2", partition: "3" });
        const started = Date.now();
        const upping = timedUp(stack);
        // As soon as the new spec is applied, the API server goes away for 10 s.
        await eventually("the step to be applied", 60_000, async () => ((await getStatefulSet(NAMESPACE, APP))?.partition === 3 ? true : undefined));
        const outage = await run(path.join(REPO_ROOT, "platform/cluster.sh"), ["restart-apiserver", "--down", "10"], 180_000);
        log(`API server stopped ${((Date.now() - started) / 1000).toFixed(1)}s into the step, for 10 s: ${outage.trim().split("\n").pop()}`);
        const { seconds } = await upping;
        log(`the step finished ${seconds.toFixed(1)}s after it began`);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v2", "v2"]);
        assert.ok(now.every((p) => p.ready));
        assert.ok(seconds < 240, `bounded by rolloutTimeoutSeconds: ${seconds}s`);
        await allOnV1();
    });

    it("does not fail a step while the registry is unavailable for a few seconds during the pull", async () => {
        await run(path.join(REPO_ROOT, "platform/registry.sh"), ["stop"]);
        let restarted = 0;
        try {
            await setConfig(stack, { imageTag: "f-pull", partition: "4", transientGraceSeconds: "60" });
            const started = Date.now();
            const upping = timedUp(stack);
            // The canary pod tries to pull while the registry is down (ErrImagePull: connection refused), then it comes back.
            const waiting = await eventually("the canary pod to fail its pull", 60_000, async () => {
                const pod = (await pods()).find((p) => p.ordinal === 4 && p.image.includes("f-pull"));
                return pod?.waitingReason && /ErrImagePull|ImagePullBackOff/.test(pod.waitingReason) ? pod.waitingReason : undefined;
            });
            log(`web-4: ${waiting} ${((Date.now() - started) / 1000).toFixed(1)}s into the step; starting the registry again`);
            await run(path.join(REPO_ROOT, "platform/registry.sh"), ["start"]);
            restarted = (Date.now() - started) / 1000;
            const { seconds } = await upping;
            log(`registry back ${restarted.toFixed(1)}s into the step; the step finished after ${seconds.toFixed(1)}s`);
            assert.deepStrictEqual(tags(await pods()), ["v1", "v1", "v1", "v1", tagOf(refs.pull)]);
        } finally {
            if (!restarted) await run(path.join(REPO_ROOT, "platform/registry.sh"), ["start"]);
        }
        await setConfig(stack, { transientGraceSeconds: "30" });
        await allOnV1();
    });

    it("replaces a reverted canary that runs but never turned Ready at once, not after readyTimeoutSeconds", async () => {
        const failed = await failingUp({ imageTag: "f-never", partition: "4" }, "canary that never turns Ready");
        assert.match(failed.message, /pod web-4 .*: not Ready after 30s \(Running\)/);
        const before = (await pods())[4];
        const seconds = await up({ imageTag: "v1", partition: "4" }, "plain revert");
        const after = (await pods())[4];
        assert.notStrictEqual(after.uid, before.uid);
        assert.strictEqual(tagOf(after.image), "v1");
        assert.ok(seconds < 25, `the revert took ${seconds}s: it waited for readyTimeoutSeconds (30 s) again`);
        await allOnV1();
    });

    it("the tool's rollback of a step that failed mid-way leaves no pod on the broken revision", async () => {
        await up({ imageTag: "f-host2", partition: "3" }, "healthy canary f-host2 on web-3..web-4");
        assert.deepStrictEqual(tags(await pods()), ["v1", "v1", "v1", "f-host2", "f-host2"]);
        const result = await cli(["step"]);
        log(`sts-canary step (to partition 2, where web-2 crashes): exit ${result.code}; ${result.stdout.trim().split("\n").slice(-3).join(" | ")}`);
        assert.strictEqual(result.code, 3, `${result.stdout}\n${result.stderr}`);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v1", "v1"], "web-2 stranded on the broken revision below the restored partition");
        assert.ok(now.every((p) => p.ready));
        assert.strictEqual(await getConfigValue(stack, "partition"), "3", "the partition where the operation started");
        assert.strictEqual(await getConfigValue(stack, "imageTag"), "v1");
        await allOnV1();
    });

    it("a paused operator (SIGSTOP past its lease) writes nothing when it resumes, and its live pulumi's backend lock is never cancelled", async () => {
        await setConfig(stack, { bakeSeconds: "30" });
        let pidA = 0;
        const outputA: string[] = [];
        const a = cli(["promote", "--image-tag", "v2", "--plan", "4,3"], { detached: true, onSpawn: (pid) => { pidA = pid; }, onOutput: (t) => outputA.push(t) });
        // A is baking its first step inside `pulumi up` when its whole process group stops.
        await eventually("A's step to be applied", 90_000, async () => ((await getStatefulSet(NAMESPACE, APP))?.partition === 4 ? true : undefined));
        await sleep(3000);
        process.kill(-pidA, "SIGSTOP");
        const stoppedAt = Date.now();
        log(`A (pid ${pidA}) stopped while its up bakes partition 4`);
        try {
            await sleep(34_000);
            const b: CliResult = await cli(["step"]);
            log(`B: sts-canary step -> exit ${b.code}: ${b.stderr.trim().split("\n").pop()}`);
            assert.strictEqual(b.code, 7, `${b.stdout}\n${b.stderr}`);
            assert.match(b.stderr, /still holds the lock of the gone operator's pulumi .* is still running \(paused\?\): it is not cancelled/);
            const afterB = await operationObjects(NAMESPACE, APP);
            assert.ok(afterB.timeline.some((e) => e.event === "takeover"), "B took the expired lease over");
            assert.ok(!afterB.timeline.some((e) => e.event === "unlock"), "no backend lock was cancelled");
        } finally {
            process.kill(-pidA, "SIGCONT");
        }
        const resumedAt = Date.now();
        const resultA = await a;
        log(`A resumed after ${((resumedAt - stoppedAt) / 1000).toFixed(0)}s and exited ${resultA.code} ${((Date.now() - resumedAt) / 1000).toFixed(1)}s later: ${resultA.stderr.trim().split("\n").pop()}`);
        assert.strictEqual(resultA.code, 7, outputA.join(""));
        assert.match(resultA.stderr, /not renewed for \d+s|now belongs to|taken over/);
        const timeline = (await operationObjects(NAMESPACE, APP)).timeline;
        const takeover = timeline.findIndex((e) => e.event === "takeover");
        // Every writer's clock is this machine's: B wrote before A resumed, A must write nothing after.
        const late = timeline.slice(takeover + 1).filter((e) => new Date(e.time).getTime() >= resumedAt);
        assert.deepStrictEqual(late, [], "A wrote to the record after it resumed");
        // The stack is usable: A's own pulumi ended and released the backend lock; an operator finishes or rolls back.
        await setConfig(stack, { bakeSeconds: "0" });
        const rollback = await cli(["rollback"]);
        assert.strictEqual(rollback.code, 0, `${rollback.stdout}\n${rollback.stderr}`);
        await allOnV1();
    });
});

describe("the stateful example: no default loses a volume", function () {
    const WORK_DIR = path.join(REPO_ROOT, "examples", "stateful");
    const PROJECT = "sts-canary-stateful";
    const FIRST = "e2e-faults-db";
    const SECOND = "e2e-faults-db2";
    let stack: Stack;
    const sql = async (namespace: string, query: string) =>
        (await kubectl(["exec", "-n", namespace, "db-0", "-c", "postgres", "--", "psql", "-tAc", query], 120_000)).trim();
    const exists = async (kind: string, name: string, namespace?: string) =>
        kubectl(["get", kind, name, ...(namespace ? ["-n", namespace] : [])]).then(() => true, () => false);

    async function up(values: Record<string, string>, what: string): Promise<void> {
        await stack.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, { value: v }])));
        const result = await stack.up({ color: "never" });
        log(`${what}: ${result.summary.result}`);
    }

    before(async function () {
        const env = loadPlatformEnv();
        await deleteNamespaces(FIRST, SECOND);
        stack = await LocalWorkspace.createOrSelectStack({ stackName: "e2e-faults-db", workDir: WORK_DIR }, { envVars: env });
        await stack.setAllConfig({
            [`${PROJECT}:registryServer`]: { value: env.STS_CANARY_REGISTRY },
            [`${PROJECT}:registryPassword`]: { value: env.STS_CANARY_REGISTRY_PASSWORD, secret: true },
            [`${PROJECT}:pullUsername`]: { value: env.STS_CANARY_PULL_USER },
            [`${PROJECT}:pullPassword`]: { value: env.STS_CANARY_PULL_PASSWORD, secret: true },
            [`${PROJECT}:baseImage`]: { value: env.STS_CANARY_POSTGRES_BASE_IMAGE },
            [`${PROJECT}:imageBuilder`]: { value: "docker-cli" },
            [`${PROJECT}:namespace`]: { value: FIRST },
            [`${PROJECT}:replicas`]: { value: "1" },
            "kubernetes:kubeconfig": { value: env.KUBECONFIG },
        });
        await stack.destroy({ color: "never" });
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(stack.name);
        await deleteNamespaces(FIRST, SECOND);
    });

    it("pulumi destroy keeps the namespace it created and the volume in it; the next up finds the data", async () => {
        await up({}, `PostgreSQL in namespace ${FIRST} (created by the component)`);
        await sql(FIRST, "CREATE TABLE notes(note text); INSERT INTO notes VALUES ('kept through destroy and rename')");
        await stack.destroy({ color: "never" });
        assert.ok(await exists("namespace", FIRST), "the namespace was deleted by destroy");
        assert.ok(await exists("pvc", "data-db-0", FIRST), "the claim was deleted with the namespace");
        await up({}, "deployed again on the retained namespace");
        assert.strictEqual(await sql(FIRST, "SELECT note FROM notes"), "kept through destroy and rename");
    });

    it("renaming the namespace leaves the old one and its volume in place; renaming back finds the data", async () => {
        await up({ namespace: SECOND }, `namespace renamed to ${SECOND}`);
        assert.ok(await exists("pvc", "data-db-0", FIRST), "the old namespace's claim was deleted by the rename");
        assert.ok(await exists("pvc", "data-db-0", SECOND));
        await up({ namespace: FIRST }, `renamed back to ${FIRST}`);
        assert.strictEqual(await sql(FIRST, "SELECT note FROM notes"), "kept through destroy and rename");
    });

    it("deletes the namespace only when asked (deleteNamespace)", async () => {
        await up({ namespace: SECOND, deleteNamespace: "true" }, `namespace ${SECOND} with deleteNamespace`);
        await stack.destroy({ color: "never" });
        await eventually(`namespace ${SECOND} to be deleted`, 120_000, async () => (await exists("namespace", SECOND) ? undefined : true));
        assert.ok(await exists("pvc", "data-db-0", FIRST), "the other namespace is untouched");
    });
});
