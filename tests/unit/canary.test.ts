import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { FAKE_DIGEST, byType, installMocks, liveVersions, projectDefaults, registered, registeredUrns, unwrap } from "./mocks";
import type { CanaryArgs } from "../../components/args";
import type { StatefulSetCanary } from "../../components/canary";
import { RawConfig, seedArgs as seedProgramArgs } from "../../program/config";

const PASSWORD = "s3cr3t-Harbor-pw";
const PULL_USER = "robot$library+puller";
const PULL_PASSWORD = "robot-t0ken";
const BUILD_DIR = path.join(os.tmpdir(), "sts-canary-unit-build");
const CHECK = "pulumi-nodejs:dynamic/sts-canary:RolloutCheck";

let canaryModule: typeof import("../../components/canary");

before(async () => {
    await installMocks();
    canaryModule = await import("../../components/canary");
});

/** Pods 0..replicas-1 all on `version`, as the mock rollout check sees them. */
function allOn(name: string, replicas: number, version: string): void {
    liveVersions[name] = { currentVersion: version, updateVersion: version, pods: Object.fromEntries([...Array(replicas).keys()].map((o) => [o, version])) };
}

/** The seed program's arguments for stack settings (as strings, like stack config). */
function seedArgs(name: string, raw: RawConfig = {}): CanaryArgs {
    const { args } = seedProgramArgs({ ...projectDefaults(), registryServer: "127.0.0.1:5443", appName: name, namespace: name, pullUsername: PULL_USER, ...raw },
        { registryPassword: pulumi.secret(PASSWORD), pullPassword: pulumi.secret(PULL_PASSWORD) });
    return { ...args, buildDirectory: BUILD_DIR };
}

async function deploy(name: string, args: CanaryArgs): Promise<StatefulSetCanary> {
    const canary = new canaryModule.StatefulSetCanary(name, args);
    await unwrap(canary.ordinalVersions);
    return canary;
}

function only<T>(items: T[], what: string): T {
    assert.strictEqual(items.length, 1, `expected exactly one ${what}, got ${items.length}`);
    return items[0];
}

describe("StatefulSetCanary with the seed's version-page preset", () => {
    let canary: StatefulSetCanary;
    before(async () => {
        allOn("graph", 5, "v1");
        canary = await deploy("graph", seedArgs("graph", { imageTag: "v2", stableTag: "v1", partition: "3" }));
    });

    it("registers the images, namespace, pull secret, two services, the StatefulSet and the rollout check", () => {
        const mine = registered.filter((r) => r.name.startsWith("graph"));
        assert.deepStrictEqual(mine.map((r) => `${r.type} ${r.name}`).sort(), [
            "docker:index/image:Image graph-v1-build",
            "docker:index/image:Image graph-v2-build",
            "kubernetes:apps/v1:StatefulSet graph-sts",
            "kubernetes:core/v1:Namespace graph-ns",
            "kubernetes:core/v1:Secret graph-pull",
            "kubernetes:core/v1:Service graph-headless",
            "kubernetes:core/v1:Service graph-service",
            `${CHECK} graph-rollout`,
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
        const canaryType = "sts-canary:index:StatefulSetCanary";
        const workload = "sts-canary:index:CanaryWorkload";
        const expected: Record<string, string> = {
            "graph-v1": `${canaryType}$sts-canary:index:AppImage`,
            "graph-v2-build": "sts-canary:index:AppImage$docker:index/image:Image",
            "graph-sts": `${workload}$kubernetes:apps/v1:StatefulSet`,
            "graph-ns": `${workload}$kubernetes:core/v1:Namespace`,
            "graph-pull": `${workload}$kubernetes:core/v1:Secret`,
            "graph-headless": `${workload}$kubernetes:core/v1:Service`,
            "graph-service": `${workload}$kubernetes:core/v1:Service`,
            "graph-rollout": `${canaryType}$${CHECK}`,
        };
        for (const [name, type] of Object.entries(expected)) assert.strictEqual(typeOf(name), type, name);
        assert.strictEqual(urns.length, 12);
    });

    it("keeps the URN of the seed's NodePort Service through an alias", () => {
        const services = byType("kubernetes:core/v1:Service", "graph-service");
        assert.strictEqual(services.length, 1);
        // The alias itself is resolved by the engine; the mock sees the new name with the same type and parent.
        assert.strictEqual(services[0].inputs.spec.type, "NodePort");
    });

    it("wires partition, replicas, names and the pinned canary image into the StatefulSet", () => {
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "graph"), "StatefulSet").inputs;
        assert.strictEqual(sts.metadata.name, "graph");
        assert.strictEqual(sts.metadata.namespace, "graph");
        assert.deepStrictEqual(sts.metadata.annotations, { "pulumi.com/skipAwait": "true" });
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

    it("checks the step with the StatefulSet's generation, the canary image and the version-page gate", () => {
        const check = only(byType(CHECK, "graph"), "RolloutCheck");
        const { inputs } = check;
        assert.deepStrictEqual([inputs.namespace, inputs.name, inputs.replicas, inputs.partition, inputs.version, inputs.container],
            ["graph", "graph", 5, 3, "v2", "nginx"]);
        assert.strictEqual(inputs.generation, 1);
        assert.strictEqual(inputs.image, `127.0.0.1:5443/library/version-test:v2@${FAKE_DIGEST("v2")}`);
        assert.deepStrictEqual([inputs.readyTimeoutSeconds, inputs.rolloutTimeoutSeconds, inputs.replaceStuckPods, inputs.expectedStableVersion],
            [120, 600, true, "v1"]);
        assert.deepStrictEqual(inputs.gates, {
            bakeSeconds: 0, maxRestarts: 0, http: { port: 80, path: "/version.html", expectStatus: 200, bodyPattern: "This is V2" },
        });
        // The cluster access (which may hold a kubeconfig) is sent only as a secret.
        assert.ok(check.secretPaths.includes("cluster"), JSON.stringify(check.secretPaths));
    });

    it("builds every version and exposes pinned references", async () => {
        assert.deepStrictEqual(await unwrap(canary.images), {
            v1: `127.0.0.1:5443/library/version-test:v1@${FAKE_DIGEST("v1")}`,
            v2: `127.0.0.1:5443/library/version-test:v2@${FAKE_DIGEST("v2")}`,
        });
        const build = only(byType("docker:index/image:Image", "graph-v2"), "v2 image").inputs;
        assert.strictEqual(build.imageName, "127.0.0.1:5443/library/version-test:v2");
        assert.deepStrictEqual(build.registry.server, "127.0.0.1:5443");
        assert.strictEqual(build.registry.username, "admin");
        assert.strictEqual(build.build.args.BASE_IMAGE, "nginx:latest");
        assert.strictEqual(build.build.context, path.join(BUILD_DIR, "v2"));
    });

    it("plans every ordinal's version from the cluster, and states the step", async () => {
        assert.deepStrictEqual(await unwrap(canary.ordinalVersions), { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
        assert.strictEqual(await unwrap(canary.stableVersion), "v1");
        assert.strictEqual(await unwrap(canary.step), "pods graph-3..graph-4: v1 -> v2; graph-0..graph-2 stay on v1");
        assert.strictEqual(await unwrap(canary.nodePort), 30080);
        const contract = await unwrap(canary.contract);
        assert.deepStrictEqual({ ...contract, images: Object.keys(contract.images) }, {
            contract: 2, namespace: "graph", statefulSetName: "graph", container: "nginx", images: ["v1", "v2"],
            templateVersion: "v2", partition: 3, replicas: 5, stableVersion: "v1", registry: "127.0.0.1:5443",
            configKeys: { version: "imageTag", partition: "partition", replicas: "replicas", pinnedImages: "pinnedImages" },
        });
    });

    it("sends the registry password only as a secret, never in a plain output", async () => {
        for (const version of ["v1", "v2"]) {
            const build = only(byType("docker:index/image:Image", `graph-${version}`), "image");
            assert.ok(build.secretPaths.some((p) => p === "registry" || p === "registry.password"), JSON.stringify(build.secretPaths));
        }
        for (const r of registered.filter((x) => x.name.startsWith("graph"))) {
            if (JSON.stringify(r.inputs).includes(PASSWORD)) assert.ok(r.secretPaths.length > 0, `${r.name} carries the password outside a secret`);
        }
        for (const output of [canary.images, canary.contract, canary.step, canary.ordinalVersions, canary.namespace]) {
            const value = JSON.stringify(await unwrap(output as pulumi.Output<unknown>));
            assert.ok(!value.includes(PASSWORD) && !value.includes(Buffer.from(`admin:${PASSWORD}`).toString("base64")));
        }
    });

    it("wires the pull secret from the pull-only account and references it from the pods; the pushing account stays out of the cluster", () => {
        const secret = only(byType("kubernetes:core/v1:Secret", "graph"), "Secret").inputs;
        assert.strictEqual(secret.type, "kubernetes.io/dockerconfigjson");
        assert.deepStrictEqual(JSON.parse(secret.stringData[".dockerconfigjson"]).auths, {
            "127.0.0.1:5443": { username: PULL_USER, password: PULL_PASSWORD, auth: Buffer.from(`${PULL_USER}:${PULL_PASSWORD}`).toString("base64") },
        });
        assert.strictEqual(secret.metadata.annotations["sts-canary.dev/pull-user"], PULL_USER);
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "graph"), "StatefulSet").inputs;
        assert.deepStrictEqual(sts.spec.template.spec.imagePullSecrets, [{ name: secret.metadata.name }]);
        for (const r of registered.filter((x) => x.type.startsWith("kubernetes:") && x.name.startsWith("graph"))) {
            const text = JSON.stringify(r.inputs);
            assert.ok(!text.includes(PASSWORD) && !text.includes("\"admin\""), `${r.name} holds the pushing account`);
        }
    });

    it("signs every image it builds with the stack's key and verifies the template's, the key and passwords as secrets", async () => {
        const pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
        const { args } = seedProgramArgs({ ...projectDefaults(), registryServer: "127.0.0.1:5443", appName: "signed", namespace: "signed", pullUsername: PULL_USER, cosignPublicKey: pem },
            { registryPassword: pulumi.secret(PASSWORD), pullPassword: pulumi.secret(PULL_PASSWORD), cosignPrivateKey: pulumi.secret("ENCRYPTED"), cosignPassword: pulumi.secret("kpw") });
        await deploy("signed", { ...args, buildDirectory: BUILD_DIR });
        const signatures = byType("pulumi-nodejs:dynamic/sts-canary:ImageSignature", "signed");
        assert.deepStrictEqual(signatures.map((s) => s.name).sort(), ["signed-v1-signature", "signed-v2-signature"]);
        for (const s of signatures) {
            assert.strictEqual(s.inputs.mode, "sign");
            assert.deepStrictEqual(s.inputs.login, { server: "127.0.0.1:5443", username: "admin", password: PASSWORD }, "signing pushes: the pushing account");
            for (const p of ["privateKey", "password", "login"]) assert.ok(s.secretPaths.some((x) => x === p || x.startsWith(`${p}.`)), `${p} is not secret`);
        }
        const check = only(byType("pulumi-nodejs:dynamic/sts-canary:SignatureCheck", "signed"), "SignatureCheck");
        assert.strictEqual(check.inputs.mode, "verify");
        assert.deepStrictEqual(check.inputs.publicKeys, [pem]);
        assert.match(check.inputs.ref, /^127\.0\.0\.1:5443\/library\/version-test:v1@sha256:/);
        assert.deepStrictEqual(check.inputs.login, { server: "127.0.0.1:5443", username: PULL_USER, password: PULL_PASSWORD }, "verifying reads: the pull account");
        assert.ok(check.secretPaths.some((x) => x.startsWith("login")));
    });

    it("verifies nothing without a public key or with verifySignatures false, and signs nothing without a private key", async () => {
        const pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
        await deploy("unsigned", seedArgs("unsigned"));
        await deploy("nocheck", seedArgs("nocheck", { cosignPublicKey: pem, verifySignatures: "false" }));
        assert.strictEqual(registered.filter((r) => /ImageSignature|SignatureCheck/.test(r.type) && /^(unsigned|nocheck)-/.test(r.name)).length, 0);
    });

    it("exposes the app on a NodePort and governs pods with a headless Service", () => {
        const services = byType("kubernetes:core/v1:Service", "graph").map((s) => s.inputs);
        const nodePort = only(services.filter((s) => s.spec.type === "NodePort"), "NodePort Service");
        assert.strictEqual(nodePort.metadata.name, "graph");
        assert.deepStrictEqual(nodePort.spec.ports, [{ name: "web", port: 80, targetPort: "web", nodePort: 30080 }]);
        const headless = only(services.filter((s) => s.spec.clusterIP === "None"), "headless Service");
        assert.strictEqual(headless.metadata.name, "graph-headless");
        // Every container port, the pods' per-request metrics included (what Prometheus scrapes by the name "metrics").
        assert.deepStrictEqual(headless.spec.ports, [{ name: "web", port: 80, targetPort: "web" }, { name: "metrics", port: 9113, targetPort: "metrics" }]);
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
            const canary = await deploy(name, seedArgs(name, { replicas: String(replicas), partition: String(partition), imageTag }));
            const sts = only(byType("kubernetes:apps/v1:StatefulSet", `${name}-`), "StatefulSet").inputs;
            assert.strictEqual(sts.spec.replicas, replicas);
            assert.strictEqual(sts.spec.updateStrategy.rollingUpdate.partition, partition);
            assert.ok(sts.spec.template.spec.containers[0].image.includes(`:${imageTag}@sha256:`));
            const check = only(byType(CHECK, `${name}-`), "RolloutCheck").inputs;
            assert.deepStrictEqual([check.replicas, check.partition, check.version], [replicas, partition, imageTag]);
            const plan = await unwrap(canary.ordinalVersions);
            assert.strictEqual(Object.keys(plan).length, replicas);
            assert.strictEqual(Object.values(plan).filter((v) => v === imageTag).length, onTemplate);
        });
    });
});

describe("StatefulSetCanary image sources", () => {
    it("uses the dynamic Docker CLI image resource for version pages and still pins digests", async () => {
        const canary = await deploy("cli", seedArgs("cli", { imageBuilder: "docker-cli", baseImage: "sts-canary/nginx-base:local" }));
        const builds = byType("pulumi-nodejs:dynamic/sts-canary:DockerCliImage", "cli-");
        assert.deepStrictEqual(builds.map((b) => b.name).sort(), ["cli-v1-build", "cli-v2-build"]);
        const v1 = only(builds.filter((b) => b.name === "cli-v1-build"), "v1 build");
        assert.strictEqual(v1.inputs.imageName, "127.0.0.1:5443/library/version-test:v1");
        assert.strictEqual(v1.inputs.buildArgs.BASE_IMAGE, "sts-canary/nginx-base:local");
        assert.strictEqual(v1.inputs.files["version.html"], "<h1>This is V1</h1>\n");
        assert.match(v1.inputs.contextHash, /^[a-f0-9]{64}$/);
        assert.ok(v1.secretPaths.includes("registryPassword"));
        assert.strictEqual(byType("docker:index/image:Image", "cli-").length, 0);
        assert.strictEqual((await unwrap(canary.images)).v1, `127.0.0.1:5443/library/version-test:v1@${FAKE_DIGEST("v1")}`);
    });

    it("builds a context of the user's with its Dockerfile, target and build args; the hash follows the files", async () => {
        const context = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-ctx-"));
        fs.writeFileSync(path.join(context, "app.Dockerfile"), "FROM scratch AS base\nCOPY conf /conf\n");
        fs.writeFileSync(path.join(context, "conf"), "release=1\n");
        const args = (): CanaryArgs => ({
            version: "v1", partition: 0, replicas: 1, namespace: "own", imageBuilder: "docker-cli",
            images: { v1: { build: { context, dockerfile: "app.Dockerfile", target: "base", args: { RELEASE: "v1" } } } },
            registry: { server: "127.0.0.1:5443", repository: "team/db", username: "admin", password: pulumi.secret(PASSWORD) },
            podSpec: { containers: [{ name: "db", ports: [{ name: "pg", containerPort: 5432 }] }] },
        });
        await deploy("own1", args());
        const first = only(byType("pulumi-nodejs:dynamic/sts-canary:DockerCliImage", "own1-"), "build").inputs;
        assert.deepStrictEqual([first.imageName, first.contextDir, first.dockerfile, first.target, first.buildArgs],
            ["127.0.0.1:5443/team/db:v1", context, "app.Dockerfile", "base", { RELEASE: "v1" }]);
        assert.strictEqual(first.files, undefined);
        await deploy("own2", args());
        assert.strictEqual(only(byType("pulumi-nodejs:dynamic/sts-canary:DockerCliImage", "own2-"), "build").inputs.contextHash, first.contextHash,
            "an unchanged context has the same hash (no rebuild)");
        fs.writeFileSync(path.join(context, "conf"), "release=2\n");
        await deploy("own3", args());
        assert.notStrictEqual(only(byType("pulumi-nodejs:dynamic/sts-canary:DockerCliImage", "own3-"), "build").inputs.contextHash, first.contextHash);
    });

    it("deploys a pinned reference as it is and builds nothing for it", async () => {
        const ref = `127.0.0.1:5443/library/version-test:v3@sha256:${"d".repeat(64)}`;
        allOn("pin", 5, "v1");
        const canary = await deploy("pin", seedArgs("pin", { pinnedImages: JSON.stringify([`v3=${ref}`]), imageTag: "v3", stableTag: "v1", partition: "4" }));
        assert.deepStrictEqual(byType("sts-canary:index:AppImage", "pin-").map((r) => r.name).sort(), ["pin-v1", "pin-v2"]);
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "pin-"), "StatefulSet").inputs;
        assert.strictEqual(sts.spec.template.spec.containers[0].image, ref);
        assert.strictEqual((await unwrap(canary.images)).v3, ref);
        assert.deepStrictEqual(await unwrap(canary.ordinalVersions), { 0: "v1", 1: "v1", 2: "v1", 3: "v1", 4: "v3" });
    });
});

describe("StatefulSetCanary with a pod spec of the user's", () => {
    const ref = (c: string) => `127.0.0.1:5443/team/db:v1@sha256:${c.repeat(64)}`;
    const dbArgs = (extra: Partial<CanaryArgs> = {}): CanaryArgs => ({
        version: "v2", partition: 1, replicas: 2, namespace: "shared", createNamespace: false,
        images: { v1: { ref: ref("a") }, v2: { ref: ref("b") } },
        container: "db",
        podSpec: {
            serviceAccountName: "db",
            securityContext: { runAsNonRoot: true, fsGroup: 102 },
            terminationGracePeriodSeconds: 30,
            affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
            volumes: [{ name: "conf", configMap: { name: "db-conf" } }],
            containers: [
                {
                    name: "db", env: [{ name: "MODE", value: "primary" }], ports: [{ name: "pg", containerPort: 5432 }],
                    readinessProbe: { exec: { command: ["pg_isready", "-q"] } }, volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
                },
                { name: "exporter", image: "127.0.0.1:5443/team/exporter:1.0@sha256:" + "e".repeat(64) },
            ],
        },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "64Mi" } } } }],
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
        podManagementPolicy: "Parallel",
        minReadySeconds: 5,
        service: { type: "ClusterIP" },
        labels: { team: "data" },
        podLabels: { tier: "db" },
        gates: { bakeSeconds: 3 },
        ...extra,
    });

    it("keeps every field of the pod spec, puts the canary image into the named container only", async () => {
        await deploy("db", dbArgs());
        const sts = only(byType("kubernetes:apps/v1:StatefulSet", "db-"), "StatefulSet").inputs;
        const spec = sts.spec.template.spec;
        assert.deepStrictEqual([spec.serviceAccountName, spec.securityContext, spec.terminationGracePeriodSeconds, spec.volumes],
            ["db", { runAsNonRoot: true, fsGroup: 102 }, 30, [{ name: "conf", configMap: { name: "db-conf" } }]]);
        assert.strictEqual(spec.containers[0].image, ref("b"));
        assert.deepStrictEqual(spec.containers[0].env, [{ name: "MODE", value: "primary" }]);
        assert.deepStrictEqual(spec.containers[0].readinessProbe, { exec: { command: ["pg_isready", "-q"] } });
        assert.strictEqual(spec.containers[1].image, "127.0.0.1:5443/team/exporter:1.0@sha256:" + "e".repeat(64), "other containers keep their image");
        assert.deepStrictEqual(sts.spec.volumeClaimTemplates[0].metadata, { name: "data" });
        assert.deepStrictEqual(sts.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Delete", whenScaled: "Retain" });
        assert.deepStrictEqual([sts.spec.podManagementPolicy, sts.spec.minReadySeconds], ["Parallel", 5]);
        assert.strictEqual(sts.metadata.labels.team, "data");
        assert.strictEqual(sts.spec.template.metadata.labels.tier, "db");
        assert.strictEqual(spec.imagePullSecrets.length, 0, "no registry: no pull secret");
    });

    it("uses an existing namespace and adds a ClusterIP Service on the container's ports", () => {
        assert.strictEqual(byType("kubernetes:core/v1:Namespace", "db-").length, 0);
        const services = byType("kubernetes:core/v1:Service", "db-").map((s) => s.inputs);
        const clusterIp = only(services.filter((s) => s.spec.type === "ClusterIP"), "ClusterIP Service");
        assert.deepStrictEqual(clusterIp.spec.ports, [{ name: "pg", port: 5432, targetPort: "pg" }]);
        assert.strictEqual(clusterIp.metadata.namespace, "shared");
        const check = only(byType(CHECK, "db-"), "check").inputs;
        assert.deepStrictEqual([check.container, check.gates], ["db", { bakeSeconds: 3, maxRestarts: 0 }]);
    });
});

describe("StatefulSetCanary rejects invalid args before creating anything", () => {
    const base = (): CanaryArgs => ({
        version: "v1", partition: 0, replicas: 3, namespace: "bad", images: { v1: { ref: `r/a:v1@sha256:${"a".repeat(64)}` } },
        podSpec: { containers: [{ name: "app" }] },
    });
    const cases: [string, Partial<CanaryArgs>, string[]][] = [
        ["partition above replicas", { partition: 9 }, ["partition: 9 is out of range; allowed 0..3"]],
        ["a mutable version", { version: "latest", images: { latest: { ref: `r/a@sha256:${"a".repeat(64)}` } } }, [
            'images.latest: "latest" is a mutable tag; use immutable version tags',
            'version: "latest" is a mutable tag and is never allowed; allowed: one of latest',
        ]],
        ["a version that is not an image", { version: "v9" }, ['version: "v9" is not a built or pinned version; allowed: one of v1']],
        ["a source with two kinds", { images: { v1: { ref: `r/a@sha256:${"a".repeat(64)}`, versionPage: {} } } }, ["images.v1: give exactly one of build, ref, versionPage (got ref, versionPage)"]],
        ["an unpinned ref", { images: { v1: { ref: "r/a:v1" } } }, ['images.v1.ref: "r/a:v1" is not pinned by digest; allowed: <repo>[:<tag>]@sha256:<64 hex>']],
        ["a build without a registry", { images: { v1: { build: { context: os.tmpdir(), dockerfile: "no-such-Dockerfile" } } } }, [
            `images.v1.build.dockerfile: "no-such-Dockerfile" does not exist in ${os.tmpdir()}`, "registry: required: versions v1 are built and pushed",
        ]],
        ["two containers and none named", { podSpec: { containers: [{ name: "a" }, { name: "b" }] } }, ["container: required: podSpec has 2 containers (a, b); name the one that runs the canary image"]],
        ["an image on the canary container", { podSpec: { containers: [{ name: "app", image: "x" }] } }, ["podSpec.containers[0].image: is set by the component from images.v1; leave it out"]],
        ["labels that would change the selector or the version", { labels: { "app.kubernetes.io/name": "other" }, podLabels: { "app.kubernetes.io/version": "x", tier: "db" } }, [
            "labels: app.kubernetes.io/name is set by the component (selector and version labels); leave it out",
            "podLabels: app.kubernetes.io/version is set by the component (selector and version labels); leave it out",
        ]],
        ["a version name longer than a label value", { version: "v".repeat(64), images: { ["v".repeat(64)]: { ref: `r/a@sha256:${"a".repeat(64)}` } } }, [
            `images.${"v".repeat(64)}: "${"v".repeat(64)}" cannot be a label value (app.kubernetes.io/version): at most 63 characters, starting and ending with a letter or digit`,
        ]],
        ["a bake as long as the whole step", { rolloutTimeoutSeconds: 60, gates: { bakeSeconds: 60 } }, [
            "gates.bakeSeconds: 60 is not less than rolloutTimeoutSeconds (60), which bounds the whole step, bake included: raise rolloutTimeoutSeconds or shorten the bake",
        ]],
        ["grace and crash-loop limits out of range", { transientGraceSeconds: -1, crashLoopRestarts: 101 }, [
            "transientGraceSeconds: -1 is out of range; allowed 0..3600", "crashLoopRestarts: 101 is out of range; allowed 0..100",
        ]],
        ["the pushing account as the pods' pull account", {
            registry: { server: "h:5443", repository: "library/a", username: "admin", password: "pw" }, imagePull: { username: "admin", password: "pw" },
        }, [
            'imagePull.username: "admin" is the pushing account (registry.username): anyone who can read Secrets in the namespace could '
            + "overwrite every image. Give a pull-only account (in Harbor: a robot account with pull permission on the project)",
        ]],
        ["half a pull account, a bad Secret name, a bad server", { imagePull: { username: "robot$p+r", server: "http://h", secretNames: ["ok", "No_Good"] } }, [
            'imagePull.server: "http://h" is not a registry address; allowed: host or host:port without scheme or path (e.g. harbor.example.com or 127.0.0.1:5443)',
            "imagePull.password: required with imagePull.username; pass a secret",
            'imagePull.secretNames[1]: "No_Good" is not a valid Secret name (RFC 1123 subdomain: lowercase letters, digits, \'-\', \'.\', at most 253 characters)',
        ]],
        ["no pull credentials where they are required", {
            registry: { server: "h:5443", repository: "library/a", username: "admin", password: "pw" }, requirePullCredentials: true,
        }, [
            "imagePull: required (requirePullCredentials): the pods get no image pull credentials for h:5443, and the pushing account "
            + "(registry.username) is never given to the cluster: give a pull-only account as imagePull.username/password (in Harbor: a robot "
            + "account with pull permission), or existing Secrets as imagePull.secretNames",
        ]],
        ["a key without its password, a public key that is not PEM", { signatures: { privateKey: "k", publicKeys: ["ssh-ed25519 AAAA"] } }, [
            "signatures.password: required with signatures.privateKey (cosign keys are encrypted; pass a secret)",
            "signatures.publicKeys[0]: is not one PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----, the contents of cosign.pub)",
        ]],
        ["verification asked for without keys", { signatures: { verify: true } }, [
            "signatures.publicKeys: required to verify (signatures.verify is true): the keys whose signatures are accepted",
        ]],
        ["everything at once", { replicas: 0, namespace: "Bad_NS", readyTimeoutSeconds: 1, service: { type: "Ingress" }, gates: { http: { port: 80, path: "x" } } }, [
            "replicas: 0 is out of range; allowed 1..1000",
            "readyTimeoutSeconds: 1 is out of range; allowed 10..3600",
            'namespace: "Bad_NS" is not a valid namespace (RFC 1123 label, at most 63 characters)',
            'service.type: "Ingress" is not allowed; allowed: ClusterIP, NodePort, LoadBalancer',
            'gates.http.path: "x" must start with /',
        ]],
    ];
    cases.forEach(([name, args, expected], index) => {
        it(name, async () => {
            const before = registered.length;
            const rejections: unknown[] = [];
            const onRejection = (err: unknown) => rejections.push(err);
            process.on("unhandledRejection", onRejection);
            try {
                assert.throws(() => new canaryModule.StatefulSetCanary(`bad${index}`, { ...base(), ...args }), (err: Error) => {
                    assert.ok(pulumi.InputPropertiesError.isInstance(err), `expected InputPropertiesError, got ${err.constructor.name}`);
                    const errors = (err as pulumi.InputPropertiesError).errors.map((e) => `${e.propertyPath}: ${e.reason}`);
                    assert.deepStrictEqual(errors, expected);
                    assert.match(err.message, new RegExp(`^invalid arguments of StatefulSetCanary "bad${index}" \\(nothing was created\\):`));
                    return true;
                });
                // Registrations (and rejections) reach the mock monitor asynchronously.
                await new Promise((resolve) => setTimeout(resolve, 100));
            } finally {
                process.off("unhandledRejection", onRejection);
            }
            assert.deepStrictEqual(registered.slice(before).filter((r) => r.name.startsWith(`bad${index}-`)).map((r) => r.name), [], "children were registered");
            assert.deepStrictEqual(rejections, [], "no unhandled rejections");
        });
    });
});

describe("StatefulSetCanary never deletes a namespace (and its volumes) unless asked", () => {
    it("retains the namespace it creates on destroy or rename by default, deletes it with deleteNamespace", async () => {
        allOn("keepns", 5, "v1");
        await deploy("keepns", seedArgs("keepns"));
        allOn("dropns", 5, "v1");
        await deploy("dropns", seedArgs("dropns", { deleteNamespace: "true" }));
        const ns = (prefix: string) => only(byType("kubernetes:core/v1:Namespace", `${prefix}-`), `${prefix} namespace`);
        assert.strictEqual(ns("keepns").retainOnDelete, true);
        assert.strictEqual(ns("dropns").retainOnDelete, false);
        const others = registered.filter((r) => r.name.startsWith("keepns-") && r.type !== "kubernetes:core/v1:Namespace");
        assert.ok(others.length > 3 && others.every((r) => !r.retainOnDelete), "only the namespace is retained");
    });
});

describe("StatefulSetCanary refuses a Kubernetes provider in its options", () => {
    it("names `cluster` and registers no child (no image is built for a canary that cannot be checked)", async () => {
        const k8s = await import("@pulumi/kubernetes");
        const provider = new k8s.Provider("someone-elses-k8s", { kubeconfig: "{}" });
        const before = registered.length;
        assert.throws(() => new canaryModule.StatefulSetCanary("badprov", seedArgs("badprov"), { providers: { kubernetes: provider } }), (err: Error) => {
            assert.ok(pulumi.InputPropertyError.isInstance(err), `expected InputPropertyError, got ${err.constructor.name}`);
            assert.strictEqual((err as pulumi.InputPropertyError).propertyPath, "cluster");
            assert.match(err.message, /a Kubernetes provider was passed in the resource options: pass its kubeconfig\/context as `cluster` instead/);
            return true;
        });
        // Registrations reach the mock monitor asynchronously.
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepStrictEqual(registered.slice(before).filter((r) => r.name.startsWith("badprov-")).map((r) => r.name), [], "children were registered");
    });
});
