import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { FAKE_DIGEST, byType, installMocks, liveVersions, registered, registeredUrns, unwrap } from "./mocks";
import type { StatefulSetCanary, StatefulSetCanaryArgs } from "../../components/canary";

const PASSWORD = "s3cr3t-Harbor-pw";
const BUILD_DIR = path.join(os.tmpdir(), "sts-canary-unit-build");

let canaryModule: typeof import("../../components/canary");

before(async () => {
    await installMocks();
    canaryModule = await import("../../components/canary");
});

/** Pods 0..replicas-1 all on `version`, as the mock rollout check sees them. */
function allOn(name: string, replicas: number, version: string): void {
    liveVersions[name] = { currentVersion: version, updateVersion: version, pods: Object.fromEntries([...Array(replicas).keys()].map((o) => [o, version])) };
}

/** Deploys a canary named `name` under mocks and waits for its outputs. */
async function deploy(name: string, args: Partial<StatefulSetCanaryArgs> = {}): Promise<StatefulSetCanary> {
    const canary = new canaryModule.StatefulSetCanary(name, {
        imageTag: "v1",
        partition: 0,
        registryServer: "127.0.0.1:5443",
        registryPassword: pulumi.secret(PASSWORD),
        appName: name,
        namespace: name,
        buildDirectory: BUILD_DIR,
        ...args,
    });
    await unwrap(canary.ordinalVersions);
    return canary;
}

function only<T>(items: T[], what: string): T {
    assert.strictEqual(items.length, 1, `expected exactly one ${what}, got ${items.length}`);
    return items[0];
}

describe("StatefulSetCanary resource graph", () => {
    let canary: StatefulSetCanary;
    before(async () => {
        allOn("graph", 5, "v1");
        canary = await deploy("graph", { imageTag: "v2", stableTag: "v1", partition: 3 });
    });

    it("registers the images, namespace, pull secret, two services and the StatefulSet", () => {
        const mine = registered.filter((r) => r.name.startsWith("graph"));
        const types = mine.map((r) => `${r.type} ${r.name}`).sort();
        assert.deepStrictEqual(types, [
            "docker:index/image:Image graph-v1-build",
            "docker:index/image:Image graph-v2-build",
            "kubernetes:apps/v1:StatefulSet graph-sts",
            "kubernetes:core/v1:Namespace graph-ns",
            "kubernetes:core/v1:Secret graph-pull",
            "kubernetes:core/v1:Service graph-headless",
            "kubernetes:core/v1:Service graph-nodeport",
            "pulumi-nodejs:dynamic/sts-canary:RolloutCheck graph-rollout",
            "sts-canary:index:AppImage graph-v1",
            "sts-canary:index:AppImage graph-v2",
            "sts-canary:index:CanaryWorkload graph",
            "sts-canary:index:StatefulSetCanary graph",
        ]);
    });

    it("parents every child to its component", () => {
        // The mock monitor's URNs carry "<parent type>$<type>", so each parent link is checked.
        const urns = registeredUrns().filter((urn) => urn.endsWith("::graph") || /::graph-/.test(urn));
        const typeOf = (name: string) => only(urns.filter((u) => u.endsWith(`::${name}`)), name).split("::")[2];
        const canary = "sts-canary:index:StatefulSetCanary";
        const workload = "sts-canary:index:CanaryWorkload";
        const expected: Record<string, string> = {
            "graph": canary,
            "graph-v1": `${canary}$sts-canary:index:AppImage`,
            "graph-v2": `${canary}$sts-canary:index:AppImage`,
            "graph-v1-build": "sts-canary:index:AppImage$docker:index/image:Image",
            "graph-v2-build": "sts-canary:index:AppImage$docker:index/image:Image",
            "graph-sts": `${workload}$kubernetes:apps/v1:StatefulSet`,
            "graph-ns": `${workload}$kubernetes:core/v1:Namespace`,
            "graph-pull": `${workload}$kubernetes:core/v1:Secret`,
            "graph-headless": `${workload}$kubernetes:core/v1:Service`,
            "graph-nodeport": `${workload}$kubernetes:core/v1:Service`,
            "graph-rollout": `${canary}$pulumi-nodejs:dynamic/sts-canary:RolloutCheck`,
        };
        assert.strictEqual(only(urns.filter((u) => u.endsWith("::graph") && u.includes(workload)), "workload").split("::")[2],
            `${canary}$${workload}`);
        for (const [name, type] of Object.entries(expected)) {
            if (name === "graph") continue;
            assert.strictEqual(typeOf(name), type, name);
        }
        assert.strictEqual(urns.length, 12);
    });

    it("wires partition, replicas, names and the pinned canary image into the StatefulSet", () => {
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "graph"), "StatefulSet").inputs;
        assert.strictEqual(sts.metadata.name, "graph");
        assert.strictEqual(sts.metadata.namespace, "graph");
        assert.strictEqual(sts.spec.replicas, 5);
        assert.strictEqual(sts.spec.serviceName, "graph-headless");
        assert.strictEqual(sts.spec.podManagementPolicy, "OrderedReady");
        assert.deepStrictEqual(sts.spec.updateStrategy, { type: "RollingUpdate", rollingUpdate: { partition: 3 } });
        const container = sts.spec.template.spec.containers[0];
        assert.strictEqual(container.image, `127.0.0.1:5443/library/version-test:v2@${FAKE_DIGEST("v2")}`);
        assert.deepStrictEqual(container.readinessProbe.httpGet, { path: "/version.html", port: "web" });
        assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
        assert.strictEqual(sts.spec.template.metadata.labels["app.kubernetes.io/version"], "v2");
        assert.deepStrictEqual(sts.spec.selector.matchLabels, { "app.kubernetes.io/name": "graph", "app.kubernetes.io/instance": "graph" });
    });

    it("leaves the wait to the rollout check: skipAwait on the StatefulSet, no waitFor", () => {
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "graph"), "StatefulSet").inputs;
        assert.deepStrictEqual(sts.metadata.annotations, { "pulumi.com/skipAwait": "true" });
    });

    it("checks the step with the StatefulSet's generation, the canary image and the gates", () => {
        const check = only(byType("pulumi-nodejs:dynamic/sts-canary:RolloutCheck", "graph"), "RolloutCheck");
        const { inputs } = check;
        assert.strictEqual(inputs.namespace, "graph");
        assert.strictEqual(inputs.name, "graph");
        assert.strictEqual(inputs.replicas, 5);
        assert.strictEqual(inputs.partition, 3);
        assert.strictEqual(inputs.version, "v2");
        assert.strictEqual(inputs.image, `127.0.0.1:5443/library/version-test:v2@${FAKE_DIGEST("v2")}`);
        assert.strictEqual(inputs.container, "nginx");
        assert.strictEqual(inputs.readyTimeoutSeconds, 120);
        assert.strictEqual(inputs.rolloutTimeoutSeconds, 600);
        assert.strictEqual(inputs.replaceStuckPods, true);
        assert.strictEqual(inputs.expectedStableVersion, "v1");
        assert.deepStrictEqual(inputs.gates, {
            bakeSeconds: 0, maxRestarts: 0,
            http: { port: 80, path: "/version.html", expectStatus: 200, bodyPattern: "This is V2" },
        });
        // The cluster access (which may hold a kubeconfig) is sent only as a secret.
        assert.ok(check.secretPaths.includes("cluster"), JSON.stringify(check.secretPaths));
    });

    it("builds every version and exposes pinned references", async () => {
        const images = await unwrap(canary.images);
        assert.deepStrictEqual(images, {
            v1: `127.0.0.1:5443/library/version-test:v1@${FAKE_DIGEST("v1")}`,
            v2: `127.0.0.1:5443/library/version-test:v2@${FAKE_DIGEST("v2")}`,
        });
        const build = only(byType("docker:index/image:Image", "graph-v2"), "v2 image").inputs;
        assert.strictEqual(build.imageName, "127.0.0.1:5443/library/version-test:v2");
        assert.strictEqual(build.registry.server, "127.0.0.1:5443");
        assert.strictEqual(build.registry.username, "admin");
        assert.strictEqual(build.build.args.BASE_IMAGE, "nginx:latest");
        assert.strictEqual(build.build.context, path.join(BUILD_DIR, "v2"));
    });

    it("plans the version of every ordinal and the NodePort URL", async () => {
        assert.deepStrictEqual(await unwrap(canary.ordinalVersions), { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
        assert.strictEqual(await unwrap(canary.nodePortUrl), "http://127.0.0.1:30080/");
        assert.strictEqual(await unwrap(canary.stableVersion), "v1");
        assert.strictEqual(await unwrap(canary.step), "pods graph-3..graph-4: v1 -> v2; graph-0..graph-2 stay on v1");
    });

    it("sends the registry password only as a secret", () => {
        for (const version of ["v1", "v2"]) {
            const build = only(byType("docker:index/image:Image", `graph-${version}`), "image");
            assert.ok(build.secretPaths.some((p) => p === "registry" || p === "registry.password"), JSON.stringify(build.secretPaths));
        }
        const secret = only(byType("kubernetes:core/v1:Secret", "graph"), "Secret");
        assert.ok(secret.secretPaths.some((p) => p === "stringData" || p === "stringData..dockerconfigjson"), JSON.stringify(secret.secretPaths));
        for (const r of registered.filter((x) => x.name.startsWith("graph"))) {
            const plain = JSON.stringify(r.inputs);
            if (!plain.includes(PASSWORD)) continue;
            assert.ok(r.secretPaths.length > 0, `${r.name} carries the password outside a secret`);
        }
    });

    it("wires the pull secret from the registry credentials and references it from the pods", () => {
        const secret = only(byType("kubernetes:core/v1:Secret", "graph"), "Secret").inputs;
        assert.strictEqual(secret.type, "kubernetes.io/dockerconfigjson");
        const config = JSON.parse(secret.stringData[".dockerconfigjson"]);
        assert.deepStrictEqual(config.auths["127.0.0.1:5443"], {
            username: "admin", password: PASSWORD, auth: Buffer.from(`admin:${PASSWORD}`).toString("base64"),
        });
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "graph"), "StatefulSet").inputs;
        assert.deepStrictEqual(sts.spec.template.spec.imagePullSecrets, [{ name: secret.metadata.name }]);
    });

    it("exposes the app on a NodePort and governs pods with a headless Service", () => {
        const services = byType("kubernetes:core/v1:Service", "graph").map((s) => s.inputs);
        const nodePort = only(services.filter((s) => s.spec.type === "NodePort"), "NodePort Service");
        assert.strictEqual(nodePort.metadata.name, "graph");
        assert.deepStrictEqual(nodePort.spec.ports, [{ name: "web", port: 80, targetPort: "web", nodePort: 30080 }]);
        const headless = only(services.filter((s) => s.spec.clusterIP === "None"), "headless Service");
        assert.strictEqual(headless.metadata.name, "graph-headless");
    });
});

describe("StatefulSetCanary step wiring per (replicas, partition)", () => {
    const cases: [number, number, string, string, number][] = [
        // replicas, partition, imageTag, version running now, pods on imageTag after the step
        [5, 0, "v1", "v1", 5],
        [5, 4, "v2", "v1", 1],
        [5, 1, "v2", "v1", 4],
        [3, 2, "v2", "v1", 1],
        [7, 0, "v2", "v1", 7],
        [5, 3, "v1", "v1", 5],
    ];
    cases.forEach(([replicas, partition, imageTag, running, onTemplate], index) => {
        it(`replicas=${replicas} partition=${partition} ${running}->${imageTag}`, async () => {
            const name = `wait${index}`;
            allOn(name, replicas, running);
            const canary = await deploy(name, { replicas, partition, imageTag });
            const sts = only(byType("kubernetes:apps/v1:StatefulSet", `${name}-`), "StatefulSet").inputs;
            assert.strictEqual(sts.spec.replicas, replicas);
            assert.strictEqual(sts.spec.updateStrategy.rollingUpdate.partition, partition);
            assert.ok(sts.spec.template.spec.containers[0].image.includes(`:${imageTag}@sha256:`));
            const check = only(byType("pulumi-nodejs:dynamic/sts-canary:RolloutCheck", `${name}-`), "RolloutCheck").inputs;
            assert.deepStrictEqual([check.replicas, check.partition, check.version], [replicas, partition, imageTag]);
            const plan = await unwrap(canary.ordinalVersions);
            assert.strictEqual(Object.keys(plan).length, replicas);
            assert.strictEqual(Object.values(plan).filter((v) => v === imageTag).length, onTemplate);
        });
    });
});

describe("StatefulSetCanary with the docker-cli builder", () => {
    it("uses the dynamic Docker CLI image resource and still pins digests", async () => {
        const canary = await deploy("cli", { imageBuilder: "docker-cli", baseImage: "sts-canary/nginx-base:local" });
        const builds = byType("pulumi-nodejs:dynamic/sts-canary:DockerCliImage", "cli-");
        assert.deepStrictEqual(builds.map((b) => b.name).sort(), ["cli-v1-build", "cli-v2-build"]);
        const v1 = only(builds.filter((b) => b.name === "cli-v1-build"), "v1 build").inputs;
        assert.strictEqual(v1.imageName, "127.0.0.1:5443/library/version-test:v1");
        assert.strictEqual(v1.buildArgs.BASE_IMAGE, "sts-canary/nginx-base:local");
        assert.strictEqual(v1.files["version.html"], "<h1>This is V1</h1>\n");
        assert.match(v1.contextHash, /^[a-f0-9]{64}$/);
        assert.ok(only(builds.filter((b) => b.name === "cli-v1-build"), "v1 build").secretPaths.includes("registryPassword"));
        assert.strictEqual(byType("docker:index/image:Image", "cli-").length, 0);
        assert.strictEqual((await unwrap(canary.images)).v1, `127.0.0.1:5443/library/version-test:v1@${FAKE_DIGEST("v1")}`);
    });
});

describe("StatefulSetCanary pod scheduling", () => {
    it("passes nodeSelector and tolerations to the pod template", async () => {
        await deploy("sched", { nodeSelector: { type: "kwok" }, tolerations: ["kwok.x-k8s.io/node=fake:NoSchedule"] });
        const spec = only(byType("kubernetes:apps/v1:StatefulSet", "sched-"), "StatefulSet").inputs.spec.template.spec;
        assert.deepStrictEqual(spec.nodeSelector, { type: "kwok" });
        assert.deepStrictEqual(spec.tolerations, [{ key: "kwok.x-k8s.io/node", operator: "Equal", value: "fake", effect: "NoSchedule" }]);
    });
});

describe("StatefulSetCanary with a pinned (externally built) version", () => {
    it("deploys the given digest and builds nothing for it", async () => {
        const ref = `127.0.0.1:5443/library/version-test:v3@sha256:${"d".repeat(64)}`;
        allOn("pin", 5, "v1");
        const canary = await deploy("pin", { pinnedImages: { v3: ref }, imageTag: "v3", stableTag: "v1", partition: 4 });
        assert.deepStrictEqual(byType("sts-canary:index:AppImage", "pin-").map((r) => r.name).sort(), ["pin-v1", "pin-v2"]);
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "pin-"), "StatefulSet").inputs;
        assert.strictEqual(sts.spec.template.spec.containers[0].image, ref);
        assert.strictEqual((await unwrap(canary.images)).v3, ref);
        assert.deepStrictEqual(await unwrap(canary.ordinalVersions), { 0: "v1", 1: "v1", 2: "v1", 3: "v1", 4: "v3" });
    });
});

describe("StatefulSetCanary with a version that is both listed and pinned", () => {
    it("deploys the pinned digest and does not rebuild that version", async () => {
        const ref = `127.0.0.1:5443/library/version-test:v2@sha256:${"f".repeat(64)}`;
        const canary = await deploy("both", { pinnedImages: { v2: ref }, imageTag: "v2", stableTag: "v2", partition: 0 });
        assert.deepStrictEqual(byType("sts-canary:index:AppImage", "both-").map((r) => r.name), ["both-v1"]);
        assert.strictEqual((await unwrap(canary.images)).v2, ref);
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "both-"), "StatefulSet").inputs;
        assert.strictEqual(sts.spec.template.spec.containers[0].image, ref);
    });
});

describe("StatefulSetCanary keeps the registry password secret", () => {
    let canary: StatefulSetCanary;
    before(async () => { canary = await deploy("sec", { imageTag: "v2", partition: 3, stableTag: "v1" }); });

    it("never puts the password in a plain component output", async () => {
        const outputs = {
            images: canary.images, namespace: canary.namespace, statefulSetName: canary.statefulSetName,
            serviceName: canary.serviceName, nodePortUrl: canary.nodePortUrl, ordinalVersions: canary.ordinalVersions,
            stableVersion: canary.stableVersion, step: canary.step,
        };
        for (const [name, output] of Object.entries(outputs)) {
            const value = JSON.stringify(await unwrap(output as pulumi.Output<unknown>));
            assert.ok(!value.includes(PASSWORD), `${name} leaks the password`);
            const encoded = Buffer.from(`admin:${PASSWORD}`).toString("base64");
            assert.ok(!value.includes(encoded), `${name} leaks the encoded credentials`);
        }
    });
});

describe("StatefulSetCanary rejects invalid args before creating anything", () => {
    const cases: [string, Partial<StatefulSetCanaryArgs>, RegExp][] = [
        ["partition above replicas", { partition: 9 }, /partition: 9 is out of range; allowed 0\.\.5/],
        ["latest tag", { imageTag: "latest" }, /imageTag: "latest" is a mutable tag/],
        ["bad registry", { registryServer: "https://x" }, /registryServer: "https:\/\/x" is not a registry address/],
    ];
    cases.forEach(([name, args, message], index) => {
        it(name, async () => {
            const prefix = `bad${index}`;
            const before = registered.length;
            const errors: Error[] = [];
            const handler = (err: Error) => errors.push(err);
            process.on("unhandledRejection", handler);
            try {
                const canary = new canaryModule.StatefulSetCanary(prefix, {
                    imageTag: "v1", partition: 0, registryServer: "127.0.0.1:5443", registryPassword: pulumi.secret(PASSWORD),
                    appName: prefix, buildDirectory: BUILD_DIR, ...args,
                });
                await assert.rejects(
                    new Promise((resolve, reject) => {
                        // The validated settings feed every child; their failure surfaces on the outputs.
                        (canary.nodePortUrl as unknown as { promise(): Promise<unknown> }).promise().then(resolve, reject);
                    }),
                    message,
                );
                await new Promise((r) => setTimeout(r, 200));
            } finally {
                process.off("unhandledRejection", handler);
            }
            const created = registered.slice(before).filter((r) => r.custom);
            assert.deepStrictEqual(created.map((r) => r.name), []);
        });
    });
});
