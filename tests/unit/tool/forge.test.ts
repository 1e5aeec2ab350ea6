/**
 * The forge side of the tool: the CI variables that say where the forge is, one comment per marker
 * on a pull request (a paged in-memory forge), OctokitForge against a local GitHub-shaped HTTP
 * server, the git runner, and promotion pull requests against a temporary bare repository.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { RefusedError, UsageError } from "../../../tool/errors";
import { ForgeTarget, TOKEN_VARIABLES, eventPullRequest, forgeTarget, pullRequestNumber } from "../../../tool/forge/context";
import { ForgeComment, ForgeError, ForgePort, OctokitForge, markedComments, upsertComment } from "../../../tool/forge/forge";
import { openPromotionPr, promotionBranch } from "../../../tool/forge/promotion";
import { GitError, git, headCommit, pathInRepo, repoRoot, showFile } from "../../../tool/git";

describe("tool: forge context from CI variables", () => {
    const full = { GITHUB_REPOSITORY: "acme/shop", GITHUB_TOKEN: "gh" };
    const ok: [string, NodeJS.ProcessEnv, ForgeTarget][] = [
        ["GitHub defaults", full, { apiUrl: "https://api.github.com", owner: "acme", repo: "shop", token: "gh" }],
        ["Gitea API URL, trailing slash dropped", { ...full, GITHUB_API_URL: "http://127.0.0.1:13000/api/v1/" },
            { apiUrl: "http://127.0.0.1:13000/api/v1", owner: "acme", repo: "shop", token: "gh" }],
        ["STS_CANARY_FORGE_TOKEN wins", { ...full, STS_CANARY_FORGE_TOKEN: "pat" }, { apiUrl: "https://api.github.com", owner: "acme", repo: "shop", token: "pat" }],
        ["an empty STS_CANARY_FORGE_TOKEN (missing secret) falls back", { ...full, STS_CANARY_FORGE_TOKEN: "" },
            { apiUrl: "https://api.github.com", owner: "acme", repo: "shop", token: "gh" }],
        ["dots, dashes and underscores in names", { GITHUB_REPOSITORY: "a-b_c/d.e-f", STS_CANARY_FORGE_TOKEN: "pat" },
            { apiUrl: "https://api.github.com", owner: "a-b_c", repo: "d.e-f", token: "pat" }],
    ];
    for (const [name, env, expected] of ok) it(name, () => assert.deepStrictEqual(forgeTarget(env), expected));

    const bad: [string, NodeJS.ProcessEnv, RegExp[]][] = [
        ["missing token", { GITHUB_REPOSITORY: "acme/shop" }, [/no forge token: set STS_CANARY_FORGE_TOKEN or GITHUB_TOKEN/]],
        ["empty token", { GITHUB_REPOSITORY: "acme/shop", GITHUB_TOKEN: " " }, [/no forge token/]],
        ["missing repository", { GITHUB_TOKEN: "gh" }, [/GITHUB_REPOSITORY is not set; expected owner\/repo/]],
        ["repository without owner", { GITHUB_REPOSITORY: "shop", GITHUB_TOKEN: "gh" }, [/GITHUB_REPOSITORY "shop" is not owner\/repo/]],
        ["repository with three parts", { GITHUB_REPOSITORY: "a/b/c", GITHUB_TOKEN: "gh" }, [/"a\/b\/c" is not owner\/repo/]],
        ["repository with a space", { GITHUB_REPOSITORY: "acme/my shop", GITHUB_TOKEN: "gh" }, [/is not owner\/repo/]],
        ["API URL not http", { ...full, GITHUB_API_URL: "ftp://x" }, [/GITHUB_API_URL "ftp:\/\/x" is not an http\(s\) URL/]],
        ["every problem in one error", {}, [/GITHUB_REPOSITORY is not set/, /no forge token/]],
    ];
    for (const [name, env, messages] of bad) {
        it(`refuses ${name}`, () => assert.throws(() => forgeTarget(env), (e: Error) => e instanceof UsageError && messages.every((m) => m.test(e.message))));
    }

    it("names the variables that carry the token", () => assert.deepStrictEqual([...TOKEN_VARIABLES], ["STS_CANARY_FORGE_TOKEN", "GITHUB_TOKEN"]));

    const events: [string, unknown, number | undefined][] = [
        ["pull_request event", { number: 9, pull_request: { number: 7 } }, 7],
        ["number only", { number: 8 }, 8],
        ["issue_comment event", { issue: { number: 6 } }, 6],
        ["push event", { ref: "refs/heads/main" }, undefined],
        ["zero", { number: 0 }, undefined],
        ["not a number", { pull_request: { number: "x" } }, undefined],
        ["null", null, undefined],
    ];
    for (const [name, event, expected] of events) it(`event file: ${name} -> ${expected}`, () => assert.strictEqual(eventPullRequest(event), expected));

    const files: Record<string, string> = { "/e/pr.json": JSON.stringify({ pull_request: { number: 12 } }), "/e/push.json": "{}", "/e/bad.json": "{" };
    const readFile = (file: string): string => {
        if (!(file in files)) throw new Error(`ENOENT: no such file ${file}`);
        return files[file];
    };
    const prs: [string, NodeJS.ProcessEnv, number | RegExp][] = [
        ["STS_CANARY_PR", { STS_CANARY_PR: "42", GITHUB_EVENT_PATH: "/e/pr.json" }, 42],
        ["the event file", { GITHUB_EVENT_PATH: "/e/pr.json" }, 12],
        ["STS_CANARY_PR not a number", { STS_CANARY_PR: "#4" }, /STS_CANARY_PR "#4" is not a pull request number; allowed: a positive integer/],
        ["STS_CANARY_PR zero", { STS_CANARY_PR: "0" }, /STS_CANARY_PR "0"/],
        ["neither variable", {}, /set STS_CANARY_PR, or GITHUB_EVENT_PATH/],
        ["an event without a PR", { GITHUB_EVENT_PATH: "/e/push.json", GITHUB_EVENT_NAME: "push" },
            /GITHUB_EVENT_PATH \/e\/push.json has no pull_request.number, number or issue.number \(event push\)/],
        ["an unreadable event file", { GITHUB_EVENT_PATH: "/e/none.json" }, /GITHUB_EVENT_PATH \/e\/none.json: cannot read its JSON: ENOENT/],
        ["invalid JSON", { GITHUB_EVENT_PATH: "/e/bad.json" }, /GITHUB_EVENT_PATH \/e\/bad.json: cannot read its JSON/],
    ];
    for (const [name, env, expected] of prs) {
        it(`pull request from ${name}`, () => {
            if (typeof expected === "number") assert.strictEqual(pullRequestNumber(env, readFile), expected);
            else assert.throws(() => pullRequestNumber(env, readFile), (e: Error) => e instanceof UsageError && expected.test(e.message));
        });
    }
});

/** A forge in memory that serves comments in pages of 30 (GitHub's default) and records every change. */
class PagedForge implements ForgePort {
    comments: ForgeComment[] = [];
    pagesRead = 0;
    changes: string[] = [];
    private nextId = 1000;

    constructor(private readonly login: string | undefined, private readonly perPage = 30) {}

    add(login: string, type: string, body: string): number {
        this.comments.push({ id: this.nextId, login, type, body });
        return this.nextId++;
    }

    async listIssueComments(_pr: number): Promise<ForgeComment[]> {
        const all: ForgeComment[] = [];
        for (let page = 0; ; page++) {
            const slice = this.comments.slice(page * this.perPage, (page + 1) * this.perPage);
            this.pagesRead++;
            all.push(...slice.map((c) => ({ ...c })));
            if (slice.length < this.perPage) return all;
        }
    }

    async createIssueComment(_pr: number, body: string): Promise<ForgeComment> {
        const id = this.add(this.login ?? "github-actions[bot]", "Bot", body);
        this.changes.push(`create ${id}`);
        return { ...this.comments.find((c) => c.id === id)! };
    }

    async updateIssueComment(id: number, body: string): Promise<void> {
        this.comments.find((c) => c.id === id)!.body = body;
        this.changes.push(`update ${id}`);
    }

    async deleteIssueComment(id: number): Promise<void> {
        this.comments = this.comments.filter((c) => c.id !== id);
        this.changes.push(`delete ${id}`);
    }

    async currentLogin(): Promise<string | undefined> {
        return this.login;
    }

    async createPull(): Promise<{ number: number; url: string }> {
        throw new Error("not used");
    }
}

describe("tool: one comment per marker on a pull request", () => {
    const marker = "<!-- sts-canary:shop/dev -->";
    const body = `${marker}\n### dev: step 4 -> 3`;
    const c = (id: number, login: string, type: string, text: string): ForgeComment => ({ id, login, type, body: text });

    const cases: [string, ForgeComment[], string | undefined, number[]][] = [
        ["own comment", [c(1, "ci", "User", `${marker}\nold`)], "ci", [1]],
        ["a quote of the marker", [c(1, "ci", "User", `> ${marker}\nwhy?`)], "ci", []],
        ["the marker later in the body", [c(1, "ci", "User", `see ${marker}`)], "ci", []],
        ["another user's look-alike", [c(1, "alice", "User", `${marker}\nfake`)], "ci", []],
        ["another marker", [c(1, "ci", "User", "<!-- sts-canary:shop/prod -->\nx")], "ci", []],
        ["login unknown: a bot's comment", [c(1, "github-actions[bot]", "Bot", `${marker}\nold`)], undefined, [1]],
        ["login unknown: a person's look-alike", [c(1, "alice", "User", `${marker}\nfake`)], undefined, []],
        ["raced duplicates, oldest first", [c(1, "ci", "User", `${marker}\na`), c(2, "x", "User", "hi"), c(3, "ci", "User", `${marker}\nb`)], "ci", [1, 3]],
    ];
    for (const [name, comments, login, ids] of cases) {
        it(`counts ${name}: ${JSON.stringify(ids)}`, () => assert.deepStrictEqual(markedComments(comments, marker, login).map((m) => m.id), ids));
    }

    /** 75 other comments first: the tool's own comment is on the third page. */
    function busyForge(login: string | undefined): PagedForge {
        const forge = new PagedForge(login);
        for (let i = 0; i < 75; i++) forge.add(i % 2 ? "alice" : "bob", "User", `comment ${i}`);
        return forge;
    }

    it("edits its comment past the first page", async () => {
        const forge = busyForge("ci");
        const id = forge.add("ci", "User", `${marker}\nold`);
        assert.deepStrictEqual(await upsertComment(forge, 7, marker, body), { id, action: "updated" });
        assert.strictEqual(forge.pagesRead, 3);
        assert.deepStrictEqual(forge.changes, [`update ${id}`]);
        assert.strictEqual(forge.comments.find((m) => m.id === id)!.body, body);
    });

    it("keeps the oldest of raced duplicates and deletes the others", async () => {
        const forge = busyForge("ci");
        const first = forge.add("ci", "User", `${marker}\njob 1`);
        forge.add("alice", "User", "lgtm");
        const second = forge.add("ci", "User", `${marker}\njob 2`);
        assert.deepStrictEqual(await upsertComment(forge, 7, marker, body), { id: first, action: "updated" });
        assert.deepStrictEqual(forge.changes, [`update ${first}`, `delete ${second}`]);
        assert.strictEqual(forge.comments.filter((m) => m.body.startsWith(marker)).length, 1);
    });

    it("creates one when only a quote and a person's look-alike carry the marker, and leaves them alone", async () => {
        const forge = busyForge("ci");
        const quote = forge.add("ci", "User", `> ${marker}\n> old\nwhy?`);
        const lookAlike = forge.add("mallory", "User", `${marker}\nfake`);
        const written = await upsertComment(forge, 7, marker, body);
        assert.strictEqual(written.action, "created");
        assert.deepStrictEqual(forge.changes, [`create ${written.id}`]);
        assert.ok(forge.comments.find((m) => m.id === quote)!.body.startsWith("> "));
        assert.strictEqual(forge.comments.find((m) => m.id === lookAlike)!.body, `${marker}\nfake`);
    });

    it("with the login unknown (GitHub Actions' token), edits only a bot's comment", async () => {
        const forge = busyForge(undefined);
        forge.add("mallory", "User", `${marker}\nolder look-alike`);
        const bot = forge.add("github-actions[bot]", "Bot", `${marker}\nold`);
        assert.deepStrictEqual(await upsertComment(forge, 7, marker, body), { id: bot, action: "updated" });
        assert.deepStrictEqual(forge.changes, [`update ${bot}`]);
    });

    it("creates the comment when there is none, then edits it on the next push", async () => {
        const forge = new PagedForge("ci");
        const created = await upsertComment(forge, 7, marker, body);
        assert.strictEqual(created.action, "created");
        assert.deepStrictEqual(await upsertComment(forge, 7, marker, `${body}\nagain`), { id: created.id, action: "updated" });
        assert.strictEqual(forge.comments.length, 1);
    });

    it("rejects a body that does not start with the marker, and an empty marker", async () => {
        const forge = new PagedForge("ci");
        await assert.rejects(upsertComment(forge, 7, marker, `hello\n${marker}`), (e: Error) => e instanceof UsageError && /must start with its marker/.test(e.message));
        await assert.rejects(upsertComment(forge, 7, "", body), (e: Error) => e instanceof UsageError && /marker is empty/.test(e.message));
        assert.deepStrictEqual(forge.changes, []);
    });
});

interface Seen {
    method: string;
    url: string;
    authorization?: string;
    userAgent?: string;
    body?: any;
}

/** A GitHub-shaped API under /api/v1 (as Gitea's) on 127.0.0.1: 250 comments on PR 7 in pages linked by `link`. */
function fakeApi(options: { userStatus?: number } = {}): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
    const seen: Seen[] = [];
    const comments = Array.from({ length: 250 }, (_, i) => ({ id: i + 1, body: i === 200 ? "<!-- m -->\nold" : `c${i + 1}`, user: { login: i === 200 ? "ci" : "alice", type: "User" } }));
    const server = http.createServer((req, res) => {
        let raw = "";
        req.on("data", (chunk) => raw += chunk);
        req.on("end", () => {
            seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, userAgent: req.headers["user-agent"], body: raw ? JSON.parse(raw) : undefined });
            const send = (status: number, data?: unknown, headers: Record<string, string> = {}) => {
                res.writeHead(status, { "content-type": "application/json", ...headers });
                res.end(data === undefined ? undefined : JSON.stringify(data));
            };
            const url = new URL(req.url!, base);
            const route = `${req.method} ${url.pathname}`;
            if (route === "GET /api/v1/repos/acme/shop/issues/7/comments") {
                const page = Number(url.searchParams.get("page") ?? "1");
                const perPage = Number(url.searchParams.get("per_page") ?? "30");
                const next: Record<string, string> = page * perPage < comments.length
                    ? { link: `<${base}/api/v1/repos/acme/shop/issues/7/comments?per_page=${perPage}&page=${page + 1}>; rel="next", <${base}/x?page=3>; rel="last"` } : {};
                return send(200, comments.slice((page - 1) * perPage, page * perPage), next);
            }
            // Gitea: no paging, everything at once.
            if (route === "GET /api/v1/repos/acme/shop/issues/8/comments") return send(200, comments);
            // A server that ignores `page` and always links the next one.
            if (route === "GET /api/v1/repos/acme/shop/issues/9/comments") {
                return send(200, comments.slice(0, 100), { link: `<${base}/api/v1/repos/acme/shop/issues/9/comments?page=2>; rel="next"` });
            }
            if (route === "POST /api/v1/repos/acme/shop/issues/7/comments") return send(201, { id: 9001, body: JSON.parse(raw).body, user: { login: "ci", type: "User" } });
            if (route === "PATCH /api/v1/repos/acme/shop/issues/comments/201") return send(200, { id: 201, body: JSON.parse(raw).body });
            if (route === "DELETE /api/v1/repos/acme/shop/issues/comments/202") return send(204);
            if (route === "DELETE /api/v1/repos/acme/shop/issues/comments/203") return send(404, { message: "Not Found" });
            if (route === "GET /api/v1/user") {
                const status = options.userStatus ?? 200;
                return status === 200 ? send(200, { login: "ci", type: "User" }) : send(status, { message: "Resource not accessible by integration" });
            }
            if (route === "POST /api/v1/repos/acme/shop/pulls") {
                if (JSON.parse(raw).head === "exists") {
                    return send(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", message: "A pull request already exists for acme:exists." }] });
                }
                return send(201, { number: 31, html_url: "http://forge/acme/shop/pulls/31" });
            }
            send(404, { message: "Not Found" });
        });
    });
    let base = "";
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        resolve({ url: base, seen, close: () => new Promise((done) => server.close(() => done())) });
    }));
}

describe("tool: OctokitForge against a local GitHub-shaped API", () => {
    const target = (url: string): ForgeTarget => ({ apiUrl: `${url}/api/v1`, owner: "acme", repo: "shop", token: "t0k" });

    it("reads every page of the comments, with the token and the tool's user agent", async () => {
        const api = await fakeApi();
        try {
            const comments = await new OctokitForge(target(api.url)).listIssueComments(7);
            assert.deepStrictEqual(comments.map((m) => m.id), Array.from({ length: 250 }, (_, i) => i + 1));
            assert.deepStrictEqual(comments[200], { id: 201, body: "<!-- m -->\nold", login: "ci", type: "User" });
            assert.deepStrictEqual(api.seen.map((s) => s.url), [
                "/api/v1/repos/acme/shop/issues/7/comments?per_page=100",
                "/api/v1/repos/acme/shop/issues/7/comments?per_page=100&page=2",
                "/api/v1/repos/acme/shop/issues/7/comments?per_page=100&page=3",
            ]);
            assert.ok(api.seen.every((s) => /t0k$/.test(s.authorization ?? "") && s.userAgent?.startsWith("sts-canary")), JSON.stringify(api.seen[0]));
        } finally {
            await api.close();
        }
    });

    it("stops when a server sends everything at once (Gitea), and when it links a next page that repeats", async () => {
        const api = await fakeApi();
        try {
            const forge = new OctokitForge(target(api.url));
            assert.strictEqual((await forge.listIssueComments(8)).length, 250);
            assert.strictEqual(api.seen.length, 1);
            assert.strictEqual((await forge.listIssueComments(9)).length, 100);
            assert.strictEqual(api.seen.length, 3);
        } finally {
            await api.close();
        }
    });

    it("writes, edits and deletes comments and opens pull requests on the right paths", async () => {
        const api = await fakeApi();
        try {
            const forge = new OctokitForge(target(api.url));
            assert.deepStrictEqual(await forge.createIssueComment(7, "hello"), { id: 9001, body: "hello", login: "ci", type: "User" });
            await forge.updateIssueComment(201, "edited");
            await forge.deleteIssueComment(202);
            await forge.deleteIssueComment(203); // already gone: nothing
            assert.deepStrictEqual(await forge.createPull({ title: "t", head: "sts-canary/promote-x", base: "main", body: "b" }),
                { number: 31, url: "http://forge/acme/shop/pulls/31" });
            assert.strictEqual(await forge.currentLogin(), "ci");
            assert.deepStrictEqual(api.seen.map((s) => `${s.method} ${s.url} ${JSON.stringify(s.body ?? null)}`), [
                `POST /api/v1/repos/acme/shop/issues/7/comments {"body":"hello"}`,
                `PATCH /api/v1/repos/acme/shop/issues/comments/201 {"body":"edited"}`,
                "DELETE /api/v1/repos/acme/shop/issues/comments/202 null",
                "DELETE /api/v1/repos/acme/shop/issues/comments/203 null",
                `POST /api/v1/repos/acme/shop/pulls {"title":"t","head":"sts-canary/promote-x","base":"main","body":"b"}`,
                "GET /api/v1/user null",
            ]);
        } finally {
            await api.close();
        }
    });

    it("upserts through the real client: edits the match on page 3", async () => {
        const api = await fakeApi();
        try {
            assert.deepStrictEqual(await upsertComment(new OctokitForge(target(api.url)), 7, "<!-- m -->", "<!-- m -->\nnew"), { id: 201, action: "updated" });
            assert.deepStrictEqual(api.seen.filter((s) => s.method !== "GET").map((s) => `${s.method} ${s.url} ${s.body.body}`), ["PATCH /api/v1/repos/acme/shop/issues/comments/201 <!-- m -->\nnew"]);
        } finally {
            await api.close();
        }
    });

    it("a 403 on GET /user is an unknown login; other errors carry the status and the API's message", async () => {
        const api = await fakeApi({ userStatus: 403 });
        try {
            const forge = new OctokitForge(target(api.url));
            assert.strictEqual(await forge.currentLogin(), undefined);
            await assert.rejects(forge.createPull({ title: "t", head: "exists", base: "main", body: "b" }), (e: Error) => e instanceof ForgeError
                && e.status === 422 && /opening a pull request from exists into main \(acme\/shop on http:\/\/127\.0\.0\.1:\d+\/api\/v1\): HTTP 422 Validation Failed \(A pull request already exists/.test(e.message)
                && !/\n\s+at /.test(e.message));
            await assert.rejects(forge.updateIssueComment(5, "x"), (e: Error) => e instanceof ForgeError && e.status === 404 && /editing comment 5 .*HTTP 404 Not Found/.test(e.message));
        } finally {
            await api.close();
        }
        const refused = await fakeApi({ userStatus: 401 });
        try {
            await assert.rejects(new OctokitForge(target(refused.url)).currentLogin(), (e: Error) => e instanceof ForgeError && e.status === 401);
        } finally {
            await refused.close();
        }
    });

    it("a forge that does not answer is named, with no status", async () => {
        const api = await fakeApi();
        await api.close();
        await assert.rejects(new OctokitForge(target(api.url)).listIssueComments(7),
            (e: Error) => e instanceof ForgeError && e.status === undefined && /listing the comments of pull request #7 .*: no answer: .*ECONNREFUSED/.test(e.message));
    });
});

/** Git with no user or system config (the tests' identities are their own), restored afterwards. */
function isolateGit(): void {
    const saved: NodeJS.ProcessEnv = {};
    const names = ["GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL", "GIT_DIR", "GIT_WORK_TREE"];
    before(() => {
        for (const name of names) saved[name] = process.env[name];
        for (const name of names) delete process.env[name];
        process.env.GIT_CONFIG_GLOBAL = "/dev/null";
        process.env.GIT_CONFIG_NOSYSTEM = "1";
    });
    after(() => {
        for (const name of names) {
            if (saved[name] === undefined) delete process.env[name];
            else process.env[name] = saved[name];
        }
    });
}

const STACK_FILE = "stacks/Pulumi.prod.yaml";
const me = ["-c", "user.name=Seed", "-c", "user.email=seed@example.com"];

/** A bare "forge" repository and the operator's clone of it, with a stack file on main and work in progress. */
async function repos(): Promise<{ dir: string; bare: string; op: string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-forge-test-"));
    const bare = path.join(dir, "remote.git");
    const op = path.join(dir, "op");
    await git(["init", "-q", "--bare", "-b", "main", bare], { cwd: dir });
    await git(["init", "-q", "-b", "main", op], { cwd: dir });
    fs.mkdirSync(path.join(op, "stacks"));
    fs.writeFileSync(path.join(op, STACK_FILE), "config:\n  shop:imageTag: v1\n");
    fs.writeFileSync(path.join(op, "README.md"), "shop\n");
    await git(["add", "."], { cwd: op });
    await git([...me, "commit", "-q", "-m", "init"], { cwd: op });
    await git(["remote", "add", "origin", bare], { cwd: op });
    await git(["push", "-q", "origin", "main"], { cwd: op });
    // The operator's work in progress, which a promotion must leave alone.
    fs.appendFileSync(path.join(op, STACK_FILE), "# wip\n");
    fs.writeFileSync(path.join(op, "notes.txt"), "todo\n");
    return { dir, bare, op };
}

/** What a promotion must not change in the operator's checkout. */
async function checkoutState(op: string): Promise<string> {
    const [head, status, branches, worktrees] = await Promise.all([
        headCommit(op), git(["status", "--porcelain"], { cwd: op }), git(["branch", "--list"], { cwd: op }), git(["worktree", "list", "--porcelain"], { cwd: op }),
    ]);
    return JSON.stringify({ head, status, branches, worktrees, stack: fs.readFileSync(path.join(op, STACK_FILE), "utf8"), files: fs.readdirSync(op).sort() });
}

class RecordingForge implements Pick<ForgePort, "createPull"> {
    pulls: { title: string; head: string; base: string; body: string }[] = [];
    failures = 0;

    async createPull(pull: { title: string; head: string; base: string; body: string }): Promise<{ number: number; url: string }> {
        if (this.failures-- > 0) throw new ForgeError("opening a pull request: HTTP 502 Bad Gateway", 502);
        if (this.pulls.some((p) => p.head === pull.head)) throw new ForgeError(`opening a pull request: HTTP 422 Validation Failed (A pull request already exists for acme:${pull.head}.)`, 422);
        this.pulls.push(pull);
        return { number: this.pulls.length, url: `http://forge/pulls/${this.pulls.length}` };
    }
}

describe("tool: git helpers", () => {
    isolateGit();
    let r: { dir: string; bare: string; op: string };
    before(async () => r = await repos());
    after(() => fs.rmSync(r.dir, { recursive: true, force: true }));

    it("finds the root, HEAD and files of a commit", async () => {
        assert.strictEqual(await repoRoot(path.join(r.op, "stacks")), fs.realpathSync(r.op));
        assert.match(await headCommit(r.op), /^[0-9a-f]{40}$/);
        assert.strictEqual(await showFile(path.join(r.op, "stacks"), "HEAD", STACK_FILE), "config:\n  shop:imageTag: v1\n");
        assert.strictEqual(await showFile(r.op, "main", "stacks/Pulumi.dev.yaml"), undefined);
        await assert.rejects(showFile(r.op, "HEAD", "stacks"), (e: Error) => e instanceof UsageError && /stacks in HEAD is not a file \(a tree/.test(e.message));
        await assert.rejects(showFile(r.op, "nope", STACK_FILE), (e: Error) => e instanceof GitError && /git rev-parse --verify nope\^\{commit\} \(in .*\) failed \(exit 128\)/.test(e.message));
    });

    const paths: [string, string, string | RegExp][] = [
        ["stacks", "Pulumi.prod.yaml", "stacks/Pulumi.prod.yaml"],
        ["stacks", "../README.md", "README.md"],
        [".", "./stacks//Pulumi.dev.yaml", "stacks/Pulumi.dev.yaml"],
        [".", "../elsewhere", /\.\.\/elsewhere is not a file inside the git checkout/],
        [".", ".", /is not a file inside/],
    ];
    for (const [cwd, file, expected] of paths) {
        it(`path in repo of ${file} from ${cwd}`, async () => {
            if (typeof expected === "string") assert.strictEqual(await pathInRepo(path.join(r.op, cwd), file), expected);
            else await assert.rejects(pathInRepo(path.join(r.op, cwd), file), (e: Error) => e instanceof UsageError && expected.test(e.message));
        });
    }

    it("path in repo of an absolute path", async () => assert.strictEqual(await pathInRepo(path.join(r.op, "stacks"), path.join(r.op, STACK_FILE)), STACK_FILE));

    it("bounds every command in time", async () => {
        await assert.rejects(git(["-c", "alias.wait=!sleep 5", "wait"], { cwd: r.op, timeoutMs: 200 }), (e: Error) => e instanceof GitError && /did not finish within 0.2 s/.test(e.message));
    });
});

describe("tool: promotion pull requests", () => {
    isolateGit();
    let r: { dir: string; bare: string; op: string };
    beforeEach(async () => r = await repos());
    afterEach(() => fs.rmSync(r.dir, { recursive: true, force: true }));

    const branch = "sts-canary/promote-prod-v2-0123456789ab";
    const writeV2 = async (dir: string) => fs.writeFileSync(path.join(dir, STACK_FILE), "config:\n  shop:imageTag: v2\n");
    const request = (forge: RecordingForge, apply = writeV2) => ({
        repoDir: path.join(r.op, "stacks"), branch, files: [STACK_FILE], apply, commitMessage: "Promote v2 to prod", title: () => "Promote v2 to prod", body: "from dev", forge,
    });
    const remoteFile = (ref: string) => showFile(r.bare, ref, STACK_FILE);
    const remoteBranches = async () => (await git(["for-each-ref", "--format=%(refname)", "refs/heads"], { cwd: r.bare })).trim().split("\n");

    it("pushes the change on its own branch from the remote's main and opens the pull request; the checkout is untouched", async () => {
        // main moved on the forge since the operator's last pull.
        const other = path.join(r.dir, "other");
        await git(["clone", "-q", r.bare, other], { cwd: r.dir });
        fs.writeFileSync(path.join(other, "other.txt"), "x\n");
        await git(["add", "."], { cwd: other });
        await git([...me, "commit", "-q", "-m", "other"], { cwd: other });
        await git(["push", "-q", "origin", "main"], { cwd: other });
        const mainTip = (await git(["rev-parse", "main"], { cwd: r.bare })).trim();

        const before = await checkoutState(r.op);
        const forge = new RecordingForge();
        let worktree = "";
        const result = await openPromotionPr(request(forge, async (dir) => { worktree = dir; await writeV2(dir); }));
        assert.deepStrictEqual(forge.pulls, [{ title: "Promote v2 to prod", head: branch, base: "main", body: "from dev" }]);
        assert.deepStrictEqual({ ...result, commit: "" }, { number: 1, url: "http://forge/pulls/1", branch, commit: "" });
        assert.strictEqual(await remoteFile(branch), "config:\n  shop:imageTag: v2\n");
        assert.strictEqual((await git(["rev-parse", branch], { cwd: r.bare })).trim(), result.commit);
        assert.strictEqual((await git(["rev-parse", `${branch}^`], { cwd: r.bare })).trim(), mainTip);
        assert.strictEqual((await git(["log", "-1", "--format=%an <%ae>|%s", branch], { cwd: r.bare })).trim(), "sts-canary <sts-canary@localhost>|Promote v2 to prod");
        assert.deepStrictEqual((await git(["diff", "--name-only", `${branch}^`, branch], { cwd: r.bare })).trim(), STACK_FILE);
        assert.strictEqual(await checkoutState(r.op), before);
        assert.ok(worktree !== "" && !fs.existsSync(worktree), worktree);
    });

    it("commits with the operator's git identity when git has one", async () => {
        await git(["config", "user.email", "op@example.com"], { cwd: r.op });
        await git(["config", "user.name", "Operator"], { cwd: r.op });
        await openPromotionPr(request(new RecordingForge()));
        assert.strictEqual((await git(["log", "-1", "--format=%an <%ae>", branch], { cwd: r.bare })).trim(), "Operator <op@example.com>");
    });

    it("removes the worktree and pushes nothing when apply throws", async () => {
        const before = await checkoutState(r.op);
        let worktree = "";
        await assert.rejects(openPromotionPr(request(new RecordingForge(), async (dir) => { worktree = dir; throw new Error("config set failed"); })), /config set failed/);
        assert.ok(worktree !== "" && !fs.existsSync(worktree));
        assert.strictEqual(await checkoutState(r.op), before);
        assert.deepStrictEqual(await remoteBranches(), ["refs/heads/main"]);
    });

    it("refuses when the change is already on main", async () => {
        const forge = new RecordingForge();
        const before = await checkoutState(r.op);
        await assert.rejects(openPromotionPr(request(forge, async (dir) => fs.writeFileSync(path.join(dir, STACK_FILE), "config:\n  shop:imageTag: v1\n"))),
            (e: Error) => e instanceof RefusedError && /nothing to promote: stacks\/Pulumi.prod.yaml on origin\/main already hold this change/.test(e.message));
        assert.deepStrictEqual(forge.pulls, []);
        assert.deepStrictEqual(await remoteBranches(), ["refs/heads/main"]);
        assert.strictEqual(await checkoutState(r.op), before);
    });

    it("a rerun after a failed pull request creation force-pushes and opens it", async () => {
        const forge = new RecordingForge();
        forge.failures = 1;
        await assert.rejects(openPromotionPr(request(forge)), (e: Error) => e instanceof ForgeError && /502/.test(e.message));
        assert.strictEqual(await remoteFile(branch), "config:\n  shop:imageTag: v2\n");
        const rerun = await openPromotionPr(request(forge, async (dir) => fs.writeFileSync(path.join(dir, STACK_FILE), "config:\n  shop:imageTag: v2\n  shop:partition: \"2\"\n")));
        assert.strictEqual(rerun.number, 1);
        assert.match((await remoteFile(branch))!, /shop:partition/);
        assert.strictEqual((await git(["rev-list", "--count", `main..${branch}`], { cwd: r.bare })).trim(), "1");
    });

    it("a rerun while the pull request is open updates its branch and says so (no second pull request)", async () => {
        const forge = new RecordingForge();
        const first = await openPromotionPr(request(forge));
        const rerun = await openPromotionPr(request(forge, async (dir) => fs.writeFileSync(path.join(dir, STACK_FILE), "config:\n  shop:imageTag: v2\n  shop:partition: \"2\"\n")));
        assert.strictEqual(first.number, 1);
        assert.deepStrictEqual({ number: rerun.number, url: rerun.url, branch: rerun.branch }, { number: undefined, url: undefined, branch });
        assert.strictEqual(forge.pulls.length, 1);
        assert.strictEqual((await git(["rev-parse", branch], { cwd: r.bare })).trim(), rerun.commit);
        assert.match((await remoteFile(branch))!, /shop:partition/);
    });

    const refusals: [string, Partial<ReturnType<typeof request>> & { base?: string }, RegExp][] = [
        ["no files", { files: [] }, /no files to promote/],
        ["a file outside the repository", { files: ["../x"] }, /files "..\/x" are not paths inside the repository/],
        ["an absolute file", { files: ["/etc/passwd"] }, /are not paths inside the repository/],
        ["an invalid branch", { branch: "a..b" }, /branch "a..b" is not a valid git branch name/],
        ["the base as branch", { branch: "main" }, /branch "main" is the base branch/],
    ];
    for (const [name, over, message] of refusals) {
        it(`refuses ${name} before touching anything`, async () => {
            await assert.rejects(openPromotionPr({ ...request(new RecordingForge()), ...over }), (e: Error) => e instanceof UsageError && message.test(e.message));
            assert.deepStrictEqual(await remoteBranches(), ["refs/heads/main"]);
        });
    }

    it("names the git command and what git said when the base branch is missing", async () => {
        await assert.rejects(openPromotionPr({ ...request(new RecordingForge()), base: "release" }),
            (e: Error) => e instanceof GitError && /git fetch --no-tags origin \+refs\/heads\/release:refs\/remotes\/origin\/release .*failed \(exit 128\): fatal: couldn't find remote ref/.test(e.message));
    });
});

describe("tool: promotion branch names", () => {
    const digest = "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";
    const ok: [string, string, string, string][] = [
        ["prod", "v2", digest, "sts-canary/promote-prod-v2-0123456789ab"],
        ["acme/shop/prod", "1.2.3", digest, "sts-canary/promote-acme-shop-prod-1.2.3-0123456789ab"],
        ["prod", "v..2 ~^:?*[\\@{x}", "0123456789abcdef", "sts-canary/promote-prod-v.2-x-0123456789ab"],
        [".prod.lock", "-v2.", digest, "sts-canary/promote-prod.lock-v2-0123456789ab"],
    ];
    for (const [stack, version, d, expected] of ok) {
        it(`${stack} ${version} -> ${expected}`, async () => {
            assert.strictEqual(promotionBranch(stack, version, d), expected);
            await git(["check-ref-format", "--branch", expected], { cwd: os.tmpdir() });
        });
    }
    const bad: [string, string, string, RegExp][] = [
        ["prod", "v2", "latest", /digest "latest" is not a sha256 digest; allowed: sha256:<hex>/],
        ["prod", "v2", "sha256:0123", /not a sha256 digest/],
        ["///", "v2", digest, /stack "\/\/\/" has nothing usable in a branch name/],
        ["prod", "..", digest, /version "\.\." has nothing usable/],
    ];
    for (const [stack, version, d, message] of bad) {
        it(`refuses ${stack} ${version} ${d}`, () => assert.throws(() => promotionBranch(stack, version, d), (e: Error) => e instanceof UsageError && message.test(e.message)));
    }
});
