/**
 * Least privilege end to end on the local platform: the pods pull with the registry's pull-only
 * robot account (`robot$library+puller`, enforced by the registry's nginx front), no pushing
 * credential reaches the namespace, `pulumi up` runs with the namespace-scoped Role shipped in
 * components/rbac (a ServiceAccount token, not cluster-admin), preview with the read-only one, a
 * missing right is named, and the template only moves to a digest signed by the stack's cosign key.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { sign } from "../../components/images/cosign";
import { PodInfo, getPods, getStatefulSet, kubectl, kubectlJson, tagOf } from "./kubectl";
import { REPO_ROOT, deleteNamespaces, forgetStack, loadPlatformEnv, localStack, pushTestImage } from "./platform";
import { setConfig, timedUp } from "./stack";

const STACK = "e2e-least-privilege";
const NAMESPACE = "e2e-lp";
const APP = "web";
const RBAC = path.join(REPO_ROOT, "components", "rbac");
const log = (line: string) => console.log(`      ${line}`);

/** A kubeconfig for a ServiceAccount of NAMESPACE: the platform's cluster, a short-lived token. */
async function serviceAccountKubeconfig(dir: string, account: string): Promise<string> {
    const admin = await kubectlJson(["config", "view", "--raw", "--minify"]);
    const cluster = admin.clusters[0].cluster;
    const token = (await kubectl(["create", "token", account, "-n", NAMESPACE, "--duration=2h"])).trim();
    const file = path.join(dir, `${account}.kubeconfig`);
    const caData = cluster["certificate-authority-data"] ?? fs.readFileSync(cluster["certificate-authority"]).toString("base64");
    fs.writeFileSync(file, JSON.stringify({
        apiVersion: "v1", kind: "Config", "current-context": account,
        clusters: [{ name: "local", cluster: { server: cluster.server, "certificate-authority-data": caData } }],
        users: [{ name: account, user: { token } }],
        contexts: [{ name: account, context: { cluster: "local", user: account, namespace: NAMESPACE } }],
    }), { mode: 0o600 });
    return file;
}

/** cosign generate-key-pair in `dir` with `password`: the key pair's files. */
async function keyPair(dir: string, password: string): Promise<{ privateKey: string; publicKey: string }> {
    fs.mkdirSync(dir, { recursive: true });
    await new Promise<void>((resolve, reject) => {
        const child = spawn("cosign", ["generate-key-pair"], { cwd: dir, env: { ...process.env, COSIGN_PASSWORD: password }, stdio: "ignore" });
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`cosign generate-key-pair exited ${code}`))));
    });
    return { privateKey: fs.readFileSync(path.join(dir, "cosign.key"), "utf8"), publicKey: fs.readFileSync(path.join(dir, "cosign.pub"), "utf8") };
}

describe("least privilege: pull-only registry account, namespace-scoped rights, signed digests", function () {
    let stack: Stack;
    let env: Record<string, string>;
    let dir: string;
    const kubeconfigs: Record<string, string> = {};
    const refs: Record<string, string> = {};
    const secrets: string[] = [];
    const output: string[] = [];
    const pods = () => getPods(NAMESPACE, APP);
    const tags = (list: PodInfo[]) => list.map((p) => tagOf(p.image));
    const push = { server: "", username: "", password: "" };

    async function up(settings: Record<string, string | string[]>, what: string): Promise<number> {
        await setConfig(stack, settings);
        const { result, seconds } = await timedUp(stack, (line) => output.push(line));
        log(`${what}: pulumi up ${result.summary.result} in ${seconds.toFixed(1)}s`);
        return seconds;
    }

    async function refused(settings: Record<string, string>, what: string): Promise<string> {
        await setConfig(stack, settings);
        const started = Date.now();
        const error = await stack.up({ color: "never", onOutput: (line) => output.push(line) }).then(() => undefined, (err: Error) => err);
        assert.ok(error, `${what}: pulumi up succeeded`);
        log(`${what}: pulumi up failed after ${((Date.now() - started) / 1000).toFixed(1)}s`);
        return String(error.message);
    }

    before(async function () {
        env = loadPlatformEnv();
        Object.assign(push, { server: env.STS_CANARY_REGISTRY, username: env.STS_CANARY_REGISTRY_USER, password: env.STS_CANARY_REGISTRY_PASSWORD });
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-lp-"));
        // A stack an interrupted run left holds tokens of ServiceAccounts deleted with the namespace.
        await forgetStack(STACK);
        await deleteNamespaces(NAMESPACE);
        // What a platform team sets up once: the namespace, the Roles, one ServiceAccount per job.
        await kubectl(["create", "namespace", NAMESPACE]);
        for (const role of ["deployer", "previewer"]) {
            await kubectl(["apply", "-n", NAMESPACE, "-f", path.join(RBAC, `${role}.yaml`)]);
            await kubectl(["create", "serviceaccount", role, "-n", NAMESPACE]);
            await kubectl(["create", "rolebinding", role, "-n", NAMESPACE, `--role=sts-canary-${role}`, `--serviceaccount=${NAMESPACE}:${role}`]);
        }
        // The deployer's Role without listing pods: the right the rollout check misses.
        const deployer = fs.readFileSync(path.join(RBAC, "deployer.yaml"), "utf8")
            .replace("name: sts-canary-deployer", "name: without-pod-list")
            .replace(/resources: \["pods"\]\n {4}verbs: \["get", "list", "watch", "delete"\]/, 'resources: ["pods"]\n    verbs: ["get", "delete"]');
        assert.ok(deployer.includes('verbs: ["get", "delete"]'), "the pods rule was not found in deployer.yaml");
        fs.writeFileSync(path.join(dir, "limited.yaml"), deployer);
        await kubectl(["apply", "-n", NAMESPACE, "-f", path.join(dir, "limited.yaml")]);
        await kubectl(["create", "serviceaccount", "limited", "-n", NAMESPACE]);
        await kubectl(["create", "rolebinding", "limited", "-n", NAMESPACE, "--role=without-pod-list", `--serviceaccount=${NAMESPACE}:limited`]);
        for (const account of ["deployer", "previewer", "limited"]) kubeconfigs[account] = await serviceAccountKubeconfig(dir, account);

        // The stack's key pair, and another one; releases built elsewhere: unsigned, signed by the other key, signed by CI with the stack's.
        const key = await keyPair(path.join(dir, "stack-key"), "stack-key-pw");
        const other = await keyPair(path.join(dir, "other-key"), "other-pw");
        const nonce = Date.now().toString(36);
        const page = (v: string) => ["FROM BASE\nCOPY version.html nonce /usr/share/nginx/html/\n", { "version.html": `<h1>This is ${v}</h1>\n`, nonce: `${v} ${nonce}` }] as const;
        for (const v of ["lp-unsigned", "lp-other", "lp-signed"]) refs[v] = await pushTestImage(`${v}-${nonce}`, ...page(v));
        await sign(refs["lp-other"], { privateKey: other.privateKey, password: "other-pw" }, push);
        await sign(refs["lp-signed"], { privateKey: key.privateKey, password: "stack-key-pw" }, push);
        secrets.push(env.STS_CANARY_REGISTRY_PASSWORD, env.STS_CANARY_PULL_PASSWORD, "stack-key-pw", key.privateKey.split("\n")[1]);

        stack = await localStack(STACK, {
            namespace: NAMESPACE, createNamespace: "false", appName: APP, nodePort: "30097", replicas: "5", versions: ["v1", "v2"],
            pinnedImages: Object.entries(refs).map(([v, ref]) => `${v}=${ref}`),
            imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "240", readyTimeoutSeconds: "60", checkVersionPage: "false",
            requirePullCredentials: "true", cosignPublicKey: key.publicKey, cosignPrivateKey: key.privateKey, cosignPassword: "stack-key-pw",
            "kubernetes:kubeconfig": kubeconfigs.deployer,
        }, ["cosignPrivateKey", "cosignPassword"]);
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await setConfig(stack, { "kubernetes:kubeconfig": env.KUBECONFIG });
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
        await deleteNamespaces(NAMESPACE);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs the canary flow with the namespace-scoped Role, which cannot even create a namespace", async () => {
        const can = (verb: string, resource: string) => kubectl(["auth", "can-i", verb, resource, "-n", NAMESPACE, `--as=system:serviceaccount:${NAMESPACE}:deployer`]).then((t) => t.trim(), () => "no");
        assert.deepStrictEqual([await can("create", "namespaces"), await can("list", "nodes"), await can("create", "statefulsets")], ["no", "no", "yes"]);
        await up({}, "v1 on 5 pods as the deployer ServiceAccount");
        await up({ imageTag: "v2", partition: "3" }, "canary v2 on web-3..web-4");
        const now = await pods();
        assert.deepStrictEqual(tags(now), ["v1", "v1", "v1", "v2", "v2"]);
        assert.ok(now.every((p) => p.ready));
    });

    it("the pods pulled with the pull-only account, whose credentials cannot push; no pushing credential is in the namespace", async () => {
        const secret = await kubectlJson(["get", "secret", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=web", "-o", "json"]);
        const pull = secret.items.filter((s: any) => s.type === "kubernetes.io/dockerconfigjson");
        assert.strictEqual(pull.length, 1);
        const auths = JSON.parse(Buffer.from(pull[0].data[".dockerconfigjson"], "base64").toString()).auths;
        const { username, password } = auths[env.STS_CANARY_REGISTRY];
        assert.strictEqual(username, "robot$library+puller");
        // Who pulled: the registry front logs the account of every request.
        const front = fs.readFileSync(env.STS_CANARY_REGISTRY_FRONT_ACCESS_LOG, "utf8").split("\n");
        const pulls = front.filter((l) => /"GET \/v2\/library\/version-test\/manifests\//.test(l) && / 200$/.test(l));
        assert.ok(pulls.some((l) => l.includes(" robot$library+puller ")), "no manifest pulled by the robot account");
        // Its credentials push nothing: the registry answers 403.
        const denied = await pushWith(username, password);
        log(`push with the namespace's pull Secret: ${denied}`);
        assert.match(denied, /denied|may pull only/i);
        // Nothing in the namespace holds the pushing account.
        const everything = await kubectl(["get", "secrets,configmaps,pods,statefulsets,services,controllerrevisions", "-n", NAMESPACE, "-o", "json"]);
        const decoded = everything + Buffer.from(everything.match(/"[A-Za-z0-9+/=]{16,}"/g)?.join("") ?? "").toString();
        for (const needle of [env.STS_CANARY_REGISTRY_PASSWORD, Buffer.from(`${env.STS_CANARY_REGISTRY_USER}:${env.STS_CANARY_REGISTRY_PASSWORD}`).toString("base64")]) {
            assert.ok(!everything.includes(needle) && !decoded.includes(needle), "a pushing credential is in the namespace");
        }
    });

    async function pushWith(username: string, password: string): Promise<string> {
        const config = fs.mkdtempSync(path.join(dir, "docker-"));
        const docker = (args: string[], input = "") => new Promise<{ code: number; out: string }>((resolve) => {
            const child = spawn("docker", ["--config", config, ...args], { stdio: ["pipe", "pipe", "pipe"] });
            let out = "";
            child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
            child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
            child.on("close", (code) => resolve({ code: code ?? 1, out }));
            child.stdin.end(input);
        });
        const login = await docker(["login", env.STS_CANARY_REGISTRY, "--username", username, "--password-stdin"], password);
        assert.strictEqual(login.code, 0, login.out);
        const image = `${env.STS_CANARY_REGISTRY}/library/version-test:pushed-by-robot`;
        await docker(["tag", env.STS_CANARY_BASE_IMAGE, image]);
        const pushed = await docker(["push", image]);
        assert.notStrictEqual(pushed.code, 0, "the pull account pushed an image");
        return pushed.out.trim().split("\n").pop() ?? "";
    }

    it("previews a change with the read-only Role, and nothing changes", async () => {
        const before = await getStatefulSet(NAMESPACE, APP);
        await setConfig(stack, { "kubernetes:kubeconfig": kubeconfigs.previewer });
        try {
            const same = await stack.preview({ color: "never", onOutput: (line) => output.push(line) });
            log(`preview without a change as the previewer ServiceAccount: ${JSON.stringify(same.changeSummary)}`);
            assert.deepStrictEqual(Object.keys(same.changeSummary).filter((k) => k !== "same"), []);
            await setConfig(stack, { partition: "2" });
            const step = await stack.preview({ color: "never", diff: true, onOutput: (line) => output.push(line) });
            log(`preview of partition 3 -> 2 as the previewer: ${JSON.stringify(step.changeSummary)}`);
            assert.match(step.stdout, /kubernetes:apps\/v1:StatefulSet: \(update\)/);
            assert.match(step.stdout, /partition\s*: 3 => 2/);
        } finally {
            await setConfig(stack, { "kubernetes:kubeconfig": kubeconfigs.deployer, partition: "3" });
        }
        assert.strictEqual((await getStatefulSet(NAMESPACE, APP))?.generation, before?.generation, "the preview changed the StatefulSet");
    });

    it("names the missing right (verb and resource) and does not hang", async () => {
        await setConfig(stack, { "kubernetes:kubeconfig": kubeconfigs.limited });
        try {
            const started = Date.now();
            const message = await refused({ partition: "2" }, "a step without the right to list pods");
            const seconds = (Date.now() - started) / 1000;
            assert.match(message, /cannot list resource "pods" in API group "" in the namespace "e2e-lp"/);
            assert.ok(seconds < 60, `took ${seconds}s`);
        } finally {
            await setConfig(stack, { "kubernetes:kubeconfig": kubeconfigs.deployer, partition: "3" });
        }
        await up({}, "the deployer again");
    });

    for (const [version, why] of [["lp-unsigned", /the image has no signature/], ["lp-other", /signed, but not by this key/]] as const) {
        it(`refuses ${version} at preview and up, before the StatefulSet changes`, async () => {
            const before = await getStatefulSet(NAMESPACE, APP);
            await setConfig(stack, { imageTag: version, partition: "4" });
            const preview = await stack.preview({ color: "never" }).then(() => undefined, (err: Error) => String(err.message));
            assert.ok(preview, "the preview passed");
            assert.match(preview, new RegExp(`is not signed by the stack's public key \\(key 1: ${why.source}\\): refused before the StatefulSet's template changes`));
            const message = await refused({ imageTag: version, partition: "4" }, `template on ${version}`);
            assert.match(message, why);
            const after = await getStatefulSet(NAMESPACE, APP);
            assert.strictEqual(after?.generation, before?.generation, "the StatefulSet changed");
            await setConfig(stack, { imageTag: "v2", partition: "3" });
        });
    }

    it("accepts a digest signed by CI with the stack's key", async () => {
        await up({ imageTag: "lp-signed", partition: "4" }, "template on lp-signed");
        const now = await pods();
        assert.strictEqual(now[4].image, refs["lp-signed"]);
        await up({ imageTag: "v1", partition: "0" }, "back to v1 everywhere");
    });

    it("keeps passwords and keys out of the stack's state, config file and output", async () => {
        const backend = (env.PULUMI_BACKEND_URL ?? "").replace(/^file:\/\//, "");
        const state = fs.readFileSync(path.join(backend, ".pulumi", "stacks", "sts-canary", `${STACK}.json`), "utf8");
        const stackFile = fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`), "utf8");
        const outputs = JSON.stringify(await stack.outputs());
        for (const secret of secrets) {
            for (const [where, text] of [["state", state], ["stack file", stackFile], ["outputs", outputs], ["up/preview output", output.join("")]]) {
                assert.ok(!text.includes(secret), `a secret is in the ${where}`);
            }
        }
    });
});
