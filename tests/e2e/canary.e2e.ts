/**
 * The canary flow of the seed, end to end, on the local platform (real Pulumi engine with a file
 * backend, real registry with auth and TLS, real kube-apiserver, StatefulSet controller, kubelet):
 * every step is `pulumi config set ...` + `pulumi up` through the Automation API.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { PodInfo, getPods, getStatefulSet, kubectl, tagOf } from "./kubectl";
import { setConfig, timedUp } from "./stack";
import { sampleTraffic } from "./traffic";
import { REPO_ROOT, deleteNamespaces, eventually, localStack, registryManifestPushes, run } from "./platform";

const STACK = "e2e-canary";
const NAMESPACE = "e2e-canary";
const APP = "web";
const NODE_PORT = 30090;
const URL = `http://127.0.0.1:${NODE_PORT}/version.html`;
const log = (line: string) => console.log(`      ${line}`);

describe("canary of a StatefulSet on the local platform", function () {
    let stack: Stack;
    let v1Pods: PodInfo[] = [];

    const pods = () => getPods(NAMESPACE, APP);
    const tags = (list: PodInfo[]) => list.map((p) => tagOf(p.image));
    const outputs = async () => Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));

    async function up(settings: Record<string, string | string[]>, what: string): Promise<number> {
        await setConfig(stack, settings);
        const { result, seconds } = await timedUp(stack);
        log(`${what}: pulumi up ${result.summary.result} in ${seconds.toFixed(1)}s ${JSON.stringify(result.summary.resourceChanges)}`);
        return seconds;
    }

    before(async function () {
        stack = await localStack(STACK, {
            namespace: NAMESPACE, appName: APP, nodePort: String(NODE_PORT), replicas: "5",
            versions: ["v1", "v2"], imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "300",
        });
        // A previous run that died half-way leaves resources behind: start from nothing.
        await stack.destroy({ color: "never" });
        await deleteNamespaces(NAMESPACE);
    });

    after(async function () {
        if (!stack) return;
        if (process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
        await deleteNamespaces(NAMESPACE);
    });

    it("rolls out v1 to 5 replicas", async () => {
        await up({ imageTag: "v1", partition: "0" }, "v1 rollout");
        v1Pods = await pods();
        assert.deepStrictEqual(v1Pods.map((p) => p.name), [0, 1, 2, 3, 4].map((i) => `${APP}-${i}`));
        assert.deepStrictEqual(tags(v1Pods), ["v1", "v1", "v1", "v1", "v1"]);
        assert.ok(v1Pods.every((p) => p.ready), "every pod Ready when up returned");
        const out = await outputs();
        assert.ok(v1Pods.every((p) => p.image === out.images.v1), "pods run the pinned digest of the pushed v1");
        assert.match(out.images.v1, /^127\.0\.0\.1:5443\/library\/version-test:v1@sha256:[a-f0-9]{64}$/);
        const sample = await sampleTraffic(URL, 20);
        assert.deepStrictEqual(sample.versions, { V1: 20 });
    });

    it("moves a v2 canary onto ordinals 3 and 4 with partition 3, and up returns promptly", async () => {
        const seconds = await up({ imageTag: "v2", partition: "3" }, "canary v2 partition 3");
        // The default await would wait out its 10-minute timeout here; ours returns when 2 pods run v2.
        assert.ok(seconds < 180, `up took ${seconds}s`);
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v2", "v2"]);
        assert.ok(now.every((p) => p.ready));
        for (const ordinal of [0, 1, 2]) assert.strictEqual(now[ordinal].uid, v1Pods[ordinal].uid, `pod ${ordinal} was restarted`);
        // The seed's check, verbatim.
        const images = await kubectl(["get", "pods", "-n", NAMESPACE, "-o", "jsonpath={range .items[*]}{.metadata.name} {.spec.containers[*].image}{\"\\n\"}{end}"]);
        log(images.trim().split("\n").join("\n      "));
        const out = await outputs();
        assert.deepStrictEqual(out.ordinalVersions, { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
        assert.strictEqual(out.stable, "v1");
        const sts = await getStatefulSet(NAMESPACE, APP);
        assert.strictEqual(sts?.partition, 3);
        assert.strictEqual(sts?.updatedReplicas, 2);
        assert.notStrictEqual(sts?.currentRevision, sts?.updateRevision, "rollout is partitioned, not complete");
    });

    it("splits NodePort traffic between V1 and V2", async () => {
        const sample = await sampleTraffic(URL, 100);
        log(`100 requests: ${JSON.stringify(sample.versions)}, errors ${sample.errors}`);
        assert.strictEqual(sample.errors, 0, sample.errorSamples.join("; "));
        assert.strictEqual((sample.versions.V1 ?? 0) + (sample.versions.V2 ?? 0), 100);
        assert.ok((sample.versions.V1 ?? 0) > 0 && (sample.versions.V2 ?? 0) > 0, "both versions answered");
    });

    it("neither rebuilds nor re-pushes images on a no-op up", async () => {
        const pushesBefore = await registryManifestPushes();
        const imagesBefore = (await outputs()).images;
        const { result, seconds } = await timedUp(stack);
        log(`no-op up in ${seconds.toFixed(1)}s ${JSON.stringify(result.summary.resourceChanges)}`);
        // Nothing is read either: the stable version comes from the cluster, not a self-StackReference.
        assert.deepStrictEqual(Object.keys(result.summary.resourceChanges ?? {}), ["same"]);
        assert.strictEqual(await registryManifestPushes(), pushesBefore, "the registry saw a manifest push");
        assert.deepStrictEqual((await outputs()).images, imagesBefore);
    });

    it("rejects invalid config at preview and changes nothing", async () => {
        const before = await stack.exportStack();
        const stsBefore = await getStatefulSet(NAMESPACE, APP);
        for (const [key, value, message] of [
            ["partition", "9", /partition: 9 is out of range; allowed 0\.\.5/],
            ["imageTag", "latest", /imageTag: "latest" is a mutable tag and is never allowed/],
            ["nodePort", "36080", /nodePort: 36080 is out of range; allowed 30000\.\.32767/],
        ] as [string, string, RegExp][]) {
            const previous = (await stack.getConfig(`sts-canary:${key}`)).value;
            await setConfig(stack, { [key]: value });
            await assert.rejects(stack.preview({ color: "never" }), message);
            await assert.rejects(stack.up({ color: "never" }), message);
            await setConfig(stack, { [key]: previous });
        }
        const after = await stack.exportStack();
        assert.deepStrictEqual(after.deployment.resources, before.deployment.resources);
        assert.strictEqual((await getStatefulSet(NAMESPACE, APP))?.generation, stsBefore?.generation);
    });

    it("leaves the StatefulSet untouched when the registry is down", async () => {
        const stsBefore = await getStatefulSet(NAMESPACE, APP);
        const podsBefore = await pods();
        await run(path.join(REPO_ROOT, "platform/registry.sh"), ["stop"]);
        try {
            await setConfig(stack, { versions: ["v1", "v2", "v3"], imageTag: "v3" });
            await assert.rejects(timedUp(stack), /docker (login|push)|127\.0\.0\.1:5443/);
        } finally {
            await run(path.join(REPO_ROOT, "platform/registry.sh"), ["start"]);
            await setConfig(stack, { versions: ["v1", "v2"], imageTag: "v2" });
        }
        const stsAfter = await getStatefulSet(NAMESPACE, APP);
        assert.strictEqual(stsAfter?.generation, stsBefore?.generation);
        assert.strictEqual(stsAfter?.templateImage, stsBefore?.templateImage);
        assert.deepStrictEqual((await pods()).map((p) => p.uid), podsBefore.map((p) => p.uid));
        // The stack still converges once the registry is back.
        await up({}, "after registry outage");
    });

    it("rolls the canary back by reverting imageTag, never restarting pods 0-2", async () => {
        await up({ imageTag: "v1" }, "rollback to v1 at partition 3");
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v1", "v1"]);
        assert.ok(now.every((p) => p.ready));
        for (const ordinal of [0, 1, 2]) assert.strictEqual(now[ordinal].uid, v1Pods[ordinal].uid, `pod ${ordinal} was restarted`);
        const sts = await getStatefulSet(NAMESPACE, APP);
        assert.strictEqual(sts?.currentRevision, sts?.updateRevision);
        assert.deepStrictEqual((await sampleTraffic(URL, 20)).versions, { V1: 20 });
    });

    it("promotes v2 step by step to partition 0", async () => {
        await up({ imageTag: "v2", partition: "3" }, "canary v2 again");
        await up({ partition: "1" }, "partition 1");
        assert.deepStrictEqual(tags(await pods()), ["v1", "v2", "v2", "v2", "v2"]);
        await up({ partition: "0" }, "partition 0");
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v2", "v2", "v2", "v2", "v2"]);
        const sts = await eventually("currentRevision to catch up", 30_000, async () => {
            const s = await getStatefulSet(NAMESPACE, APP);
            return s && s.currentRevision === s.updateRevision ? s : undefined;
        });
        assert.strictEqual(sts.updatedReplicas, 5);
        assert.deepStrictEqual((await sampleTraffic(URL, 20)).versions, { V2: 20 });
        // Rolled out to every pod: v2 is now the stable version.
        assert.strictEqual((await outputs()).stable, "v2");
    });

    it("keeps the registry password out of plain state, stack config and outputs", async () => {
        const password = process.env.STS_CANARY_REGISTRY_PASSWORD ?? "";
        assert.ok(password.length > 0);
        // The checkpoint as stored by the file backend (exportStack would decrypt secrets).
        const backend = (process.env.PULUMI_BACKEND_URL ?? "").replace(/^file:\/\//, "");
        const state = fs.readFileSync(path.join(backend, ".pulumi", "stacks", "sts-canary", `${STACK}.json`), "utf8");
        assert.ok(state.includes("ciphertext"), "the state holds encrypted secrets");
        assert.ok(!state.includes(password), "password in plain text in the state");
        assert.ok(!state.includes(Buffer.from(`admin:${password}`).toString("base64")), "encoded credentials in the state");
        assert.ok(!fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`), "utf8").includes(password), "password in the stack file");
        const outputs = await stack.outputs();
        for (const [name, output] of Object.entries(outputs)) {
            assert.ok(output.secret || !JSON.stringify(output.value).includes(password), `output ${name} shows the password`);
        }
    });
});
