/**
 * The sts-canary tool on the local platform, run as a user runs it (the CLI binary, its exit
 * codes and --json output): a gated promotion, status checked against kubectl, a broken release
 * rolled back automatically without touching the pods below the canary, and an interrupted
 * promotion explained and continued.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { PodInfo, getPods, kubectlJson, podInfoFrom, tagOf } from "../../components/cli/kube";
import { getConfigValue, setConfig, timedUp } from "../../components/cli/stack";
import { REPO_ROOT, eventually, localStack, pushTestImage, runCli } from "./platform";

const STACK = "e2e-promote";
const NAMESPACE = "e2e-promote";
const APP = "shop";
const log = (line: string) => console.log(`      ${line}`);

describe("sts-canary promotion tool on the local platform", function () {
    let stack: Stack;
    const pods = () => getPods(NAMESPACE, APP);
    const tags = (list: PodInfo[]) => list.map((p) => tagOf(p.image));
    const cli = (args: string[], options?: Parameters<typeof runCli>[1]) => runCli(["--stack", STACK, ...args], options);
    const showTimeline = (json: { timeline?: { time: string; event: string; message: string }[] }) => {
        for (const e of json.timeline ?? []) log(`${e.time.slice(11, 19)} ${e.event.padEnd(10)} ${e.message}`);
    };

    before(async function () {
        stack = await localStack(STACK, {
            namespace: NAMESPACE, appName: APP, nodePort: "30091", replicas: "5", versions: ["v1", "v2"],
            imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "300",
            gateBakeSeconds: "6", gateReadyTimeoutSeconds: "60",
        });
        await stack.destroy({ color: "never" });
        fs.rmSync(path.join(REPO_ROOT, ".sts-canary", STACK), { recursive: true, force: true });
        const { seconds } = await timedUp(stack);
        log(`v1 on 5 replicas in ${seconds.toFixed(1)}s`);
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
    });

    it("rejects bad arguments with exit code 2 and a message", async () => {
        const bad = await cli(["promote", "--plan", "3,4"]);
        assert.strictEqual(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, /--plan must be strictly decreasing; 4 follows 3/);
        const range = await cli(["step", "--to", "9"]);
        assert.strictEqual(range.code, 2);
        assert.match(range.stderr, /the next partition would be 9; allowed 0\.\.5/);
    });

    it("promotes v2 through partitions 5 -> 3 -> 1 -> 0 with every gate passing", async () => {
        const v1Pods = await pods();
        const result = await cli(["--json", "promote", "--image-tag", "v2", "--plan", "5,3,1,0"]);
        const json = JSON.parse(result.stdout);
        showTimeline(json);
        log(`promotion took ${result.seconds.toFixed(1)}s`);
        assert.strictEqual(result.code, 0, result.stderr);
        assert.strictEqual(json.exitCode, 0);
        assert.ok(json.gates.length >= 16 && json.gates.every((g: { passed: boolean }) => g.passed), JSON.stringify(json.gates));
        const steps = json.timeline.filter((e: { event: string }) => e.event === "step").map((e: { message: string }) => e.message);
        assert.deepStrictEqual(steps.map((m: string) => /partition \d+ -> (\d+)/.exec(m)?.[1]), ["5", "3", "1", "0"]);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v2", "v2", "v2", "v2", "v2"]);
        // Each pod was replaced exactly once, by its step.
        for (const pod of now) assert.notStrictEqual(pod.uid, v1Pods[pod.ordinal].uid);
        assert.strictEqual(await getConfigValue(stack, "partition"), "0");
        assert.strictEqual(await getConfigValue(stack, "imageTag"), "v2");
        const outputs = await stack.outputs();
        assert.strictEqual(outputs.partition.value, 0);
    });

    it("shows a status that matches kubectl", async () => {
        const result = await cli(["--json", "status"]);
        assert.strictEqual(result.code, 0, result.stderr);
        const status = JSON.parse(result.stdout);
        const raw = await kubectlJson<{ items: any[] }>(["get", "pods", "-n", NAMESPACE]);
        const fromKubectl = raw.items.map((p) => podInfoFrom(p, APP)).filter((p): p is PodInfo => p !== undefined).sort((a, b) => a.ordinal - b.ordinal);
        const pick = (p: PodInfo) => ({ name: p.name, uid: p.uid, revision: p.revision, image: p.image, ready: p.ready, restarts: p.restarts });
        assert.deepStrictEqual(status.pods.map(pick), fromKubectl.map(pick));
        const sts = await kubectlJson(["get", "statefulset", APP, "-n", NAMESPACE]);
        assert.strictEqual(status.statefulSet.updateRevision, sts.status.updateRevision);
        assert.strictEqual(status.statefulSet.partition, sts.spec.updateStrategy.rollingUpdate.partition);
        assert.strictEqual(status.stableTag, "v2");
        assert.strictEqual(status.updated, 5);
        assert.strictEqual(status.ready, 5);
        const human = await cli(["status"]);
        log(human.stdout.split("\n").join("\n      "));
        assert.match(human.stdout, /partition 0 +stable v2 +canary -/);
        assert.match(human.stdout, /updated \[#{20}\] 5\/5 +ready \[#{20}\] 5\/5/);
        for (const pod of fromKubectl) {
            assert.match(human.stdout, new RegExp(`^${pod.ordinal} +${pod.name} +${pod.revision} +v2 +sha256:[a-f0-9]{12} +yes +${pod.restarts} `, "m"));
        }
    });

    it("rolls a crash-looping v3 back automatically at the first step, never restarting pods 0-3", async () => {
        // A release whose nginx cannot start: it crash-loops and never becomes Ready.
        const broken = await pushTestImage("v3", 'FROM BASE\nCMD ["nginx", "-g", "daemon off; no_such_directive on;"]\n');
        await setConfig(stack, { pinnedImages: [`v3=${broken}`] });
        const before = await pods();
        const result = await cli(["--json", "promote", "--image-tag", "v3", "--plan", "4,3,1,0"]);
        const json = JSON.parse(result.stdout);
        showTimeline(json);
        log(`detected and rolled back in ${result.seconds.toFixed(1)}s`);
        assert.strictEqual(result.code, 3, `expected exit 3 (rolled back): ${result.stderr}`);
        const events = json.timeline.map((e: { event: string }) => e.event);
        assert.ok(events.includes("rollback") && events.includes("rolled-back"), events.join(","));
        assert.ok(json.timeline.some((e: { event: string; message: string }) => e.event === "replace" && /^shop-4 was stuck/.test(e.message)),
            "the stuck pod was force-replaced");
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v2", "v2", "v2", "v2", "v2"]);
        assert.ok(now.every((p) => p.ready));
        for (const ordinal of [0, 1, 2, 3]) {
            assert.strictEqual(now[ordinal].uid, before[ordinal].uid, `pod ${ordinal} was restarted`);
            assert.strictEqual(now[ordinal].restarts, before[ordinal].restarts);
        }
        assert.strictEqual(await getConfigValue(stack, "imageTag"), "v2");
        assert.strictEqual(await getConfigValue(stack, "partition"), "0");
        assert.strictEqual(fs.existsSync(path.join(REPO_ROOT, ".sts-canary", STACK, "operation.json")), false);
    });

    it("rolls back a release that serves the wrong page (Ready, no restarts)", async () => {
        const wrong = await pushTestImage("v4", "FROM BASE\nCOPY index.html version.html /usr/share/nginx/html/\n",
            { "index.html": "<h1>This is V2</h1>\n", "version.html": "<h1>This is V2</h1>\n" });
        const current = JSON.parse((await stack.getConfig("sts-canary:pinnedImages")).value) as string[];
        await setConfig(stack, { pinnedImages: [...current, `v4=${wrong}`] });
        const before = await pods();
        const result = await cli(["--json", "step", "--image-tag", "v4", "--to", "4"]);
        const json = JSON.parse(result.stdout);
        showTimeline(json);
        assert.strictEqual(result.code, 3, result.stderr);
        const page = json.gates.find((g: { gate: string }) => g.gate === "page");
        assert.strictEqual(page.passed, false);
        assert.match(page.evidence.join(" "), /shop-4: HTTP 200 "<h1>This is V2<\/h1>" \(expected "This is V4"\)/);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v2", "v2", "v2", "v2", "v2"]);
        for (const ordinal of [0, 1, 2, 3]) assert.strictEqual(now[ordinal].uid, before[ordinal].uid);
    });

    it("explains an interrupted promotion and continues it", async () => {
        const timeline = path.join(REPO_ROOT, ".sts-canary", STACK, "timeline.jsonl");
        const linesBefore = fs.readFileSync(timeline, "utf8").split("\n").length;
        let pid = 0;
        const running = cli(["promote", "--image-tag", "v1", "--plan", "4,2,0", "--bake", "30"], { onSpawn: (p) => { pid = p; } });
        // Interrupt during the bake of the first step, like Ctrl-C.
        const operation = path.join(REPO_ROOT, ".sts-canary", STACK, "operation.json");
        await eventually("the first step to bake", 120_000, async () => {
            const fresh = fs.readFileSync(timeline, "utf8").split("\n").slice(linesBefore - 1);
            const baking = fs.existsSync(operation) && JSON.parse(fs.readFileSync(operation, "utf8")).phase === "baking";
            return baking && fresh.some((l) => l.includes('"event":"applied"')) ? true : undefined;
        });
        process.kill(pid, "SIGINT");
        const interrupted = await running;
        assert.strictEqual(interrupted.code, 130, interrupted.stdout + interrupted.stderr);

        const status = await cli(["status"]);
        log(status.stdout.split("\n").filter((l) => /note:|partition/.test(l)).join("\n      "));
        assert.match(status.stdout, /note: an interrupted promote .*v2 -> v1\) stopped while baking partition 4; run `sts-canary promote --plan 4,2,0` to continue/);

        const resumed = await cli(["--json", "promote", "--plan", "4,2,0", "--bake", "3"]);
        const json = JSON.parse(resumed.stdout);
        showTimeline(json);
        assert.strictEqual(resumed.code, 0, resumed.stderr);
        assert.ok(json.timeline.some((e: { event: string }) => e.event === "resume"));
        assert.deepStrictEqual(tags(await pods()), ["v1", "v1", "v1", "v1", "v1"]);
        const after = await cli(["status"]);
        assert.doesNotMatch(after.stdout, /interrupted/);
        assert.strictEqual((await stack.outputs()).stable.value, "v1");
    });
});
