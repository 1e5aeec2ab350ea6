/**
 * The component package from another language (Pulumi YAML, examples/yaml): a pod spec of the
 * program's own reaches the pods, a broken canary fails `up` fast with its cause, a plain config
 * revert recovers, and the schema `pulumi package get-schema` infers stays usable.
 */
import * as assert from "assert";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { REPO_ROOT, deleteNamespaces, loadPlatformEnv, pushTestImage, run } from "./platform";

const NAMESPACE = "e2e-yaml-check";
const WORK_DIR = path.join(REPO_ROOT, "examples", "yaml");
const PROJECT = "sts-canary-yaml";
const log = (line: string) => console.log(`      ${line}`);

interface PodJson { metadata: { name: string; uid: string }; spec: { containers: any[] }; status: { containerStatuses?: { restartCount: number; ready: boolean }[] } }

async function pods(): Promise<PodJson[]> {
    const list = JSON.parse(await run("kubectl", ["get", "pods", "-n", NAMESPACE, "-o", "json"])) as { items: PodJson[] };
    return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}
const versions = (list: PodJson[]) => list.map((p) => /:(v\d+)@sha256:/.exec(p.spec.containers[0].image)?.[1]);

describe("the component package from a Pulumi YAML program (pod spec, fail-fast, plain revert)", function () {
    let stack: Stack;
    let env: Record<string, string>;
    const images: Record<string, unknown> = {};

    /** Sets project config (objects as structured values, like `pulumi config set --path`). */
    async function configure(values: Record<string, unknown>): Promise<void> {
        const config: Record<string, { value: string; objectValue?: unknown; secret: boolean }> = {};
        for (const [key, value] of Object.entries(values)) {
            const full = key.includes(":") ? key : `${PROJECT}:${key}`;
            config[full] = typeof value === "object"
                ? { value: JSON.stringify(value), objectValue: value, secret: false }
                : { value: String(value), secret: key === "registryPassword" || key === "pullPassword" };
        }
        await stack.setAllConfigJson(JSON.stringify(config));
    }

    before(async function () {
        env = loadPlatformEnv();
        stack = await LocalWorkspace.createOrSelectStack({ stackName: "e2e-yaml-check", workDir: WORK_DIR }, { envVars: env });
        images.v1 = { versionPage: { baseImage: env.STS_CANARY_BASE_IMAGE } };
        images.v2 = { versionPage: { baseImage: env.STS_CANARY_BASE_IMAGE } };
        await configure({
            registryServer: env.STS_CANARY_REGISTRY, registryPassword: env.STS_CANARY_REGISTRY_PASSWORD, imageBuilder: "docker-cli",
            pullUsername: env.STS_CANARY_PULL_USER, pullPassword: env.STS_CANARY_PULL_PASSWORD,
            namespace: NAMESPACE, nodePort: 30096, greeting: "hello from the e2e", readyTimeoutSeconds: 60, imageTag: "v1", partition: 0,
            images, "kubernetes:kubeconfig": env.KUBECONFIG,
        });
        await stack.destroy({ color: "never" });
        await deleteNamespaces(NAMESPACE);
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(stack.name);
        await deleteNamespaces(NAMESPACE);
    });

    it("deploys with the program's own pod spec: env var and readiness probe on every pod", async () => {
        const result = await stack.up({ color: "never" });
        assert.strictEqual(result.summary.result, "succeeded");
        const now = await pods();
        assert.deepStrictEqual(versions(now), ["v1", "v1", "v1"]);
        for (const pod of now) {
            const container = pod.spec.containers[0];
            assert.deepStrictEqual(container.env, [{ name: "GREETING", value: "hello from the e2e" }]);
            assert.deepStrictEqual([container.readinessProbe.httpGet.path, container.readinessProbe.periodSeconds], ["/version.html", 3]);
        }
        const greeting = await run("kubectl", ["exec", "-n", NAMESPACE, "web-0", "--", "printenv", "GREETING"]);
        assert.strictEqual(greeting.trim(), "hello from the e2e");
        const outputs = await stack.outputs();
        assert.strictEqual(outputs.stsCanary.value.statefulSetName, "web");
        assert.strictEqual(outputs.stable.value, "v1");
    });

    it("moves a canary with plain config", async () => {
        await configure({ imageTag: "v2", partition: 2 });
        await stack.up({ color: "never" });
        assert.deepStrictEqual(versions(await pods()), ["v1", "v1", "v2"]);
        assert.deepStrictEqual((await stack.outputs()).ordinalVersions.value, { 0: "v1", 1: "v1", 2: "v2" });
    });

    it("fails fast on a crash-looping canary, naming the pod and the reason", async () => {
        const broken = await pushTestImage("v3", 'FROM BASE\nCMD ["nginx", "-g", "daemon off; no_such_directive on;"]\n');
        images.v3 = { ref: broken };
        await configure({ images, imageTag: "v3", partition: 2 });
        const started = Date.now();
        const error = await stack.up({ color: "never" }).then(() => undefined, (err: Error) => err);
        const seconds = (Date.now() - started) / 1000;
        log(`YAML broken canary: up failed after ${seconds.toFixed(1)}s`);
        assert.ok(error, "up succeeded");
        assert.ok(seconds < 60 + 30, `took ${seconds}s`);
        assert.match(String(error.message), /rollout of StatefulSet e2e-yaml-check\/web failed: pod web-2 \(ordinal 2, revision web-[a-z0-9]+, image [^,]+:v3@sha256:[a-f0-9]{64}, \d+ restart\(s\)\): (CrashLoopBackOff|not Ready after 60s)/);
    });

    it("recovers by a plain config revert, replacing only the stuck pod", async () => {
        const before = await pods();
        await configure({ imageTag: "v2", partition: 2 });
        const started = Date.now();
        await stack.up({ color: "never" });
        log(`YAML plain revert: up succeeded in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        const now = await pods();
        assert.deepStrictEqual(versions(now), ["v1", "v1", "v2"]);
        assert.notStrictEqual(now[2].metadata.uid, before[2].metadata.uid, "web-2 was replaced");
        assert.deepStrictEqual(now.slice(0, 2).map((p) => p.metadata.uid), before.slice(0, 2).map((p) => p.metadata.uid));
        assert.match(String((await stack.outputs()).rolloutSummary.value), /replaced stuck pod\(s\) web-2/);
    });

    it("keeps an inferred schema other languages can use", async () => {
        const schema = JSON.parse(await run("pulumi", ["package", "get-schema", path.join(REPO_ROOT, "components")], 300_000));
        const canary = schema.resources["sts-canary:index:StatefulSetCanary"];
        assert.ok(canary.isComponent);
        for (const input of ["version", "partition", "replicas", "images", "podSpec", "volumeClaimTemplates", "service", "gates", "cluster"]) {
            assert.ok(canary.inputProperties[input], `input ${input}`);
        }
        assert.deepStrictEqual([...canary.requiredInputs].sort(), ["images", "namespace", "partition", "podSpec", "replicas", "version"]);
        for (const output of ["ordinalVersions", "stableVersion", "step", "contract", "images"]) assert.ok(canary.properties[output], `output ${output}`);
        assert.ok(schema.types["sts-canary:index:ImageSourceArgs"].properties.build);
    });
});
