/**
 * The team path on a real forge (the platform's Gitea): this repository pushed to it, every CI
 * "job" a fresh clone of one commit that runs the command its workflow runs (pr-comment on a pull
 * request, deploy on main), and the operator's `promote-env --pr`. Comments, pull requests and
 * merges go through Gitea's API; pods are read from the cluster.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { getPods, tagOf } from "./kubectl";
import { setConfig } from "./stack";
import {
    CliResult, PLATFORM_SECRET_KEYS, REPO_ROOT, deleteNamespaces, forgetStack, loadPlatformEnv, platformSettingsSplit, pushTestImage, run, runCli,
} from "./platform";

const log = (line: string) => console.log(`      ${line}`);
const DEV = "e2e-forge-dev";
const PROD = "e2e-forge-prod";
const NAMESPACES: Record<string, string> = { [DEV]: "e2e-forge-dev", [PROD]: "e2e-forge-prod" };

interface Gitea { url: string; token: string; user: string; repo: string }

/** One call of Gitea's API (GitHub's shapes for what the tool uses). */
async function api<T = any>(gitea: Gitea, method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${gitea.url}/api/v1${route}`, {
        method, headers: { authorization: `token ${gitea.token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
}

function git(cwd: string, ...args: string[]): Promise<string> {
    return run("git", ["-C", cwd, "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", ...args], 120_000);
}

/** A fresh clone of `ref`, ready to run the program as CI would after `npm ci && npm run build` (linked, not rebuilt). */
async function checkout(gitea: Gitea, ref: string): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-job-"));
    await run("git", ["clone", "-q", "--branch", ref, remoteUrl(gitea), dir], 120_000);
    for (const link of ["node_modules", "dist"]) fs.symlinkSync(path.join(REPO_ROOT, link), path.join(dir, link));
    return dir;
}

const remoteUrl = (gitea: Gitea) => `${gitea.url.replace("://", `://${gitea.user}:${gitea.token}@`)}/${gitea.user}/${gitea.repo}.git`;

async function openStackIn(dir: string, name: string): Promise<Stack> {
    return LocalWorkspace.selectStack({ stackName: name, workDir: dir }, { envVars: loadPlatformEnv() });
}

/** The CI secrets a job sets into the stack file of its checkout (never committed). */
async function setCiSecrets(dir: string, stack: string): Promise<void> {
    await setConfig(await openStackIn(dir, stack), platformSettingsSplit(loadPlatformEnv()).secrets, PLATFORM_SECRET_KEYS);
}

/** A CI job: a fresh clone of `ref`, the CI secrets of `stack`, then the tool's command as the workflow runs it. */
async function job(gitea: Gitea, ref: string, stacks: string[], args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult & { summary: string }> {
    const dir = await checkout(gitea, ref);
    const summaryFile = path.join(dir, "..", `${path.basename(dir)}-summary.md`);
    try {
        for (const stack of stacks) await setCiSecrets(dir, stack);
        const env = {
            ...process.env, ...loadPlatformEnv(), GITHUB_API_URL: `${gitea.url}/api/v1`, GITHUB_REPOSITORY: `${gitea.user}/${gitea.repo}`,
            STS_CANARY_FORGE_TOKEN: gitea.token, GITHUB_STEP_SUMMARY: summaryFile, ...extraEnv,
        };
        const result = await runCli(["-C", dir, ...args], { cwd: dir, env, timeoutMs: 600_000 });
        log(`job ${ref}: sts-canary ${args.join(" ")} -> exit ${result.code} in ${result.seconds.toFixed(1)}s`);
        const summary = fs.existsSync(summaryFile) ? fs.readFileSync(summaryFile, "utf8") : "";
        return { ...result, summary };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(summaryFile, { force: true });
    }
}

/** A commit on `branch` (new from `from` when given) that sets config keys of a stack in git, pushed. */
async function commitConfig(gitea: Gitea, branch: string, stack: string, values: Record<string, string | string[]>, message: string, from?: string): Promise<string> {
    const dir = await checkout(gitea, from ?? branch);
    try {
        if (from) await git(dir, "checkout", "-q", "-b", branch);
        await setConfig(await openStackIn(dir, stack), values);
        await git(dir, "add", `Pulumi.${stack}.yaml`);
        await git(dir, "commit", "-q", "-m", message);
        await git(dir, "push", "-q", "origin", branch);
        return (await git(dir, "rev-parse", "HEAD")).trim();
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function comments(gitea: Gitea, pr: number): Promise<{ id: number; body: string }[]> {
    return api(gitea, "GET", `/repos/${gitea.user}/${gitea.repo}/issues/${pr}/comments`);
}

async function openPr(gitea: Gitea, head: string, title: string): Promise<number> {
    return (await api(gitea, "POST", `/repos/${gitea.user}/${gitea.repo}/pulls`, { head, base: "main", title })).number;
}

async function merge(gitea: Gitea, pr: number): Promise<void> {
    await api(gitea, "POST", `/repos/${gitea.user}/${gitea.repo}/pulls/${pr}/merge`, { Do: "merge" });
}

async function versions(stack: string): Promise<string[]> {
    return (await getPods(NAMESPACES[stack], "shop")).map((p) => tagOf(p.image) ?? "?");
}

describe("the team path on a real forge (Gitea): PR comments, promotion PR, deploy", function () {
    let gitea: Gitea;
    let seed: string;

    before(async function () {
        const env = loadPlatformEnv();
        if (!env.STS_CANARY_GITEA_URL) throw new Error("the platform has no Gitea (platform/gitea.sh): run platform/up.sh");
        gitea = {
            url: env.STS_CANARY_GITEA_URL, token: fs.readFileSync(env.STS_CANARY_GITEA_TOKEN_FILE, "utf8").trim(),
            user: env.STS_CANARY_GITEA_USER, repo: `sts-canary-e2e-${Math.random().toString(36).slice(2, 10)}`,
        };
        await api(gitea, "POST", "/user/repos", { name: gitea.repo, default_branch: "main", private: true });
        for (const stack of [DEV, PROD]) await forgetStack(stack);
        await deleteNamespaces(...Object.values(NAMESPACES));
        // This repository's committed tree as the forge's main, with the two stacks' files (no secrets in them).
        seed = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-seed-"));
        await run("bash", ["-c", `git -C "${REPO_ROOT}" archive HEAD | tar -x -C "${seed}"`]);
        await git(seed, "init", "-q", "-b", "main");
        for (const [stack, nodePort] of [[DEV, "30095"], [PROD, "30096"]]) {
            const created = await LocalWorkspace.createStack({ stackName: stack, workDir: seed }, { envVars: env });
            await setConfig(created, {
                namespace: NAMESPACES[stack], appName: "shop", nodePort, replicas: "3", versions: ["v1", "v2"], imageTag: "v1", partition: "0",
                bakeSeconds: "2", ...platformSettingsSplit(env).plain,
            });
        }
        await git(seed, "add", "-A", ".");
        await git(seed, "add", "-f", `Pulumi.${DEV}.yaml`, `Pulumi.${PROD}.yaml`);
        await git(seed, "commit", "-q", "-m", "sts-canary with the e2e stacks");
        await git(seed, "remote", "add", "origin", remoteUrl(gitea));
        await git(seed, "push", "-q", "origin", "main");
        for (const link of ["node_modules", "dist"]) fs.symlinkSync(path.join(REPO_ROOT, link), path.join(seed, link));
        for (const stack of [DEV, PROD]) {
            const result = await job(gitea, "main", [stack], ["deploy", stack, "--policy-pack", "policy"]);
            assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        }
    });

    after(async () => {
        if (process.env.STS_CANARY_KEEP_E2E === "1") return;
        for (const stack of [DEV, PROD]) {
            const s = await openStackIn(seed, stack).catch(() => undefined);
            if (s) {
                await setCiSecrets(seed, stack).catch(() => undefined);
                await s.destroy({ color: "never" }).catch(() => undefined);
            }
            await forgetStack(stack).catch(() => undefined);
        }
        await deleteNamespaces(...Object.values(NAMESPACES));
        await api(gitea, "DELETE", `/repos/${gitea.user}/${gitea.repo}`).catch(() => undefined);
        fs.rmSync(seed, { recursive: true, force: true });
    });

    let canaryPr: number;

    it("comments once per stack on a PR that moves dev's partition, and edits the same comments on the next push", async () => {
        await commitConfig(gitea, "canary-v2", DEV, { imageTag: "v2", partition: "2" }, "dev: canary v2 on one pod", "main");
        canaryPr = await openPr(gitea, "canary-v2", "dev: canary v2 on one pod");
        const first = await job(gitea, "canary-v2", [DEV, PROD], ["pr-comment", DEV, PROD, "--policy-pack", "policy"], { STS_CANARY_PR: String(canaryPr) });
        assert.strictEqual(first.code, 0, first.stdout + first.stderr);
        const written = await comments(gitea, canaryPr);
        assert.strictEqual(written.length, 2, JSON.stringify(written.map((c) => c.body.slice(0, 80))));
        const dev = written.find((c) => c.body.includes(`sts-canary:preview sts-canary/${DEV}`))!;
        const prod = written.find((c) => c.body.includes(`sts-canary:preview sts-canary/${PROD}`))!;
        log(dev.body.split("\n").slice(1, 14).join("\n      "));
        assert.match(dev.body, /pods shop-2: v1 -> v2; shop-0\.\.shop-1 stay on v1/);
        assert.match(dev.body, /\| shop-2 \| v1 \| \*\*v2\*\* \|/);
        assert.match(prod.body, /no change/);
        assert.doesNotMatch(dev.body + prod.body, new RegExp(loadPlatformEnv().STS_CANARY_REGISTRY_PASSWORD.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
        // The next push: the same two comments are edited, none is added.
        await commitConfig(gitea, "canary-v2", DEV, { bakeSeconds: "3" }, "dev: bake 3 s");
        const second = await job(gitea, "canary-v2", [DEV, PROD], ["pr-comment", DEV, PROD, "--policy-pack", "policy"], { STS_CANARY_PR: String(canaryPr) });
        assert.strictEqual(second.code, 0, second.stdout + second.stderr);
        const again = await comments(gitea, canaryPr);
        assert.deepStrictEqual(again.map((c) => c.id).sort(), written.map((c) => c.id).sort());
        assert.match(again.find((c) => c.id === dev.id)!.body, /bake 3s/);
    });

    it("shows the validation error of a bad partition in the comment (not a stack trace), and the job fails", async () => {
        await commitConfig(gitea, "bad-partition", DEV, { partition: "9" }, "dev: partition 9", "main");
        const pr = await openPr(gitea, "bad-partition", "dev: partition 9");
        const result = await job(gitea, "bad-partition", [DEV], ["pr-comment", DEV, "--policy-pack", "policy"], { STS_CANARY_PR: String(pr) });
        assert.strictEqual(result.code, 1, result.stdout + result.stderr);
        const [comment] = await comments(gitea, pr);
        log(comment.body.split("\n").slice(1, 8).join("\n      "));
        assert.match(comment.body, /the preview failed/);
        assert.match(comment.body, /partition: 9 is out of range; allowed 0\.\.3/);
        assert.doesNotMatch(comment.body, /^\s+at .*\.(js|ts):\d+/m, "a stack trace is in the comment");
    });

    it("deploys dev when the PR is merged; promote-env --pr opens dev -> prod with the digest and evidence; merged, deploy moves prod", async () => {
        await merge(gitea, canaryPr);
        const merged = await job(gitea, "main", [DEV], ["deploy", DEV, "--previous", "HEAD^", "--policy-pack", "policy"]);
        assert.strictEqual(merged.code, 0, merged.stdout + merged.stderr);
        assert.deepStrictEqual(await versions(DEV), ["v1", "v1", "v2"]);
        await commitConfig(gitea, "main", DEV, { partition: "0" }, "dev: v2 everywhere");
        const full = await job(gitea, "main", [DEV], ["deploy", DEV, "--policy-pack", "policy"]);
        assert.strictEqual(full.code, 0, full.stdout + full.stderr);
        assert.deepStrictEqual(await versions(DEV), ["v2", "v2", "v2"]);
        // The operator's checkout of main: promote-env --pr pushes a branch and opens the pull request; the checkout stays as it was.
        const operator = await checkout(gitea, "main");
        try {
            // The operator's own secrets, as for every tool verb (the tool reads both stacks' config).
            for (const stack of [DEV, PROD]) await setCiSecrets(operator, stack);
            const head = await git(operator, "rev-parse", "HEAD");
            const status = await git(operator, "status", "--porcelain");
            const result = await runCli(["-C", operator, "promote-env", "--from", DEV, "--to", PROD, "--pr"], {
                cwd: operator, env: { ...process.env, ...loadPlatformEnv(), GITHUB_API_URL: `${gitea.url}/api/v1`, GITHUB_REPOSITORY: `${gitea.user}/${gitea.repo}`, STS_CANARY_FORGE_TOKEN: gitea.token },
            });
            log(result.stdout.trim().split("\n").slice(-2).join("\n      "));
            assert.strictEqual(result.code, 0, result.stdout + result.stderr);
            assert.strictEqual(await git(operator, "rev-parse", "HEAD"), head);
            assert.strictEqual(await git(operator, "status", "--porcelain"), status);
        } finally {
            fs.rmSync(operator, { recursive: true, force: true });
        }
        const pulls = await api<{ number: number; title: string; body: string }[]>(gitea, "GET", `/repos/${gitea.user}/${gitea.repo}/pulls?state=open`);
        const promotion = pulls.find((p) => /^Promote v2 from e2e-forge-dev to e2e-forge-prod/.test(p.title));
        assert.ok(promotion, JSON.stringify(pulls.map((p) => p.title)));
        log(`#${promotion.number} ${promotion.title}`);
        const devRef = String((await (await openStackIn(seed, DEV)).outputs()).images.value.v2);
        assert.ok(promotion.body.includes(devRef), "the body names the pinned reference verified in dev");
        assert.match(promotion.title, /partition 2\)$/);
        await merge(gitea, promotion.number);
        const deployed = await job(gitea, "main", [PROD], ["deploy", PROD, "--previous", "HEAD^", "--policy-pack", "policy"]);
        assert.strictEqual(deployed.code, 0, deployed.stdout + deployed.stderr);
        const pods = await getPods(NAMESPACES[PROD], "shop");
        assert.deepStrictEqual(pods.map((p) => tagOf(p.image)), ["v1", "v1", "v2"]);
        assert.strictEqual(pods[2].image, devRef, "prod runs the digest verified in dev");
    });

    it("reverts a failed deploy to the previous commit's stack file, recovers and reports (exit 3)", async () => {
        const broken = await pushTestImage("v3-forge", 'FROM BASE\nCMD ["nginx", "-g", "daemon off; no_such_directive on;"]\n');
        const good = await commitConfig(gitea, "main", DEV, { pinnedImages: [`v3-forge=${broken}`] }, "dev: v3 can be deployed");
        assert.strictEqual((await job(gitea, "main", [DEV], ["deploy", DEV, "--policy-pack", "policy"])).code, 0);
        await commitConfig(gitea, "main", DEV, { imageTag: "v3-forge", partition: "2" }, "dev: canary v3");
        const result = await job(gitea, "main", [DEV], ["deploy", DEV, "--previous", good, "--policy-pack", "policy"]);
        log(result.summary.trim().split("\n").join("\n      "));
        assert.strictEqual(result.code, 3, result.stdout + result.stderr);
        assert.match(result.summary, /shop-2[\s\S]*CrashLoopBackOff/);
        assert.match(result.summary, /Reverted/);
        assert.deepStrictEqual(await versions(DEV), ["v2", "v2", "v2"]);
        // Git is put right for the next test (the broken commit is reverted in git too).
        await commitConfig(gitea, "main", DEV, { imageTag: "v2", partition: "0" }, "dev: back to v2");
        assert.strictEqual((await job(gitea, "main", [DEV], ["deploy", DEV, "--previous", good])).code, 0);
    });

    it("refuses to deploy over config deployed outside git (exit 6), and deploys once git holds it", async () => {
        const operator = await checkout(gitea, "main");
        try {
            await setCiSecrets(operator, DEV);
            const stack = await openStackIn(operator, DEV);
            await setConfig(stack, { replicas: "2" });
            await stack.up({ color: "never" });
        } finally {
            fs.rmSync(operator, { recursive: true, force: true });
        }
        const refused = await job(gitea, "main", [DEV], ["deploy", DEV, "--policy-pack", "policy"]);
        log(refused.summary.trim().split("\n").join("\n      "));
        assert.strictEqual(refused.code, 6, refused.stdout + refused.stderr);
        assert.match(refused.summary + refused.stdout, /replicas: deployed 2, git 3/);
        assert.strictEqual((await getPods(NAMESPACES[DEV], "shop")).length, 2, "the refused deploy changed the StatefulSet");
        await commitConfig(gitea, "main", DEV, { replicas: "2" }, "dev: 2 replicas (as deployed)");
        const adopted = await job(gitea, "main", [DEV], ["deploy", DEV, "--policy-pack", "policy"]);
        assert.strictEqual(adopted.code, 0, adopted.stdout + adopted.stderr);
    });
});
