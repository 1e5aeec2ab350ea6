import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT, installMocks, liveVersions, projectDefaults, registered, setConfig, unwrap } from "./mocks";

const PROGRAM = path.resolve(__dirname, "../../index.ts");
const PASSWORD = "pr0gram-Harbor-pw";
const PULL_PASSWORD = "pr0gram-robot-token";

/** Loads the program afresh with the given config; returns its exports or throws its error. */
async function runProgram(config: Record<string, string>): Promise<Record<string, pulumi.Output<unknown> | unknown>> {
    setConfig({ registryPassword: PASSWORD, pullUsername: "robot$library+puller", pullPassword: PULL_PASSWORD, ...config }, ["registryPassword", "pullPassword"]);
    delete require.cache[require.resolve(PROGRAM)];
    return await import(PROGRAM);
}

before(async () => { await installMocks(); });

describe("program (index.ts)", () => {
    const allOn = (name: string, version: string) => {
        liveVersions[name] = { currentVersion: version, updateVersion: version, pods: { 0: version, 1: version, 2: version, 3: version, 4: version } };
    };

    it("deploys v2 as a canary on ordinals 3-4 after a full v1 rollout", async () => {
        allOn("prog", "v1");
        const program = await runProgram({
            imageTag: "v2", partition: "3", registryServer: "127.0.0.1:5443", namespace: "prog", appName: "prog",
        });
        assert.deepStrictEqual(await unwrap(program.ordinalVersions as pulumi.Output<unknown>), { 0: "v1", 1: "v1", 2: "v1", 3: "v2", 4: "v2" });
        assert.strictEqual(await unwrap(program.stable as pulumi.Output<string>), "v1");
        assert.strictEqual(await unwrap(program.step as pulumi.Output<string>), "pods prog-3..prog-4: v1 -> v2; prog-0..prog-2 stay on v1");
        assert.strictEqual(program.partition, 3);
        assert.strictEqual(program.imageTag, "v2");
        assert.strictEqual(await unwrap(program.statefulSetName as pulumi.Output<string>), "prog");
        assert.strictEqual(await unwrap(program.serviceName as pulumi.Output<string>), "prog");
        assert.strictEqual(await unwrap(program.nodePortUrl as pulumi.Output<string>), "http://127.0.0.1:30080/");
        const images = await unwrap(program.images as pulumi.Output<Record<string, string>>);
        assert.deepStrictEqual(Object.keys(images).sort(), ["v1", "v2"]);
        for (const ref of Object.values(images)) assert.match(ref, /^127\.0\.0\.1:5443\/library\/version-test:v\d@sha256:[a-f0-9]{64}$/);
        // The stable version comes from the cluster, through the rollout check: no self-reference.
        assert.strictEqual(registered.filter((r) => r.type === "pulumi:pulumi:StackReference").length, 0);
    });

    it("takes the stable version from the StatefulSet's current revision", async () => {
        allOn("prog2", "v2");
        const program = await runProgram({ imageTag: "v1", partition: "4", namespace: "prog2", appName: "prog2" });
        assert.strictEqual(await unwrap(program.stable as pulumi.Output<string>), "v2");
        assert.deepStrictEqual(await unwrap(program.ordinalVersions as pulumi.Output<unknown>), { 0: "v2", 1: "v2", 2: "v2", 3: "v2", 4: "v1" });
    });

    it("passes the rollout check's settings and an explicit stableTag as an expectation", async () => {
        allOn("prog3", "v1");
        const program = await runProgram({
            imageTag: "v2", stableTag: "v1", partition: "1", namespace: "prog3", appName: "prog3", readyTimeoutSeconds: "45",
            replaceStuckPods: "false", bakeSeconds: "7", maxRestarts: "1", checkVersionPage: "false",
            metricUrl: "http://127.0.0.1:9090/api/v1/query?query=up", metricThreshold: "0.5", metricComparison: ">=",
        });
        await unwrap(program.ordinalVersions as pulumi.Output<unknown>);
        const check = registered.filter((r) => r.type === "pulumi-nodejs:dynamic/sts-canary:RolloutCheck" && r.name === "prog3-rollout").pop();
        assert.ok(check);
        assert.strictEqual(check.inputs.readyTimeoutSeconds, 45);
        assert.strictEqual(check.inputs.replaceStuckPods, false);
        assert.strictEqual(check.inputs.expectedStableVersion, "v1");
        assert.deepStrictEqual(check.inputs.gates, {
            bakeSeconds: 7, maxRestarts: 1, metric: { url: "http://127.0.0.1:9090/api/v1/query?query=up", threshold: 0.5, comparison: ">=" },
        });
    });

    it("sends the stack's kubernetes:kubeconfig and kubernetes:context to the rollout check", async () => {
        pulumi.runtime.setAllConfig({
            ...Object.fromEntries(Object.entries(projectDefaults()).map(([k, v]) => [`${PROJECT}:${k}`, v])),
            [`${PROJECT}:registryPassword`]: PASSWORD, [`${PROJECT}:namespace`]: "prog5", [`${PROJECT}:appName`]: "prog5",
            "kubernetes:kubeconfig": "/tmp/some/kubeconfig", "kubernetes:context": "dev-cluster",
        }, [`${PROJECT}:registryPassword`]);
        delete require.cache[require.resolve(PROGRAM)];
        const program = await import(PROGRAM);
        await unwrap(program.ordinalVersions as pulumi.Output<unknown>);
        const check = registered.filter((r) => r.type === "pulumi-nodejs:dynamic/sts-canary:RolloutCheck" && r.name === "prog5-rollout").pop();
        assert.deepStrictEqual(check?.inputs.cluster, { kubeconfig: "/tmp/some/kubeconfig", context: "dev-cluster" });
        assert.ok(check?.secretPaths.includes("cluster"));
    });

    it("never exports a registry password in plain text; the pull Secret holds the pull account only", async () => {
        const program = await runProgram({ namespace: "prog4", appName: "prog4" });
        for (const [name, value] of Object.entries(program)) {
            const resolved = JSON.stringify((pulumi.Output.isInstance(value) ? await unwrap(value as pulumi.Output<unknown>) : value) ?? null);
            assert.ok(!resolved.includes(PASSWORD) && !resolved.includes(PULL_PASSWORD), `export ${name} leaks a password`);
        }
        const secret = registered.filter((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "prog4-pull").pop();
        assert.ok(secret, "pull secret registered");
        const auths = JSON.parse(secret.inputs.stringData[".dockerconfigjson"]).auths;
        assert.deepStrictEqual(Object.values(auths).map((a: any) => a.username), ["robot$library+puller"]);
        for (const r of registered.filter((x) => x.type.startsWith("kubernetes:") && x.name.startsWith("prog4"))) {
            assert.ok(!JSON.stringify(r.inputs).includes(PASSWORD), `${r.name} holds the pushing account's password`);
        }
    });

    it("reports pull settings under their stack config keys", async () => {
        await assert.rejects(runProgram({ namespace: "prog6", appName: "prog6", pullUsername: "admin" }),
            /pullUsername: "admin" is the pushing account \(registry\.username\)/);
        await assert.rejects(runProgram({ namespace: "prog6", appName: "prog6", pullUsername: "", pullSecretNames: '["Bad_Name"]' }),
            /pullSecretNames: "Bad_Name" is not a valid Secret name/);
        await assert.rejects(runProgram({ namespace: "prog6", appName: "prog6", pullUsername: "", requirePullCredentials: "true" }),
            /pullUsername: required \(requirePullCredentials\): the pods get no image pull credentials/);
        await assert.rejects(runProgram({ namespace: "prog6", appName: "prog6", cosignPublicKey: "ssh-ed25519 AAAA" }),
            /cosignPublicKey: holds no PEM public key/);
        assert.ok(!registered.some((r) => r.name.startsWith("prog6")), "nothing registered");
    });

    // Each invalid value must fail before any resource is registered, naming the key and the range.
    const invalid: [string, Record<string, string>, RegExp][] = [
        ["partition above replicas", { partition: "6" }, /partition: 6 is out of range; allowed 0\.\.5/],
        ["partition not an integer", { partition: "x" }, /partition: "x" is not an integer/],
        ["zero replicas", { replicas: "0" }, /replicas: 0 is out of range; allowed 1\.\.1000/],
        ["imageTag latest", { imageTag: "latest" }, /imageTag: "latest" is a mutable tag and is never allowed/],
        ["imageTag not built", { imageTag: "v3" }, /imageTag: "v3" is not a built or pinned version; allowed: one of v1, v2/],
        ["nodePort out of range", { nodePort: "36080" }, /nodePort: 36080 is out of range; allowed 30000\.\.32767/],
        ["malformed registry", { registryServer: "http://harbor" }, /registryServer: "http:\/\/harbor" is not a registry address/],
        ["unknown builder", { imageBuilder: "buildah" }, /imageBuilder: "buildah" is not allowed; allowed: pulumi-docker, docker-cli/],
        ["ready timeout too short", { readyTimeoutSeconds: "5" }, /readyTimeoutSeconds: 5 is out of range; allowed 10\.\.3600/],
        ["replaceStuckPods not a boolean", { replaceStuckPods: "yes" }, /replaceStuckPods: "yes" is not a boolean; allowed: true, false/],
        ["metric without threshold", { metricUrl: "http://127.0.0.1:9/x" }, /metricThreshold: not set; a number is required when metricUrl is set/],
        ["a bake longer than the step may take", { bakeSeconds: "700" }, /bakeSeconds: 700 is not less than rolloutTimeoutSeconds \(600\)/],
        ["deleteNamespace not a boolean", { deleteNamespace: "sure" }, /deleteNamespace: "sure" is not a boolean; allowed: true, false/],
        ["a crash-loop limit out of range", { crashLoopRestarts: "-1" }, /crashLoopRestarts: -1 is out of range; allowed 0\.\.100/],
    ];
    for (const [name, config, message] of invalid) {
        it(`rejects ${name} before registering anything`, async () => {
            const before = registered.length;
            await assert.rejects(runProgram(config), (err: Error) => {
                assert.ok(err instanceof pulumi.RunError, `expected RunError, got ${err.constructor.name}`);
                assert.match(err.message, /^invalid stack configuration \(nothing was changed\):/);
                assert.match(err.message, message);
                return true;
            });
            assert.strictEqual(registered.length, before, "resources were registered despite invalid config");
        });
    }

    it("rejects a missing registry password with the command that sets it", async () => {
        pulumi.runtime.setAllConfig({ [`${PROJECT}:imageTag`]: "v1" }, []);
        delete require.cache[require.resolve(PROGRAM)];
        const before = registered.length;
        await assert.rejects(import(PROGRAM), /registryPassword: not set; set it with `pulumi config set --secret registryPassword <password>`/);
        assert.strictEqual(registered.length, before);
    });
});
