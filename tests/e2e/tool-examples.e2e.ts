/**
 * The sts-canary tool operates stacks of other programs than the root one: the Pulumi YAML
 * example (project sts-canary-yaml) and the stateful example, through the contract each program
 * exports (`stsCanary`), which names the config keys that move it.
 */
import * as assert from "assert";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { getPods, operationObjects, tagOf } from "./kubectl";
import { REPO_ROOT, deleteNamespaces, loadPlatformEnv, runCli } from "./platform";

const STACK = "e2e-tool-yaml";
const NAMESPACE = "e2e-tool-yaml";
const PROJECT = "sts-canary-yaml";
const WORK_DIR = path.join(REPO_ROOT, "examples", "yaml");
const log = (line: string) => console.log(`      ${line}`);

describe("sts-canary tool on the YAML example's stack", function () {
    let stack: Stack;
    const cli = (args: string[]) => runCli(["-C", WORK_DIR, "--stack", STACK, ...args]);
    const pods = () => getPods(NAMESPACE, "web");
    const config = async (key: string) => (await stack.getAllConfig())[`${PROJECT}:${key}`]?.value;

    before(async function () {
        const env = loadPlatformEnv();
        stack = await LocalWorkspace.createOrSelectStack({ stackName: STACK, workDir: WORK_DIR }, { envVars: env });
        const images = { v1: { versionPage: { baseImage: env.STS_CANARY_BASE_IMAGE } }, v2: { versionPage: { baseImage: env.STS_CANARY_BASE_IMAGE } } };
        await stack.setAllConfigJson(JSON.stringify({
            [`${PROJECT}:registryServer`]: { value: env.STS_CANARY_REGISTRY, secret: false },
            [`${PROJECT}:registryPassword`]: { value: env.STS_CANARY_REGISTRY_PASSWORD, secret: true },
            [`${PROJECT}:pullUsername`]: { value: env.STS_CANARY_PULL_USER, secret: false },
            [`${PROJECT}:pullPassword`]: { value: env.STS_CANARY_PULL_PASSWORD, secret: true },
            [`${PROJECT}:imageBuilder`]: { value: "docker-cli", secret: false },
            [`${PROJECT}:namespace`]: { value: NAMESPACE, secret: false },
            [`${PROJECT}:nodePort`]: { value: "30095", secret: false },
            [`${PROJECT}:readyTimeoutSeconds`]: { value: "60", secret: false },
            [`${PROJECT}:imageTag`]: { value: "v1", secret: false },
            [`${PROJECT}:partition`]: { value: "0", secret: false },
            [`${PROJECT}:images`]: { value: JSON.stringify(images), objectValue: images, secret: false },
            "kubernetes:kubeconfig": { value: env.KUBECONFIG, secret: false },
        }));
        await stack.destroy({ color: "never" });
        await deleteNamespaces(NAMESPACE);
        await stack.up({ color: "never" });
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
        await deleteNamespaces(NAMESPACE);
    });

    it("shows the YAML stack's status from its stsCanary contract", async () => {
        const status = await cli(["status"]);
        log(status.stdout.split("\n").slice(0, 3).join("\n      "));
        assert.strictEqual(status.code, 0, status.stderr);
        assert.match(status.stdout, new RegExp(`^stack ${STACK} +statefulset ${NAMESPACE}/web +partition 0 +stable v1 +canary -$`, "m"));
        for (const ordinal of [0, 1, 2]) assert.match(status.stdout, new RegExp(`^${ordinal} +web-${ordinal} +\\S+ +v1 +sha256:[a-f0-9]{12} +yes `, "m"));
    });

    it("steps a canary by setting sts-canary-yaml:imageTag and sts-canary-yaml:partition", async () => {
        const before = await pods();
        const result = await cli(["step", "--image-tag", "v2", "--to", "2"]);
        log(result.stdout.trim().split("\n").join("\n      "));
        assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        assert.strictEqual(await config("imageTag"), "v2");
        assert.strictEqual(await config("partition"), "2");
        const now = await pods();
        assert.deepStrictEqual(now.map((p) => tagOf(p.image)), ["v1", "v1", "v2"]);
        assert.deepStrictEqual(now.slice(0, 2).map((p) => p.uid), before.slice(0, 2).map((p) => p.uid));
        assert.strictEqual((await stack.outputs()).stsCanary.value.partition, 2);
    });

    it("rolls the canary back to the stable version, pods below it untouched", async () => {
        const before = await pods();
        const result = await cli(["rollback", "--reason", "e2e: back to v1"]);
        log(result.stdout.trim().split("\n").join("\n      "));
        assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        assert.strictEqual(await config("imageTag"), "v1");
        assert.strictEqual(await config("partition"), "2");
        const now = await pods();
        assert.deepStrictEqual(now.map((p) => tagOf(p.image)), ["v1", "v1", "v1"]);
        assert.deepStrictEqual(now.slice(0, 2).map((p) => p.uid), before.slice(0, 2).map((p) => p.uid));
        const state = await operationObjects(NAMESPACE, "web");
        assert.deepStrictEqual(state.timeline.map((e) => e.event), ["step", "applied", "rollback", "rolled-back"]);
        assert.match(state.timeline[3].message, /pods web-0, web-1 untouched/);
    });
});

/**
 * The tool on the stateful example (project sts-canary-stateful): its contract names its config
 * keys, including `pinnedImages`, so promote-env writes the digest verified in one stack into a
 * key the other stack's program reads.
 */
describe("sts-canary tool on the stateful example's stacks (dev -> prod by digest)", function () {
    const DB_PROJECT = "sts-canary-stateful";
    const DB_DIR = path.join(REPO_ROOT, "examples", "stateful");
    const stacks: Record<"dev" | "prod", Stack> = {} as never;
    const name = (env: "dev" | "prod") => `e2e-tool-db-${env}`;
    const cli = (args: string[]) => runCli(["-C", DB_DIR, ...args]);
    const dbConfig = async (env: "dev" | "prod", key: string) => (await stacks[env].getAllConfig())[`${DB_PROJECT}:${key}`];

    before(async function () {
        const env = loadPlatformEnv();
        for (const which of ["dev", "prod"] as const) {
            const stack = await LocalWorkspace.createOrSelectStack({ stackName: name(which), workDir: DB_DIR }, { envVars: env });
            await stack.setAllConfigJson(JSON.stringify({
                [`${DB_PROJECT}:registryServer`]: { value: env.STS_CANARY_REGISTRY, secret: false },
                [`${DB_PROJECT}:registryPassword`]: { value: env.STS_CANARY_REGISTRY_PASSWORD, secret: true },
                [`${DB_PROJECT}:pullUsername`]: { value: env.STS_CANARY_PULL_USER, secret: false },
                [`${DB_PROJECT}:pullPassword`]: { value: env.STS_CANARY_PULL_PASSWORD, secret: true },
                [`${DB_PROJECT}:baseImage`]: { value: env.STS_CANARY_POSTGRES_BASE_IMAGE, secret: false },
                [`${DB_PROJECT}:imageBuilder`]: { value: "docker-cli", secret: false },
                [`${DB_PROJECT}:namespace`]: { value: name(which), secret: false },
                [`${DB_PROJECT}:replicas`]: { value: "2", secret: false },
                [`${DB_PROJECT}:imageTag`]: { value: "v1", secret: false },
                [`${DB_PROJECT}:partition`]: { value: "0", secret: false },
                "kubernetes:kubeconfig": { value: env.KUBECONFIG, secret: false },
            }));
            await stack.destroy({ color: "never" });
            await deleteNamespaces(name(which));
            await stack.up({ color: "never" });
            stacks[which] = stack;
        }
    });

    after(async function () {
        if (process.env.STS_CANARY_KEEP_E2E === "1") return;
        for (const which of ["dev", "prod"] as const) {
            if (!stacks[which]) continue;
            await stacks[which].destroy({ color: "never" });
            await stacks[which].workspace.removeStack(name(which));
            await deleteNamespaces(name(which));
        }
    });

    it("steps dev to v2 through the keys its contract names", async () => {
        for (const args of [["step", "--image-tag", "v2", "--to", "1"], ["step"]]) {
            const result = await cli(["--stack", name("dev"), ...args]);
            log(`dev: sts-canary ${args.join(" ")} -> exit ${result.code}: ${result.stdout.trim().split("\n").pop()}`);
            assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        }
        assert.strictEqual((await dbConfig("dev", "imageTag"))?.value, "v2");
        assert.deepStrictEqual((await getPods(name("dev"), "db")).map((p) => tagOf(p.image)), ["v2", "v2"]);
    });

    it("promotes dev's v2 to prod by digest: the pin goes into the key prod's program reads", async () => {
        const devRef = (await stacks.dev.outputs()).stsCanary.value.images.v2 as string;
        const result = await cli(["promote-env", "--from", name("dev"), "--to", name("prod"), "--yes"]);
        log(`promote-env -> exit ${result.code}: ${result.stdout.trim().split("\n").pop()}`);
        assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        const pins = (await dbConfig("prod", "pinnedImages"))?.value ?? "";
        assert.deepStrictEqual(JSON.parse(pins), [`v2=${devRef}`]);
        const prod = await getPods(name("prod"), "db");
        assert.deepStrictEqual(prod.map((p) => tagOf(p.image)), ["v1", "v2"]);
        assert.strictEqual(prod[1].image, devRef, "prod runs the digest verified in dev, not a build of its own");
        assert.strictEqual((await stacks.prod.outputs()).stsCanary.value.images.v2, devRef);
    });
});
