import * as assert from "assert";
import { load } from "js-yaml";
import { deploy, DeployDeps, GitPort } from "../../../tool/commands/deploy";
import {
    ABSENT, DeployOutcome, GitSide, KeyValues, canonical, deployMessage, exitOf, judgeDeployed, parseDeployMessage, parseProjectFile, parseStackFile,
    renderReport, revertMessage, secretsToKeep, stackFileName, valuesOf, withSecretsSettings, workingDifferences,
} from "../../../tool/deploy/desired";
import { EXIT, RefusedError, UpFailed } from "../../../tool/errors";
import { OperationStore } from "../../../tool/operation";
import { StackConfig } from "../../../tool/ports";
import { ALICE, FakeClock, FakeCluster, FakeStack, PROJECT } from "./fakes";

const C0 = "0".repeat(39) + "a";
const C1 = "1".repeat(39) + "b";
const C2 = "2".repeat(39) + "c";

describe("tool: deploy - canonical values and the project's defaults", () => {
    const values: [unknown, string][] = [
        ["v2", "v2"], [3, "3"], ["3", "3"], [true, "true"], ["true", "true"], [undefined, ABSENT], [null, ""],
        [["b", "a"], "[\"b\",\"a\"]"], ["[\"b\",\"a\"]", "[\"b\",\"a\"]"], ["[ \"b\", \"a\" ]", "[\"b\",\"a\"]"],
        [{ b: 1, a: [{ d: 1, c: 2 }] }, "{\"a\":[{\"c\":2,\"d\":1}],\"b\":1}"], ["{\"b\":1,\"a\":2}", "{\"a\":2,\"b\":1}"],
        ["[not json", "[not json"], [{ secure: "v1:abc" }, "[secret]"], [[], "[]"],
    ];
    for (const [value, expected] of values) it(`${JSON.stringify(value)} -> ${expected}`, () => assert.strictEqual(canonical(value), expected));

    it("reads Pulumi.yaml's defaults: declarations with a default or value, plain values, namespaced keys; none for a declaration without one", () => {
        const project = parseProjectFile([
            "name: shop", "stackConfigDir: stacks", "config:",
            "  partition: {type: integer, default: 0}", "  replicas:", "    type: integer", "    default: 5",
            "  imageTag: {type: string, value: v1}", "  pinnedImages: {type: array, default: []}", "  registryPassword: {type: string, secret: true}",
            "  kubernetes:context: local", "  shop:region: eu", "  tags: {team: web}",
        ].join("\n"));
        assert.strictEqual(project.name, "shop");
        assert.strictEqual(project.stackConfigDir, "stacks");
        assert.deepStrictEqual(project.defaults, {
            "shop:partition": 0, "shop:replicas": 5, "shop:imageTag": "v1", "shop:pinnedImages": [], "kubernetes:context": "local",
            "shop:region": "eu", "shop:tags": { team: "web" },
        });
    });

    it("refuses a Pulumi.yaml without a name or that is not YAML, naming the file", () => {
        assert.throws(() => parseProjectFile("config: {}", "Pulumi.yaml at abc"), (e: Error) => e instanceof RefusedError && /Pulumi.yaml at abc has no project name/.test(e.message));
        assert.throws(() => parseProjectFile("name: [", "Pulumi.yaml"), /Pulumi.yaml is not valid YAML/);
    });

    const keys = ["shop:imageTag", "shop:partition", "shop:replicas", "shop:pinnedImages"];
    const defaults = { "shop:partition": 0, "shop:replicas": 5, "shop:pinnedImages": [] };
    const files: [string, string | undefined, KeyValues][] = [
        ["every key set", "config:\n  shop:imageTag: v2\n  shop:partition: 3\n  shop:replicas: 4\n  shop:pinnedImages: [\"v2=r@sha256:a\"]\n",
            { "shop:imageTag": "v2", "shop:partition": "3", "shop:replicas": "4", "shop:pinnedImages": "[\"v2=r@sha256:a\"]" }],
        ["absent keys take the defaults, then absent", "config:\n  shop:partition: \"2\"\n",
            { "shop:imageTag": ABSENT, "shop:partition": "2", "shop:replicas": "5", "shop:pinnedImages": "[]" }],
        ["keys without the project's namespace are the project's", "config:\n  imageTag: v3\n", { "shop:imageTag": "v3", "shop:partition": "0", "shop:replicas": "5", "shop:pinnedImages": "[]" }],
        ["a file absent in that commit", undefined, { "shop:imageTag": ABSENT, "shop:partition": "0", "shop:replicas": "5", "shop:pinnedImages": "[]" }],
        ["a file without config", "encryptionsalt: v1:x\n", { "shop:imageTag": ABSENT, "shop:partition": "0", "shop:replicas": "5", "shop:pinnedImages": "[]" }],
    ];
    for (const [what, text, expected] of files) {
        it(`stack file: ${what}`, () => assert.deepStrictEqual(valuesOf(keys, parseStackFile(text, "shop", "Pulumi.dev.yaml"), defaults), expected));
    }

    it("a stack file's list equals the same list as `pulumi config` and the history show it (JSON text)", () => {
        const file = valuesOf(keys, parseStackFile("config:\n  shop:pinnedImages:\n    - v2=r@sha256:a\n", "shop", "f"), defaults);
        const history = valuesOf(keys, { "shop:pinnedImages": "[\"v2=r@sha256:a\"]" }, defaults);
        assert.strictEqual(file["shop:pinnedImages"], history["shop:pinnedImages"]);
    });

    const names: [string, string | undefined, string][] = [["dev", undefined, "Pulumi.dev.yaml"], ["acme/shop/prod", undefined, "Pulumi.prod.yaml"], ["dev", "stacks/", "stacks/Pulumi.dev.yaml"]];
    for (const [stack, dir, expected] of names) it(`stack file of ${stack} (${dir ?? "project dir"}) -> ${expected}`, () => assert.strictEqual(stackFileName(stack, dir), expected));
});

describe("tool: deploy - the verdict on the config the stack runs", () => {
    const keys = ["shop:imageTag", "shop:partition"];
    const v = (imageTag: string, partition: string): KeyValues => ({ "shop:imageTag": imageTag, "shop:partition": partition });
    const head: GitSide = { where: "at this commit", commit: C2, values: v("v3", "0") };
    const previous: GitSide = { where: `at the previous commit ${C1.slice(0, 12)}`, commit: C1, values: v("v2", "0") };
    const reverted: GitSide = { where: `at ${C0.slice(0, 12)}, the commit a deploy reverted to`, commit: C0, values: v("v1", "0") };
    const missing: GitSide = { where: "at the previous commit (deadbeef)", problem: "deadbeef names no commit in this checkout" };
    const cases: [string, { deployed?: KeyValues; others: GitSide[]; adoptGit?: boolean; keys?: string[] }, boolean, RegExp][] = [
        ["never updated", { others: [previous] }, true, /never updated/],
        ["no contract: no keys to compare", { deployed: v("v9", "4"), others: [previous], keys: [] }, true, /no stsCanary contract/],
        ["the config of HEAD (a re-run)", { deployed: v("v3", "0"), others: [previous] }, true, /at this commit/],
        ["the config of the previous commit (the usual merge)", { deployed: v("v2", "0"), others: [previous] }, true, /at the previous commit 111111111111/],
        ["the config a deploy's revert named", { deployed: v("v1", "0"), others: [previous, reverted] }, true, /the commit a deploy reverted to/],
        ["a tool step not committed", { deployed: v("v2", "3"), others: [previous] }, false, /config that git did not deploy/],
        ["a tool rollback's config equal to an older commit, not HEAD or previous", { deployed: v("v1", "0"), others: [previous] }, false, /config that git did not deploy/],
        ["previous unknown, HEAD differs", { deployed: v("v2", "0"), others: [missing] }, false, /did not deploy/],
        ["--adopt-git over a tool step", { deployed: v("v2", "3"), others: [previous], adoptGit: true }, true, /--adopt-git/],
    ];
    for (const [what, input, ok, why] of cases) {
        it(`${what} -> ${ok ? "passes" : "refused"}`, () => {
            const verdict = judgeDeployed({ keys: input.keys ?? keys, deployed: input.deployed, head, others: input.others, adoptGit: input.adoptGit ?? false, file: "Pulumi.dev.yaml" });
            assert.strictEqual(verdict.ok, ok);
            assert.match(verdict.why, why);
        });
    }

    it("a refusal names each differing key with both values, the other commits, and how to fix it", () => {
        const verdict = judgeDeployed({ keys, deployed: v("v2", "3"), head, others: [previous, missing], adoptGit: false, file: "Pulumi.dev.yaml" });
        assert.deepStrictEqual(verdict.differences, [
            "shop:imageTag: deployed v2, git v3 at this commit",
            "shop:partition: deployed 3, git 0 at this commit",
            "(nor at the previous commit 111111111111: shop:partition 0)",
            "(Pulumi.dev.yaml at the previous commit (deadbeef) could not be compared: deadbeef names no commit in this checkout)",
        ]);
        assert.match(verdict.fix ?? "", /commit the config the tool wrote.*--adopt-git/);
    });

    it("--adopt-git keeps the differences for the report", () => {
        const verdict = judgeDeployed({ keys, deployed: v("v2", "3"), head, others: [previous], adoptGit: true, file: "Pulumi.dev.yaml" });
        assert.ok(verdict.differences.includes("shop:partition: deployed 3, git 0 at this commit"));
    });

    it("the working file against HEAD's", () => {
        assert.deepStrictEqual(workingDifferences(keys, v("v3", "2"), v("v3", "0")), ["shop:partition: working file 2, git 0 at this commit"]);
        assert.deepStrictEqual(workingDifferences(keys, v("v3", "0"), v("v3", "0")), []);
    });
});

describe("tool: deploy - messages, secrets on revert, report", () => {
    const messages: [string | undefined, ReturnType<typeof parseDeployMessage>][] = [
        [deployMessage(C2), { kind: "deploy", commit: C2 }], [revertMessage(C1), { kind: "revert", commit: C1 }],
        [`  ${revertMessage(C1)}\n`, { kind: "revert", commit: C1 }], [`sts-canary deploy: reverted to ${C1.slice(0, 12)}`, undefined],
        [`sts-canary deploy ${C2} extra`, undefined], ["Merge pull request #4", undefined], ["", undefined], [undefined, undefined],
        [`sts-canary deploy ${"a".repeat(64)}`, { kind: "deploy", commit: "a".repeat(64) }],
    ];
    for (const [message, expected] of messages) it(`message ${JSON.stringify(message)}`, () => assert.deepStrictEqual(parseDeployMessage(message), expected));

    const before: StackConfig = {
        "shop:registryPassword": { value: "ci-push-pw", secret: true },
        "shop:pullPassword": { value: "ci-pull-pw", secret: true },
        "shop:cosignPassword": { value: "same-pw", secret: true },
        "shop:imageTag": { value: "v3", secret: false },
    };
    const keep: [string, StackConfig | undefined, string[]][] = [
        ["the previous file lacks them all", { "shop:imageTag": { value: "v2", secret: false } }, ["shop:registryPassword", "shop:pullPassword", "shop:cosignPassword"]],
        ["it has one with another value and one the same", {
            "shop:registryPassword": { value: "old-pw", secret: true }, "shop:cosignPassword": { value: "same-pw", secret: true },
        }, ["shop:registryPassword", "shop:pullPassword"]],
        ["it has one in plain text", { "shop:registryPassword": { value: "ci-push-pw", secret: false }, "shop:pullPassword": { value: "ci-pull-pw", secret: true }, "shop:cosignPassword": { value: "same-pw", secret: true } }, ["shop:registryPassword"]],
        ["its config could not be read: all of them", undefined, ["shop:registryPassword", "shop:pullPassword", "shop:cosignPassword"]],
    ];
    for (const [what, after, expected] of keep) {
        it(`secrets kept on revert: ${what}`, () => {
            const kept = secretsToKeep(before, after);
            assert.deepStrictEqual(Object.keys(kept), expected);
            for (const key of expected) assert.deepStrictEqual(kept[key], { value: before[key].value, secret: true });
        });
    }

    it("the previous file gets the working file's secrets settings it lacks, and keeps its own", () => {
        const working = "encryptionsalt: v1:new\nconfig:\n  shop:imageTag: v3\n";
        assert.strictEqual(withSecretsSettings("config:\n  shop:imageTag: v2\n", working), "encryptionsalt: v1:new\nconfig:\n  shop:imageTag: v2\n");
        assert.strictEqual(withSecretsSettings("encryptionsalt: v1:old\nconfig: {}\n", working), "encryptionsalt: v1:old\nconfig: {}\n");
        assert.strictEqual(withSecretsSettings("config: {}\n", "config: {}\n"), "config: {}\n");
    });

    const outcomes: [DeployOutcome, number, RegExp[]][] = [
        [{ kind: "deployed", commit: C2, summary: "5/5 pods v3 Ready", notes: [] }, EXIT.ok, [/^### deploy of `dev`: ✅ deployed 222222222222\n/, /5\/5 pods v3 Ready/]],
        [{ kind: "refused", why: "the stack runs config that git did not deploy", differences: ["shop:partition: deployed 3, git 0 at this commit"], fix: "commit it" },
            EXIT.refused, [/⛔ refused, nothing changed/, /- shop:partition: deployed 3, git 0 at this commit/, /To fix: commit it\./]],
        [{ kind: "locked", cause: "the stack is currently locked by 1 lock(s)", locks: [{ user: "bob", host: "ci", pid: 7, createdAt: "2026-11-25T12:00:00Z" }] },
            EXIT.locked, [/🔒 the state backend is locked, nothing changed/, /bob@ci pid 7/]],
        [{ kind: "interrupted", cause: "interrupted" }, EXIT.interrupted, [/interrupted/]],
        [{ kind: "reverted", commit: C2, cause: "rollout of StatefulSet sts/web failed: pod web-4 CrashLoopBackOff", previous: C1, summary: "5/5 pods v2 Ready", secretsKept: ["shop:registryPassword"], notes: [] },
            EXIT.rolledBack, [/❌ `pulumi up` failed/, /pod web-4 CrashLoopBackOff/, /↩️ Reverted: the stack file of 111111111111 is deployed again and healthy: 5\/5 pods v2 Ready/]],
        [{ kind: "revertFailed", commit: C2, cause: "rollout failed", previous: C1, revertCause: "rollout failed again", notes: [] },
            EXIT.rollbackFailed, [/❌ `pulumi up` failed/, /The revert to the stack file of 111111111111 did not recover the stack/, /rollout failed again/]],
    ];
    for (const [outcome, code, patterns] of outcomes) {
        it(`report of ${outcome.kind}: exit ${code}`, () => {
            assert.strictEqual(exitOf(outcome), code);
            const text = renderReport("dev", outcome, []);
            for (const pattern of patterns) assert.match(text, pattern);
        });
    }

    it("the report hides the secret values of the config (and other credentials)", () => {
        const text = renderReport("dev", {
            kind: "revertFailed", commit: C2, cause: "login to harbor with hunter2-robot failed; https://u:pw@h/x", previous: C1,
            revertCause: "pull with hunter2-robot failed", notes: [],
        }, ["hunter2-robot"]);
        assert.doesNotMatch(text, /hunter2-robot|u:pw@/);
        assert.match(text, /login to harbor with \*\*\* failed/);
    });
});

// ---------------------------------------------------------------------------------------------
// The command flow, on the fake stack and cluster, a fake git and an in-memory working file.

const PROJECT_FILE = `name: ${PROJECT}\nconfig:\n  partition: {type: integer, default: 0}\n  replicas: {type: integer, default: 5}\n  pinnedImages: {type: array, default: []}\n`;
const stackFile = (imageTag: string, partition = 0) => `config:\n  ${PROJECT}:imageTag: ${imageTag}\n  ${PROJECT}:partition: ${partition}\n  ${PROJECT}:registryServer: 127.0.0.1:5443\n  kubernetes:context: local\n`;
/** CI's `pulumi config set --secret registryPassword` in the working file (the fake "encrypts" with a prefix). */
const CI_SECRET = `encryptionsalt: v1:salt\n`;
const withCiSecret = (file: string) => `${CI_SECRET}${file}  ${PROJECT}:registryPassword:\n    secure: enc:s3cret-registry\n`;

/** The config Pulumi reads from a stack file: `secure: enc:<value>` decrypts to <value>. */
function configOfFile(text: string): StackConfig {
    const doc = (load(text) ?? {}) as { config?: Record<string, unknown> };
    const config: StackConfig = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        const secure = value !== null && typeof value === "object" && "secure" in value ? String((value as { secure: string }).secure) : undefined;
        if (secure !== undefined) config[key] = { value: secure.replace(/^enc:/, ""), secret: true };
        else if (Array.isArray(value)) config[key] = { value: JSON.stringify(value), objectValue: value, secret: false };
        else config[key] = { value: String(value), secret: false };
    }
    return config;
}

class FakeGit implements GitPort {
    /** commit -> path -> text. */
    readonly commits = new Map<string, Record<string, string>>();
    readonly revs = new Map<string, string>();

    add(commit: string, files: Record<string, string>, ...revs: string[]): this {
        this.commits.set(commit, files);
        for (const rev of revs) this.revs.set(rev, commit);
        return this;
    }

    async commit(rev: string): Promise<string | undefined> {
        return this.revs.get(rev) ?? (this.commits.has(rev) ? rev : undefined);
    }

    async show(commit: string, file: string): Promise<string | undefined> {
        const files = this.commits.get(commit);
        if (!files) throw new Error(`git cat-file: ${commit} is not a commit here`);
        return files[file];
    }
}

interface World {
    stack: FakeStack;
    cluster: FakeCluster;
    git: FakeGit;
    working: { text: string };
    deps: DeployDeps;
}

/** HEAD (C2) with imageTag `head`, the previous commit (C1) with `previous`, an older one (C0) with `older`; the working file is HEAD's plus CI's secret. */
function world(head: { imageTag: string; partition?: number }, previous: { imageTag: string; partition?: number }, older = { imageTag: "v1", partition: 0 }): World {
    const cluster = new FakeCluster(5, "v1");
    const stack = new FakeStack("dev", cluster);
    const git = new FakeGit()
        .add(C0, { "Pulumi.yaml": PROJECT_FILE, "Pulumi.dev.yaml": stackFile(older.imageTag, older.partition) })
        .add(C1, { "Pulumi.yaml": PROJECT_FILE, "Pulumi.dev.yaml": stackFile(previous.imageTag, previous.partition) }, "HEAD^")
        .add(C2, { "Pulumi.yaml": PROJECT_FILE, "Pulumi.dev.yaml": stackFile(head.imageTag, head.partition) }, "HEAD");
    const working = { text: withCiSecret(stackFile(head.imageTag, head.partition)) };
    stack.config = configOfFile(working.text);
    const deps: DeployDeps = {
        ctx: { stack, cluster, clock: new FakeClock(), signal: new AbortController().signal },
        git, stackFile: "Pulumi.dev.yaml", projectFile: "Pulumi.yaml",
        workFile: {
            read: async () => working.text,
            // Pulumi reads the working file: the fake stack's config follows it.
            write: async (text) => { working.text = text; stack.config = configOfFile(text); },
        },
        say: () => undefined, onOutput: () => undefined,
    };
    return { stack, cluster, git, working, deps };
}

/** The stack's history: one successful update with the config of `file` (as a deploy or the tool left it). */
function deployed(w: World, file: string, message: string): void {
    const config = configOfFile(file);
    w.stack.history.push({ message, config });
}

const OPTIONS = { previous: "HEAD^", policyPacks: ["/repo/policy"], adoptGit: false };

describe("tool: deploy - the command flow (fakes)", () => {
    it("exit 0: HEAD deployed over the previous commit's config, with its message and the policy packs", async () => {
        const w = world({ imageTag: "v2" }, { imageTag: "v1" });
        deployed(w, stackFile("v1"), deployMessage(C1));
        const { outcome, secrets } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(exitOf(outcome), EXIT.ok, JSON.stringify(outcome));
        assert.deepStrictEqual(w.stack.upOptions, [{ message: deployMessage(C2), policyPacks: ["/repo/policy"] }]);
        assert.strictEqual(w.cluster.templateVersion, "v2");
        assert.deepStrictEqual(secrets, ["s3cret-registry"]);
        assert.match(renderReport("dev", outcome, secrets), /✅ deployed 222222222222[\s\S]*all Ready/);
    });

    it("exit 0: a stack never updated passes the guard", async () => {
        const w = world({ imageTag: "v2" }, { imageTag: "v1" });
        const { outcome } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(outcome.kind, "deployed");
    });

    it("exit 0: the stack runs the config a deploy's revert named (neither HEAD's nor the previous commit's)", async () => {
        const w = world({ imageTag: "v3", partition: 4 }, { imageTag: "v2", partition: 4 }, { imageTag: "v1", partition: 0 });
        deployed(w, stackFile("v1", 0), revertMessage(C0));
        assert.strictEqual((await deploy(w.deps, OPTIONS)).outcome.kind, "deployed");
    });

    it("exit 0: the stack runs the config the last deploy deployed (its job for the previous commit ended locked)", async () => {
        const w = world({ imageTag: "v3", partition: 4 }, { imageTag: "v2", partition: 4 }, { imageTag: "v1", partition: 0 });
        deployed(w, stackFile("v1", 0), deployMessage(C0));
        assert.strictEqual((await deploy(w.deps, OPTIONS)).outcome.kind, "deployed");
    });

    it("exit 6: a tool rollback left an older commit's config without a deploy's message", async () => {
        const w = world({ imageTag: "v3", partition: 4 }, { imageTag: "v2", partition: 4 }, { imageTag: "v1", partition: 0 });
        deployed(w, stackFile("v1", 0), "");
        const { outcome } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(exitOf(outcome), EXIT.refused);
        assert.ok(!w.stack.calls.includes("up"));
    });

    it("exit 6: the stack runs a tool step not committed; the report lists the key; --adopt-git deploys git's config over it", async () => {
        const w = world({ imageTag: "v2" }, { imageTag: "v2" });
        deployed(w, stackFile("v2", 3), deployMessage(C1));
        const refused = await deploy(w.deps, OPTIONS);
        assert.strictEqual(exitOf(refused.outcome), EXIT.refused);
        const text = renderReport("dev", refused.outcome, refused.secrets);
        assert.match(text, /⛔ refused, nothing changed/);
        assert.match(text, /- shop:partition: deployed 3, git 0 at this commit/);
        assert.match(text, /--adopt-git/);
        assert.ok(!w.stack.calls.includes("up"), "nothing changed");
        const adopted = await deploy(w.deps, { ...OPTIONS, adoptGit: true });
        assert.strictEqual(exitOf(adopted.outcome), EXIT.ok);
        assert.match(renderReport("dev", adopted.outcome, []), /shop:partition: deployed 3, git 0 at this commit/);
    });

    it("exit 6: the working stack file is not HEAD's", async () => {
        const w = world({ imageTag: "v2" }, { imageTag: "v1" });
        await w.deps.workFile.write(withCiSecret(stackFile("v2", 2)));
        const { outcome } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(outcome.kind, "refused");
        assert.match(renderReport("dev", outcome, []), /shop:partition: working file 2, git 0 at this commit/);
    });

    it("exit 6: a tool operation holds the stack's lock in the cluster", async () => {
        const w = world({ imageTag: "v2" }, { imageTag: "v1" });
        const store = new OperationStore(w.cluster, w.cluster.namespace, w.cluster.name, "dev", w.deps.ctx.clock);
        const lock = await store.acquire(ALICE, () => undefined);
        try {
            const { outcome } = await deploy(w.deps, OPTIONS);
            assert.strictEqual(exitOf(outcome), EXIT.refused);
            assert.match(renderReport("dev", outcome, []), /a tool operation is in flight in the stack's cluster: .*alice/i);
            assert.ok(!w.stack.calls.includes("up"));
        } finally {
            await lock.release();
        }
    });

    it("exit 3: HEAD fails, the previous commit's file is deployed again with CI's secret, the working file is put back", async () => {
        const w = world({ imageTag: "v3" }, { imageTag: "v2" });
        deployed(w, stackFile("v2"), deployMessage(C1));
        w.stack.broken.add("v3");
        const original = w.working.text;
        const { outcome, secrets } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(exitOf(outcome), EXIT.rolledBack, JSON.stringify(outcome));
        assert.deepStrictEqual(w.stack.upOptions.map((o) => o.message), [deployMessage(C2), revertMessage(C1)]);
        assert.ok(w.stack.calls.includes("setConfig registryPassword=s3cret-registry"), w.stack.calls.join(", "));
        assert.strictEqual(w.cluster.templateVersion, "v2");
        assert.strictEqual(w.working.text, original);
        assert.match(renderReport("dev", outcome, secrets), /↩️ Reverted: the stack file of 111111111111 is deployed again and healthy: all Ready/);
        // The next deploy (a fix on top) passes: the stack runs the config the revert named.
        w.stack.broken.delete("v3");
        assert.strictEqual((await deploy(w.deps, { ...OPTIONS, previous: C2 })).outcome.kind, "deployed");
    });

    it("exit 3: a failure whose text holds a secret is reported with the secret hidden", async () => {
        const w = world({ imageTag: "v2" }, { imageTag: "v1" });
        w.stack.onUp = (n) => {
            if (n === 1) throw new UpFailed("docker login 127.0.0.1:5443 with s3cret-registry: unauthorized");
        };
        const { outcome, secrets } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(exitOf(outcome), EXIT.rolledBack);
        const text = renderReport("dev", outcome, secrets);
        assert.match(text, /docker login 127\.0\.0\.1:5443 with \*\*\*: unauthorized/);
        assert.doesNotMatch(text, /s3cret-registry/);
    });

    it("exit 4: the revert fails too; the working file is still put back", async () => {
        const w = world({ imageTag: "v3" }, { imageTag: "v2" });
        deployed(w, stackFile("v2"), deployMessage(C1));
        w.stack.broken.add("v3");
        w.stack.broken.add("v2");
        const original = w.working.text;
        const { outcome } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(exitOf(outcome), EXIT.rollbackFailed);
        assert.strictEqual(w.working.text, original);
        assert.match(renderReport("dev", outcome, []), /did not recover the stack/);
    });

    it("exit 4: no previous commit to go back to (never an uncaught throw)", async () => {
        const w = world({ imageTag: "v3" }, { imageTag: "v2" });
        w.stack.broken.add("v3");
        const { outcome } = await deploy(w.deps, { ...OPTIONS, previous: "f".repeat(40) });
        assert.strictEqual(exitOf(outcome), EXIT.rollbackFailed);
        assert.match(renderReport("dev", outcome, []), /names no commit in this checkout/);
    });

    it("exit 7: the state backend is locked: reported, no revert", async () => {
        const w = world({ imageTag: "v2" }, { imageTag: "v1" });
        w.stack.backendLock = { user: "bob", host: "ci-runner", pid: 222, createdAt: "2026-11-25T12:00:00Z" };
        const { outcome } = await deploy(w.deps, OPTIONS);
        assert.strictEqual(exitOf(outcome), EXIT.locked);
        assert.deepStrictEqual(w.stack.calls.filter((c) => c === "up"), ["up"]);
        assert.match(renderReport("dev", outcome, []), /bob@ci-runner pid 222/);
    });
});
