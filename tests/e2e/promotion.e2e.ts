/**
 * The sts-canary tool on the local platform, run as a user runs it (the CLI binary, its exit
 * codes and --json output): a promotion through a plan, status checked against kubectl, a broken
 * release and a wrong page rolled back automatically without touching the pods below the canary,
 * an interrupted promotion explained (from the record in the cluster) and continued, and the
 * stack's own cluster used while the environment's current context points at another one.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { PodInfo, getPods, kubectl, kubectlJson, operationObjects, podInfoFrom, tagOf } from "./kubectl";
import { getConfigValue, setConfig, timedUp } from "./stack";
import { CliOptions, deleteNamespaces, eventually, localStack, loadPlatformEnv, pushTestImage, runCli } from "./platform";

const STACK = "e2e-promote";
const NAMESPACE = "e2e-promote";
const APP = "shop";
const log = (line: string) => console.log(`      ${line}`);

interface Entry { time: string; event: string; message: string }

describe("sts-canary tool on the local platform", function () {
    let stack: Stack;
    const pods = () => getPods(NAMESPACE, APP);
    const tags = (list: PodInfo[]) => list.map((p) => tagOf(p.image));
    const cli = (args: string[], options?: CliOptions) => runCli(["--stack", STACK, ...args], options);
    const showTimeline = (json: { timeline?: Entry[] }) => {
        for (const e of json.timeline ?? []) log(`${e.time.slice(11, 19)} ${e.event.padEnd(11)} ${e.message.split("\n")[0].slice(0, 160)}`);
    };
    const objects = () => operationObjects(NAMESPACE, APP);

    before(async function () {
        stack = await localStack(STACK, {
            namespace: NAMESPACE, appName: APP, nodePort: "30091", replicas: "5", versions: ["v1", "v2"],
            imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "300", bakeSeconds: "4", readyTimeoutSeconds: "60",
        });
        await stack.destroy({ color: "never" });
        await deleteNamespaces(NAMESPACE);
        const { seconds } = await timedUp(stack);
        log(`v1 on 5 replicas in ${seconds.toFixed(1)}s`);
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
        await deleteNamespaces(NAMESPACE);
    });

    it("rejects bad arguments with exit code 2 and a message, before anything", async () => {
        const bad = await cli(["promote", "--plan", "3,4"]);
        assert.strictEqual(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, /--plan must be strictly decreasing; 4 follows 3/);
        const range = await cli(["step", "--to", "9"]);
        assert.strictEqual(range.code, 2, range.stderr);
        assert.match(range.stderr, /the next partition would be 9; allowed 0\.\.5/);
        const bake = await cli(["promote", "--plan", "4,0", "--bake", "5"]);
        assert.strictEqual(bake.code, 2);
        assert.match(bake.stderr, /unknown option '--bake'/);
        const version = await cli(["step", "--image-tag", "v7"]);
        assert.strictEqual(version.code, 2);
        assert.match(version.stderr, /--image-tag v7: not a version stack e2e-promote can deploy; allowed: v1, v2/);
        assert.deepStrictEqual(await objects(), { lease: undefined, record: undefined, timeline: [] }, "nothing written to the cluster");
    });

    it("promotes v2 through partitions 5 -> 3 -> 1 -> 0, one gated pulumi up per step", async () => {
        const v1Pods = await pods();
        const result = await cli(["--json", "promote", "--image-tag", "v2", "--plan", "5,3,1,0"]);
        const json = JSON.parse(result.stdout);
        showTimeline(json);
        log(`promotion took ${result.seconds.toFixed(1)}s`);
        assert.strictEqual(result.code, 0, result.stderr);
        assert.strictEqual(json.exitCode, 0);
        const steps = json.timeline.filter((e: Entry) => e.event === "step").map((e: Entry) => /partition \d+ -> (\d+)/.exec(e.message)?.[1]);
        assert.deepStrictEqual(steps, ["5", "3", "1", "0"]);
        // The gates ran inside every `up` (the rollout check), and said so.
        const applied = json.timeline.filter((e: Entry) => e.event === "applied");
        assert.strictEqual(applied.length, 4);
        for (const e of applied.slice(1)) assert.match(e.message, /gates: restarts ok, ready ok, http ok/);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v2", "v2", "v2", "v2", "v2"]);
        for (const pod of now) assert.notStrictEqual(pod.uid, v1Pods[pod.ordinal].uid, `${pod.name} was replaced once, by its step`);
        assert.strictEqual(await getConfigValue(stack, "partition"), "0");
        assert.strictEqual(await getConfigValue(stack, "imageTag"), "v2");
        assert.strictEqual((await stack.outputs()).stsCanary.value.stableVersion, "v2");
        // The operation state is in the cluster, next to the StatefulSet: no record or lock left, the timeline kept.
        const state = await objects();
        assert.strictEqual(state.record, undefined);
        assert.strictEqual(state.lease, undefined);
        assert.ok(state.timeline.some((e) => e.event === "promoted"));
        assert.ok(!fs.existsSync(path.join(stack.workspace.workDir, ".sts-canary")), "no local operation files");
    });

    it("shows a status that matches kubectl", async () => {
        const result = await cli(["--json", "status"]);
        assert.strictEqual(result.code, 0, result.stderr);
        const status = JSON.parse(result.stdout);
        const raw = await kubectlJson<{ items: any[] }>(["get", "pods", "-n", NAMESPACE]);
        const fromKubectl = raw.items.map((p) => podInfoFrom(p, APP)).filter((p): p is PodInfo => p !== undefined).sort((a, b) => a.ordinal - b.ordinal);
        const pick = (p: { name: string; uid: string; revision: string; image: string; ready: boolean; restarts: number }) =>
            ({ name: p.name, uid: p.uid, revision: p.revision, image: p.image, ready: p.ready, restarts: p.restarts });
        assert.deepStrictEqual(status.pods.map(pick), fromKubectl.map(pick));
        const sts = await kubectlJson(["get", "statefulset", APP, "-n", NAMESPACE]);
        assert.strictEqual(status.statefulSet.updateRevision, sts.status.updateRevision);
        assert.strictEqual(status.statefulSet.partition, sts.spec.updateStrategy.rollingUpdate.partition);
        assert.strictEqual(status.stableVersion, "v2");
        assert.strictEqual(status.updated, 5);
        assert.strictEqual(status.ready, 5);
        const human = await cli(["status"]);
        log(human.stdout.split("\n").slice(0, 9).join("\n      "));
        assert.match(human.stdout, /partition 0 +stable v2 +canary -/);
        assert.match(human.stdout, /updated \[#{20}\] 5\/5 +ready \[#{20}\] 5\/5/);
        for (const pod of fromKubectl) {
            assert.match(human.stdout, new RegExp(`^${pod.ordinal} +${pod.name} +${pod.revision} +v2 +sha256:[a-f0-9]{12} +yes +${pod.restarts} `, "m"));
        }
    });

    it("rolls a crash-looping v3 back automatically at the first step, never restarting pods 0-3 (exit 3)", async () => {
        // A release whose nginx cannot start: it crash-loops and never becomes Ready.
        const broken = await pushTestImage("v3", 'FROM BASE\nCMD ["nginx", "-g", "daemon off; no_such_directive on;"]\n');
        await setConfig(stack, { pinnedImages: [`v3=${broken}`] });
        await timedUp(stack); // the pinned version is deployable now; nothing moves
        const before = await pods();
        const result = await cli(["--json", "promote", "--image-tag", "v3", "--plan", "4,3,1,0"]);
        const json = JSON.parse(result.stdout);
        showTimeline(json);
        log(`detected and rolled back in ${result.seconds.toFixed(1)}s`);
        assert.strictEqual(result.code, 3, `expected exit 3 (rolled back): ${result.stdout} ${result.stderr}`);
        const events = json.timeline.map((e: Entry) => e.event);
        assert.deepStrictEqual(events, ["promote", "step", "up-FAIL", "rollback", "rolled-back"]);
        const failure = json.timeline.find((e: Entry) => e.event === "up-FAIL").message;
        assert.match(failure, /rollout of StatefulSet e2e-promote\/shop failed: pod shop-4 .*(CrashLoopBackOff|Error)/);
        assert.match(json.timeline.at(-1).message, /replaced stuck pod\(s\) shop-4; pods shop-0, shop-1, shop-2, shop-3 untouched/);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v2", "v2", "v2", "v2", "v2"]);
        assert.ok(now.every((p) => p.ready));
        for (const ordinal of [0, 1, 2, 3]) {
            assert.strictEqual(now[ordinal].uid, before[ordinal].uid, `pod ${ordinal} was restarted`);
            assert.strictEqual(now[ordinal].restarts, before[ordinal].restarts);
        }
        assert.strictEqual(await getConfigValue(stack, "imageTag"), "v2");
        assert.strictEqual(await getConfigValue(stack, "partition"), "0");
        assert.strictEqual((await objects()).record, undefined);
    });

    it("rolls back a release that serves the wrong page (Ready, no restarts): the HTTP gate inside up fails", async () => {
        const wrong = await pushTestImage("v4", "FROM BASE\nCOPY index.html version.html /usr/share/nginx/html/\n",
            { "index.html": "<h1>This is V2</h1>\n", "version.html": "<h1>This is V2</h1>\n" });
        const current = JSON.parse((await stack.getConfig("sts-canary:pinnedImages")).value) as string[];
        await setConfig(stack, { pinnedImages: [...current, `v4=${wrong}`] });
        await timedUp(stack);
        const before = await pods();
        const result = await cli(["--json", "step", "--image-tag", "v4", "--to", "4"]);
        const json = JSON.parse(result.stdout);
        showTimeline(json);
        assert.strictEqual(result.code, 3, result.stdout + result.stderr);
        const failure = json.timeline.find((e: Entry) => e.event === "up-FAIL").message;
        assert.match(failure, /failed its gates/);
        assert.match(failure, /shop-4 \/version\.html: HTTP 200 "<h1>This is V2<\/h1>"/);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v2", "v2", "v2", "v2", "v2"]);
        for (const ordinal of [0, 1, 2, 3]) assert.strictEqual(now[ordinal].uid, before[ordinal].uid);
    });

    it("explains an interrupted promotion from the record in the cluster, and continues it", async () => {
        await setConfig(stack, { bakeSeconds: "20" });
        const timelineBefore = (await objects()).timeline.length;
        let pid = 0;
        const running = cli(["promote", "--image-tag", "v1", "--plan", "4,2,0"], { onSpawn: (p) => { pid = p; } });
        // Interrupt while the first step's `up` bakes, like Ctrl-C.
        await eventually("the first step to be applied", 120_000, async () => {
            const state = await objects();
            return state.record?.currentTarget === 4 && state.timeline.length > timelineBefore && state.lease ? true : undefined;
        });
        await new Promise((r) => setTimeout(r, 8000));
        process.kill(pid, "SIGINT");
        const interrupted = await running;
        assert.strictEqual(interrupted.code, 130, interrupted.stdout + interrupted.stderr);
        const state = await objects();
        assert.strictEqual(state.record.kind, "promote");
        assert.strictEqual(state.lease, undefined, "an interrupted operator releases its lock");

        await setConfig(stack, { bakeSeconds: "3" });
        const status = await cli(["status"]);
        log(status.stdout.split("\n").filter((l) => /^interrupted:|partition/.test(l)).join("\n      "));
        assert.match(status.stdout, /^interrupted: interrupted promote v2 -> v1 \(plan 4,2,0\) stopped while applying partition 4, started by .*; its lock was released; run `sts-canary promote` to continue it, or `sts-canary rollback`$/m);

        const resumed = await cli(["--json", "promote"]);
        const json = JSON.parse(resumed.stdout);
        showTimeline(json);
        assert.strictEqual(resumed.code, 0, resumed.stdout + resumed.stderr);
        assert.strictEqual(json.timeline[0].event, "resume");
        assert.deepStrictEqual(tags(await pods()), ["v1", "v1", "v1", "v1", "v1"]);
        const after = await cli(["status"]);
        assert.doesNotMatch(after.stdout, /interrupted/);
        assert.strictEqual((await stack.outputs()).stable.value, "v1");
    });

    // Issue 10's reproduction: kubectl's current context names another (unreachable) cluster; the
    // stack's kubernetes:kubeconfig and kubernetes:context name the local one.
    it("works on the stack's cluster while KUBECONFIG's current context points at another, unreachable one", async () => {
        const env = loadPlatformEnv();
        const real = await kubectlJson<{ "current-context": string }>(["config", "view", "--minify"]);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-elsewhere-"));
        const elsewhere = path.join(dir, "kubeconfig");
        fs.writeFileSync(elsewhere, [
            "apiVersion: v1", "kind: Config", "current-context: elsewhere",
            "clusters:\n- name: elsewhere\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true",
            "contexts:\n- name: elsewhere\n  context:\n    cluster: elsewhere\n    user: nobody",
            "users:\n- name: nobody\n  user:\n    token: not-a-token",
        ].join("\n") + "\n");
        await setConfig(stack, { "kubernetes:kubeconfig": env.KUBECONFIG, "kubernetes:context": real["current-context"] });
        const toolEnv = { ...process.env, KUBECONFIG: elsewhere };
        try {
            // The environment really points elsewhere: kubectl fails there.
            await assert.rejects(kubectl(["--kubeconfig", elsewhere, "get", "pods", "-n", NAMESPACE], 15_000), /127\.0\.0\.1:1|connection refused/);
            const status = await cli(["status"], { env: toolEnv });
            log(status.stdout.split("\n").slice(0, 2).join("\n      "));
            assert.strictEqual(status.code, 0, status.stderr);
            assert.match(status.stdout, new RegExp(`^cluster https://127\\.0\\.0\\.1:6443 \\(context ${real["current-context"]}\\) from context ${real["current-context"]} of kubernetes:kubeconfig`, "m"));
            assert.match(status.stdout, /^4 +shop-4 +\S+ +v1 /m);
            // A change goes to the stack's cluster too: its record and lock, and the `up`.
            const moved = await cli(["step", "--to", "3"], { env: toolEnv });
            assert.strictEqual(moved.code, 0, moved.stdout + moved.stderr);
            assert.strictEqual((await objects()).timeline.at(-1)?.event, "applied");
            assert.strictEqual((await kubectlJson(["get", "statefulset", APP, "-n", NAMESPACE])).spec.updateStrategy.rollingUpdate.partition, 3);
            // A stack whose context cannot be used is refused before anything, naming what is wrong.
            await setConfig(stack, { "kubernetes:context": "no-such-context" });
            const refused = await cli(["step", "--to", "2"], { env: toolEnv });
            assert.strictEqual(refused.code, 6, refused.stdout + refused.stderr);
            assert.match(refused.stderr, /refused \(nothing was changed\): cannot resolve the cluster of stack e2e-promote: kubernetes:context "no-such-context" is not in the kubeconfig/);
        } finally {
            await setConfig(stack, { "kubernetes:context": real["current-context"] });
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("follows another operator's step with status --watch (list+watch, no polling) until it is done", async () => {
        const stepping = cli(["step", "--image-tag", "v2", "--to", "3"]);
        await eventually("the step to be in flight", 60_000, async () => ((await objects()).record ? true : undefined));
        const watched = await cli(["--json", "status", "--watch", "--watch-seconds", "240"]);
        const stepped = await stepping;
        assert.strictEqual(stepped.code, 0, stepped.stdout + stepped.stderr);
        assert.strictEqual(watched.code, 0, watched.stderr);
        const renders = watched.stdout.trim().split("\n").map((l) => JSON.parse(l));
        log(`status --watch rendered ${renders.length} times: ${renders.map((r) => `${r.updated}/${r.ready}${r.operation.running ? "*" : ""}`).join(" ")}  (updated/ready, * = in flight)`);
        assert.ok(renders.length >= 3, `${renders.length} renders`);
        assert.ok(renders[0].operation.running, "it started while the step was in flight");
        const last = renders.at(-1);
        assert.strictEqual(last.operation.running, false);
        assert.strictEqual(last.canaryVersion, "v2");
        assert.deepStrictEqual(last.pods.map((p: { version: string }) => p.version), ["v1", "v1", "v1", "v2", "v2"]);
        assert.strictEqual(last.ready, 5);
    });
});
