/**
 * What the tool needs of a forge (GitHub, or Gitea/Forgejo through their GitHub-compatible
 * endpoints): the comments of a pull request and opening a pull request. `OctokitForge` is the
 * real one; `upsertComment` keeps exactly one comment per marker on a pull request.
 */
import { Octokit } from "@octokit/rest";
import { EXIT, ToolError, UsageError } from "../errors";
import type { ForgeTarget } from "./context";

/** A comment on an issue or pull request. */
export interface ForgeComment {
    id: number;
    body: string;
    /** The author's login ("" for a deleted user). */
    login: string;
    /** The author's account type: "User", "Bot", "Organization"; "" when the forge does not say (Gitea). */
    type: string;
}

export interface ForgePort {
    /** Every comment of the pull request, oldest first, all pages read. */
    listIssueComments(pr: number): Promise<ForgeComment[]>;
    createIssueComment(pr: number, body: string): Promise<ForgeComment>;
    updateIssueComment(id: number, body: string): Promise<void>;
    /** Nothing when it is already gone. */
    deleteIssueComment(id: number): Promise<void>;
    /** The token's own login; undefined when the forge refuses to say (GitHub Actions' GITHUB_TOKEN). */
    currentLogin(): Promise<string | undefined>;
    createPull(pull: { title: string; head: string; base: string; body: string }): Promise<{ number: number; url: string }>;
}

/** The forge answered with an error, or not at all: the HTTP status and the API's own message. */
export class ForgeError extends ToolError {
    readonly exitCode = EXIT.error;

    constructor(message: string, readonly status?: number) {
        super(message);
    }
}

/** Bound of every request: an unreachable forge must not hang a CI job. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The API's words in an error body: `message`, and GitHub's `errors` details (422s name the real cause there). */
function apiMessage(data: unknown): string | undefined {
    if (typeof data === "string") return data.trim() || undefined;
    const d = data as { message?: unknown; errors?: unknown } | undefined;
    if (typeof d?.message !== "string") return undefined;
    const details = Array.isArray(d.errors) ? d.errors.map((e: { message?: string; resource?: string; field?: string; code?: string } | string) =>
        typeof e === "string" ? e : e.message ?? [e.resource, e.field, e.code].filter(Boolean).join(" ")).filter(Boolean) : [];
    return details.length > 0 ? `${d.message} (${details.join("; ")})` : d.message;
}

/** The status and message of an Octokit error (a RequestError without a response when nothing answered). */
function describeRequestError(err: unknown): { status?: number; message: string } {
    const e = err as { status?: number; message?: string; response?: { data?: unknown } };
    if (e.response === undefined) return { message: `no answer: ${e.message ?? String(err)}` };
    return { status: e.status, message: `HTTP ${e.status} ${apiMessage(e.response.data) ?? e.message ?? ""}`.trim() };
}

/** Comment fields from an API object (GitHub and Gitea shapes; `user` is null for a deleted account). */
function commentOf(c: { id: number; body?: string | null; user?: { login?: string; type?: string } | null }): ForgeComment {
    return { id: c.id, body: c.body ?? "", login: c.user?.login ?? "", type: c.user?.type ?? "" };
}

export class OctokitForge implements ForgePort {
    private readonly octokit: Octokit;
    private readonly where: string;

    constructor(private readonly target: ForgeTarget, options: { timeoutMs?: number } = {}) {
        const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
        // A per-request timeout through fetch: paginate does not pass per-call request options on to later pages.
        const boundedFetch: typeof fetch = (url, init) => fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
        // Octokit's error lines are dropped: every error is rethrown with its status, and the expected 403 on GET /user must not look like a failure.
        const log = { debug: () => undefined, info: () => undefined, warn: (message: string) => process.stderr.write(`warning: ${message}\n`), error: () => undefined };
        this.octokit = new Octokit({ baseUrl: target.apiUrl, auth: target.token, userAgent: "sts-canary", request: { fetch: boundedFetch }, log });
        this.where = `${target.owner}/${target.repo} on ${target.apiUrl}`;
    }

    /** One call; Octokit's errors become a ForgeError with the status and the API's message. */
    private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
        try {
            return await run();
        } catch (err) {
            const { status, message } = describeRequestError(err);
            throw new ForgeError(`${what} (${this.where}): ${message}`, status);
        }
    }

    listIssueComments(pr: number): Promise<ForgeComment[]> {
        const { owner, repo } = this.target;
        const seen = new Set<number>();
        return this.call(`listing the comments of pull request #${pr}`, () => this.octokit.paginate(
            this.octokit.rest.issues.listComments, { owner, repo, issue_number: pr, per_page: 100 },
            (response, done) => {
                // A server that ignores `page` but still links a next one would loop: stop at a page with nothing new.
                const fresh = response.data.filter((c) => !seen.has(c.id));
                if (fresh.length === 0) done();
                for (const c of fresh) seen.add(c.id);
                return fresh.map(commentOf);
            }));
    }

    createIssueComment(pr: number, body: string): Promise<ForgeComment> {
        const { owner, repo } = this.target;
        return this.call(`writing a comment on pull request #${pr}`,
            async () => commentOf((await this.octokit.rest.issues.createComment({ owner, repo, issue_number: pr, body })).data));
    }

    async updateIssueComment(id: number, body: string): Promise<void> {
        const { owner, repo } = this.target;
        await this.call(`editing comment ${id}`, () => this.octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body }));
    }

    async deleteIssueComment(id: number): Promise<void> {
        const { owner, repo } = this.target;
        try {
            await this.call(`deleting comment ${id}`, () => this.octokit.rest.issues.deleteComment({ owner, repo, comment_id: id }));
        } catch (err) {
            // Another job may have deleted the same duplicate first.
            if ((err as ForgeError).status !== 404) throw err;
        }
    }

    async currentLogin(): Promise<string | undefined> {
        try {
            return await this.call("reading the token's user", async () => (await this.octokit.rest.users.getAuthenticated()).data.login);
        } catch (err) {
            // GitHub Actions' GITHUB_TOKEN (an installation token) is refused GET /user.
            if ((err as ForgeError).status === 403) return undefined;
            throw err;
        }
    }

    createPull(pull: { title: string; head: string; base: string; body: string }): Promise<{ number: number; url: string }> {
        const { owner, repo } = this.target;
        return this.call(`opening a pull request from ${pull.head} into ${pull.base}`, async () => {
            const created = (await this.octokit.rest.pulls.create({ owner, repo, ...pull })).data;
            return { number: created.number, url: created.html_url };
        });
    }
}

/**
 * The comments that are this tool's comment for a marker: the body starts with the marker (a quote
 * of it does not), written by the token's own user, or, when that user is unknown, by a bot
 * account (a person's look-alike comment is never taken over).
 */
export function markedComments(comments: ForgeComment[], marker: string, login: string | undefined): ForgeComment[] {
    return comments.filter((c) => c.body.startsWith(marker) && (login !== undefined ? c.login === login : c.type === "Bot"));
}

/**
 * One comment per marker on the pull request, edited on every push: edits the oldest of this
 * tool's comments for the marker, deletes any others (two jobs that raced both created one), or
 * creates it when there is none.
 */
export async function upsertComment(forge: ForgePort, pr: number, marker: string, body: string): Promise<{ id: number; action: "created" | "updated" }> {
    if (marker.trim() === "") throw new UsageError("the comment marker is empty; it must be a non-empty line such as <!-- sts-canary:... -->");
    if (!body.startsWith(marker)) throw new UsageError(`the comment body must start with its marker ${marker}; it starts with ${JSON.stringify(body.slice(0, 40))}`);
    const [login, comments] = await Promise.all([forge.currentLogin(), forge.listIssueComments(pr)]);
    const [keep, ...duplicates] = markedComments(comments, marker, login);
    if (!keep) return { id: (await forge.createIssueComment(pr, body)).id, action: "created" };
    await forge.updateIssueComment(keep.id, body);
    for (const duplicate of duplicates) await forge.deleteIssueComment(duplicate.id);
    return { id: keep.id, action: "updated" };
}
