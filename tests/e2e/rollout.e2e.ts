/**
 * The rollout check inside plain `pulumi up` (no tool), on the local platform: every transition
 * of a partitioned StatefulSet ends exactly when Kubernetes is done, a broken canary fails fast
 * naming the pod and its cause, a plain config revert recovers (the stuck pod is replaced), gates
 * judge a Ready but wrong release, and the preview states the step in words.
 */
import * as assert from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { PodInfo, getPods, kubectl, tagOf } from "./kubectl";
import { setConfig, timedUp, failingUp as failingUpOf } from "./stack";
import { deleteNamespaces, eventually, localStack, pushTestImage } from "./platform";

const STACK = "e2e-rollout";
const NAMESPACE = "e2e-rollout";
const APP = "web";
const READY_TIMEOUT = 60;
const log = (line: string) => console.log(`      ${line}`);

describe("pulumi up is the safe canary (rollout check, no tool)", function () {
    let stack: Stack;
    const pods = () => getPods(NAMESPACE, APP);
    const tags = (list: PodInfo[]) => list.map((p) => tagOf(p.image));
    const outputs = async () => Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
    const uidsAndRestarts = (list: PodInfo[], ordinals: number[]) => ordinals.map((o) => {
        const pod = list.find((p) => p.ordinal === o);
        return `${pod?.name} ${pod?.uid} ${pod?.restarts}`;
    });

    async function up(settings: Record<string, string | string[]>, what: string): Promise<number> {
        await setConfig(stack, settings);
        const { result, seconds } = await timedUp(stack);
        log(`${what}: pulumi up ${result.summary.result} in ${seconds.toFixed(1)}s`);
        return seconds;
    }

    const failingUp = (settings: Record<string, string | string[]>, what: string) => failingUpOf(stack, settings, what, log);

    before(async function () {
        stack = await localStack(STACK, {
            namespace: NAMESPACE, appName: APP, nodePort: "30092", replicas: "5", versions: ["v1", "v2"], pinnedImages: [],
            imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "300", readyTimeoutSeconds: String(READY_TIMEOUT),
        });
        await stack.destroy({ color: "never" });
        await deleteNamespaces(NAMESPACE);
        await up({}, "v1 on 5 pods");
        assert.deepStrictEqual(tags(await pods()), ["v1", "v1", "v1", "v1", "v1"]);
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
        await deleteNamespaces(NAMESPACE);
    });

    it("states the step in words in `pulumi preview --diff`", async () => {
        await setConfig(stack, { imageTag: "v2", partition: "4" });
        const preview = await stack.preview({ diff: true, color: "never" });
        assert.match(preview.stdout, /step\s*: ".*" => "pods web-4: v1 -> v2; web-0\.\.web-3 stay on v1"/);
    });

    it("returns when the canary pod runs v2 and every pod is Ready", async () => {
        const seconds = await up({ imageTag: "v2", partition: "4" }, "canary v2 on ordinal 4");
        assert.ok(seconds < 120, `took ${seconds}s`);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v1", "v2"]);
        assert.ok(now.every((p) => p.ready));
        const out = await outputs();
        assert.strictEqual(out.stable, "v1");
        assert.deepStrictEqual(out.ordinalVersions, { 0: "v1", 1: "v1", 2: "v1", 3: "v1", 4: "v2" });
    });

    it("fails fast on a crash-looping canary, naming the pod, its revision, image, reason, restarts, events and log", async () => {
        const broken = await pushTestImage("v3", 'FROM BASE\nCMD ["nginx", "-g", "daemon off; no_such_directive on;"]\n');
        const { message, seconds } = await failingUp({ pinnedImages: [`v3=${broken}`], imageTag: "v3", partition: "3" }, "broken v3 at partition 3");
        const diagnostics = message.slice(message.indexOf("Diagnostics:"), message.indexOf("Outputs:"));
        log(diagnostics.split("\n").filter((l) => /failed: pod|hint|BackOff|emerg/.test(l)).map((l) => l.trim()).join("\n      "));
        assert.ok(seconds < READY_TIMEOUT + 30, `failed after ${seconds}s; the bound is readyTimeoutSeconds + 30 s`);
        assert.match(message, /rollout of StatefulSet e2e-rollout\/web failed: pod web-4 \(ordinal 4, revision web-[a-z0-9]+, image 127\.0\.0\.1:5443\/library\/version-test:v3@sha256:[a-f0-9]{64}, \d+ restart\(s\)\): (CrashLoopBackOff|not Ready after)/);
        const events = message.slice(message.indexOf("last warning events of web-4:"));
        assert.ok(events.length > 0 && /^\s+BackOff: Back-off restarting failed container nginx/m.test(events), "the BackOff event is listed");
        assert.match(message, /last log lines of container nginx/);
        assert.match(message, /unknown directive "no_such_directive"/);
        // The broken pod is still there: the cluster shows what the error said.
        assert.deepStrictEqual(tags(await pods()), ["v1", "v1", "v1", "v1", "v3"]);
    });

    it("recovers by a plain config revert: the stuck pod is replaced, the others keep their UIDs and restarts", async () => {
        const before = await pods();
        const seconds = await up({ imageTag: "v2", partition: "4" }, "plain revert to v2 at partition 4");
        assert.ok(seconds < 120, `took ${seconds}s`);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v1", "v2"]);
        assert.ok(now.every((p) => p.ready));
        assert.notStrictEqual(now[4].uid, before[4].uid, "web-4 was replaced");
        assert.deepStrictEqual(uidsAndRestarts(now, [0, 1, 2, 3]), uidsAndRestarts(before, [0, 1, 2, 3]));
        assert.match((await outputs()).rolloutSummary, /replaced stuck pod\(s\) web-4/);
    });

    it("raising the partition returns at once and says which pods stay on the new version", async () => {
        await up({ partition: "2" }, "canary on ordinals 2..4");
        const before = await pods();
        assert.deepStrictEqual(tags(before), ["v1", "v1", "v2", "v2", "v2"]);
        const seconds = await up({ partition: "4" }, "partition raised from 2 to 4");
        assert.ok(seconds < 30, `took ${seconds}s`);
        assert.deepStrictEqual(uidsAndRestarts(await pods(), [0, 1, 2, 3, 4]), uidsAndRestarts(before, [0, 1, 2, 3, 4]), "no pod moved");
        assert.match((await outputs()).rolloutSummary, /web-2\.\.web-3 stay on v2 below the partition \(raising it does not move pods back\)/);
    });

    it("scales up and down mid-canary", async () => {
        await up({ replicas: "7" }, "scale 5 -> 7 at partition 4");
        let now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v2", "v2", "v2", "v2", "v2"]);
        assert.ok(now.every((p) => p.ready));
        await up({ replicas: "5" }, "scale 7 -> 5 at partition 4");
        now = await pods();
        assert.deepStrictEqual(now.map((p) => p.name), ["web-0", "web-1", "web-2", "web-3", "web-4"]);
        assert.deepStrictEqual((await outputs()).ordinalVersions, { 0: "v1", 1: "v1", 2: "v2", 3: "v2", 4: "v2" });
    });

    it("reverts the template: every pod at or above the partition goes back, pods below stay untouched", async () => {
        const before = await pods();
        await up({ imageTag: "v1", partition: "3" }, "template reverted to v1 at partition 3");
        const now = await pods();
        // web-2 is below the partition: it stays on v2 (only a lower partition moves it).
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v2", "v1", "v1"]);
        assert.deepStrictEqual(uidsAndRestarts(now, [0, 1, 2]), uidsAndRestarts(before, [0, 1, 2]));
        await up({ partition: "0" }, "v1 everywhere");
        assert.deepStrictEqual(tags(await pods()), ["v1", "v1", "v1", "v1", "v1"]);
        assert.strictEqual((await outputs()).stable, "v1");
    });

    it("stages a template at partition == replicas without moving a pod", async () => {
        const before = await pods();
        const seconds = await up({ imageTag: "v2", partition: "5" }, "v2 staged at partition 5");
        assert.ok(seconds < 30, `took ${seconds}s`);
        assert.deepStrictEqual(uidsAndRestarts(await pods(), [0, 1, 2, 3, 4]), uidsAndRestarts(before, [0, 1, 2, 3, 4]));
        assert.deepStrictEqual((await outputs()).ordinalVersions, { 0: "v1", 1: "v1", 2: "v1", 3: "v1", 4: "v1" });
    });

    it("does not fail a step when a pod below the partition is deleted during it", async () => {
        await setConfig(stack, { partition: "3" });
        const running = timedUp(stack);
        // Delete web-0 (below the partition) while the controller moves web-4 and web-3.
        await eventually("the step to start moving web-4", 60_000, async () => {
            const now = await pods();
            return now.find((p) => p.ordinal === 4 && tagOf(p.image) === "v2") ? true : undefined;
        });
        await kubectl(["delete", "pod", `${APP}-0`, "-n", NAMESPACE, "--wait=false"]);
        const { result, seconds } = await running;
        log(`partition 3 with web-0 deleted during the step: ${result.summary.result} in ${seconds.toFixed(1)}s`);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v2", "v2"], "web-0 came back on the current revision");
        assert.ok(now.every((p) => p.ready));
    });

    it("fails a Ready release that serves the wrong page, and a plain revert recovers", async () => {
        const wrong = await pushTestImage("v4", "FROM BASE\nCOPY index.html version.html /usr/share/nginx/html/\n",
            { "index.html": "<h1>This is V2</h1>\n", "version.html": "<h1>This is V2</h1>\n" });
        const current = JSON.parse((await stack.getConfig("sts-canary:pinnedImages")).value) as string[];
        const { message } = await failingUp({ pinnedImages: [...current, `v4=${wrong}`], imageTag: "v4", partition: "4" }, "v4 (wrong page) at partition 4");
        assert.match(message, /failed its gates:\s+gate http failed: web-4 \/version\.html: HTTP 200 "<h1>This is V2<\/h1>" \(expected HTTP 200 matching \/This is V4\/\)/);
        await up({ imageTag: "v2", partition: "3" }, "revert to v2 at partition 3");
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v2", "v2"]);
        assert.ok(now.every((p) => p.ready));
    });
});
