/**
 * Environments and review on the local platform: guardrail policies on a bad program and on the
 * real one, dev -> prod promotion by digest with the tool, and the GitHub workflows checked by
 * actionlint. (The YAML example has its own tests: yaml.e2e.ts, and tool-yaml.e2e.ts for the tool.)
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { getPods, operationObjects, tagOf } from "./kubectl";
import { getConfigValue, openStack, setConfig, timedUp } from "./stack";
import { REPO_ROOT, deleteNamespaces, loadPlatformEnv, localStack, registryManifestPushes, run, runCli } from "./platform";

const POLICY_PACK = path.join(REPO_ROOT, "policy");
const log = (line: string) => console.log(`      ${line}`);
const POLICIES = [
    "partition-within-bounds", "no-mutable-tags-in-prod", "images-pinned-by-digest",
    "images-from-configured-registry", "resource-limits-set", "prod-replicas-at-least-2", "prod-pulls-with-credentials",
    "pull-secret-not-push-account",
];

async function destroyAndRemove(stack: Stack | undefined): Promise<void> {
    if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
    await stack.destroy({ color: "never" });
    await stack.workspace.removeStack(stack.name);
}

describe("policy pack on the local platform", function () {
    let bad: Stack | undefined;

    after(async () => destroyAndRemove(bad));

    it("fails a program that breaks every guardrail, naming each policy", async () => {
        const env = loadPlatformEnv();
        bad = await openStack({ stackName: "policy-prod", workDir: path.join(REPO_ROOT, "tests/policy/bad-program"), envVars: env }, true);
        // The pack reads registryServer from the checked stack's own project (sts-canary-policy-bad).
        await setConfig(bad, {
            "sts-canary-policy-bad:registryServer": env.STS_CANARY_REGISTRY, "sts-canary-policy-bad:registryUsername": env.STS_CANARY_REGISTRY_USER,
            "kubernetes:kubeconfig": env.KUBECONFIG,
        });
        const error = await bad.preview({ policyPacks: [POLICY_PACK], color: "never" }).then(() => undefined, (err: Error) => err);
        assert.ok(error, "the preview of the bad program passed the policy pack");
        const text = String(error.message);
        for (const policy of POLICIES) assert.match(text, new RegExp(`\\[mandatory\\] +${policy} `), `${policy} did not fail`);
        assert.match(text, /image nginx:latest uses the mutable tag "latest" in prod stack policy-prod/);
        assert.match(text, /partition 3 is outside 0\.\.1/);
        assert.match(text, /image pull Secret bad-pull holds the pushing account "admin"/);
    });
});

describe("dev -> prod promotion on the local platform", function () {
    let dev: Stack;
    let prod: Stack;
    const devNs = "e2e-env-dev";
    const prodNs = "e2e-env-prod";

    before(async () => {
        dev = await localStack("e2e-env-dev", {
            namespace: devNs, appName: "web", nodePort: "30093", replicas: "3", versions: ["v1", "v2"],
            imageTag: "v1", partition: "0", bakeSeconds: "2",
        });
        prod = await localStack("e2e-env-prod", {
            namespace: prodNs, appName: "web", nodePort: "30094", replicas: "5", versions: ["v1"],
            imageTag: "v1", partition: "0", bakeSeconds: "2",
        });
        // prod's pinnedImages is absent: promote-env adds it (and a failed one removes it again).
        await prod.removeConfig("sts-canary:pinnedImages").catch(() => undefined);
        await dev.destroy({ color: "never" });
        await prod.destroy({ color: "never" });
        await deleteNamespaces(devNs, prodNs);
        await timedUp(dev);
    });

    after(async () => {
        await destroyAndRemove(dev);
        await destroyAndRemove(prod);
        await deleteNamespaces(devNs, prodNs);
    });

    it("deploys prod through the policy pack (the real program passes every guardrail)", async () => {
        const result = await prod.up({ policyPacks: [POLICY_PACK], color: "never" });
        assert.strictEqual(result.summary.result, "succeeded");
        assert.doesNotMatch(result.stdout, /mandatory/);
        const preview = await prod.preview({ policyPacks: [POLICY_PACK], color: "never" });
        assert.deepStrictEqual(Object.keys(preview.changeSummary).filter((k) => k !== "read"), ["same"]);
    });

    it("refuses to promote while dev is mid-canary, changing nothing in prod", async () => {
        await setConfig(dev, { imageTag: "v2", partition: "2" });
        await timedUp(dev);
        const prodConfigBefore = await prod.getAllConfig();
        const result = await runCli(["promote-env", "--from", "e2e-env-dev", "--to", "e2e-env-prod", "--yes"]);
        log(result.stderr.trim().split("\n").join("\n      "));
        assert.strictEqual(result.code, 6, result.stdout + result.stderr);
        assert.match(result.stderr, /refusing to promote from e2e-env-dev:[\s\S]*is mid-canary \(partition 2, v2 over v1\)/);
        assert.deepStrictEqual(await prod.getAllConfig(), prodConfigBefore);
    });

    it("promotes the version verified in dev to prod by digest, as a gated canary on one pod", async () => {
        await setConfig(dev, { partition: "0" });
        await timedUp(dev);
        const devRef = (await dev.outputs()).images.value.v2 as string;
        const prodPodsBefore = await getPods(prodNs, "web");
        const pushesBefore = await registryManifestPushes();
        const result = await runCli(["promote-env", "--from", "e2e-env-dev", "--to", "e2e-env-prod", "--yes"]);
        log(result.stdout.trim().split("\n").filter((l) => /^[+~-] |promot|step|gate|diff|partition|pinnedImages|imageTag/.test(l.trim())).slice(0, 40).join("\n      "));
        assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        assert.match(result.stdout, /--- pulumi preview --diff --stack e2e-env-prod/);
        assert.match(result.stdout, /imageTag\s*: "v1" => "v2"/);
        assert.strictEqual(await registryManifestPushes(), pushesBefore, "prod rebuilt or re-pushed an image");
        const pods = await getPods(prodNs, "web");
        assert.deepStrictEqual(pods.map((p) => tagOf(p.image)), ["v1", "v1", "v1", "v1", "v2"]);
        assert.strictEqual(pods[4].image, devRef, "prod runs the digest verified in dev");
        for (const ordinal of [0, 1, 2, 3]) assert.strictEqual(pods[ordinal].uid, prodPodsBefore[ordinal].uid);
        assert.deepStrictEqual(JSON.parse((await prod.getConfig("sts-canary:pinnedImages")).value), [`v2=${devRef}`]);
        assert.strictEqual(await getConfigValue(prod, "partition"), "4");
        // The operation is over: no record, no lock; prod's timeline says who promoted what from where.
        const state = await operationObjects(prodNs, "web");
        assert.strictEqual(state.record, undefined);
        assert.strictEqual(state.lease, undefined);
        const entry = state.timeline.find((e) => e.event === "promote-env");
        assert.strictEqual(entry?.message, `v2 verified in e2e-env-dev (${devRef}) -> e2e-env-prod, partition 4`);
        // Prod still passes every guardrail with the promoted, pinned image.
        const preview = await prod.preview({ policyPacks: [POLICY_PACK], color: "never" });
        assert.doesNotMatch(preview.stdout, /mandatory/);
    });
});

describe("GitHub workflows", () => {
    before(() => { loadPlatformEnv(); }); // puts the built actionlint on PATH

    it("pass actionlint", async () => {
        const out = await run("actionlint", ["-no-color", ...fs.readdirSync(path.join(REPO_ROOT, ".github/workflows")).map((f) => `.github/workflows/${f}`)]);
        assert.strictEqual(out.trim(), "");
    });

    it("are really checked: a broken workflow fails actionlint", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-actionlint-"));
        const file = path.join(dir, "broken.yml");
        fs.writeFileSync(file, "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n");
        try {
            await assert.rejects(run("actionlint", ["-no-color", file]), /property "nope" is not defined/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
