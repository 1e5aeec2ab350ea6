/**
 * Opening a promotion pull request from a git checkout: the change is written and committed in a
 * temporary worktree on the remote's base branch, pushed to a branch of its own, and proposed as a
 * pull request. The operator's working tree, index and HEAD are never touched.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RefusedError, UsageError } from "../errors";
import { git, repoRoot } from "../git";
import { ForgeError, type ForgePort } from "./forge";

/** A text, or a function giving it once `apply` has run (when the text describes what apply found). */
export type PromotionText = string | (() => string);

const textOf = (text: PromotionText): string => typeof text === "function" ? text() : text;

export interface PromotionRequest {
    /** Any directory of the operator's checkout. */
    repoDir: string;
    /** Default "origin". */
    remote?: string;
    /** Default "main". */
    base?: string;
    /** The remote branch pushed (see promotionBranch); force-pushed, so a rerun replaces it. No local branch is made. */
    branch: string;
    /** Paths from the repository's root: only these are committed. */
    files: string[];
    /** Writes the change into the worktree (its root is the given directory). */
    apply: (worktreeDir: string) => Promise<void>;
    commitMessage: PromotionText;
    title: PromotionText;
    body: PromotionText;
    forge: Pick<ForgePort, "createPull">;
}

export interface PromotionResult {
    /** Undefined when the branch's pull request was already open (a rerun): the push updated it. */
    number?: number;
    url?: string;
    branch: string;
    /** The commit pushed. */
    commit: string;
}

/** Network operations may take longer than local ones. */
const NETWORK_TIMEOUT_MS = 180_000;

/**
 * The branch of a promotion: `sts-canary/promote-<stack>-<version>-<12 hex of the digest>`, with
 * every character git refuses in a ref (or a shell would trip on) replaced by `-`.
 */
export function promotionBranch(targetStack: string, version: string, digest: string): string {
    const hex = /^(?:sha256:)?([0-9a-f]{12,})$/i.exec(digest.trim())?.[1];
    if (!hex) throw new UsageError(`digest "${digest}" is not a sha256 digest; allowed: sha256:<hex> (at least 12 hex digits)`);
    const clean = (part: string, name: string): string => {
        const c = part.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/\.{2,}/g, ".").replace(/^[-.]+|[-.]+$/g, "");
        if (c === "") throw new UsageError(`${name} "${part}" has nothing usable in a branch name; allowed: letters, digits, ".", "_", "-"`);
        return c;
    };
    return `sts-canary/promote-${clean(targetStack, "stack")}-${clean(version, "version")}-${hex.slice(0, 12).toLowerCase()}`;
}

/** Paths from the repository's root that stay inside it. */
function checkFiles(files: string[]): void {
    if (files.length === 0) throw new UsageError("no files to promote: give at least one path from the repository's root");
    const bad = files.filter((f) => { const n = path.posix.normalize(f); return f === "" || path.isAbsolute(f) || n === "." || n.startsWith("../") || n === ".."; });
    if (bad.length > 0) throw new UsageError(`files ${bad.map((f) => JSON.stringify(f)).join(", ")} are not paths inside the repository (relative to its root)`);
}

/** `-c` flags for the commit: the operator's identity when git has one, else the tool's. */
async function identityFlags(cwd: string): Promise<string[]> {
    const config = async (key: string): Promise<string | undefined> => {
        try {
            return (await git(["config", "--get", key], { cwd })).trim() || undefined;
        } catch {
            return undefined; // exit 1: not set
        }
    };
    const email = await config("user.email");
    if (email === undefined) return ["-c", "user.name=sts-canary", "-c", "user.email=sts-canary@localhost"];
    return (await config("user.name")) === undefined ? ["-c", "user.name=sts-canary"] : [];
}

/** Removes the worktree; never throws (the first error of the promotion is the one worth showing). */
async function removeWorktree(root: string, parent: string, worktree: string): Promise<void> {
    await git(["worktree", "remove", "--force", worktree], { cwd: root }).catch(() => undefined);
    fs.rmSync(parent, { recursive: true, force: true });
    await git(["worktree", "prune"], { cwd: root }).catch(() => undefined);
}

/** Commits the change on a fresh branch from `<remote>/<base>`, pushes it and opens the pull request. */
export async function openPromotionPr(request: PromotionRequest): Promise<PromotionResult> {
    const { branch, files, forge } = request;
    const remote = request.remote ?? "origin";
    const base = request.base ?? "main";
    checkFiles(files);
    const root = await repoRoot(request.repoDir);
    await git(["check-ref-format", "--branch", branch], { cwd: root }).catch(() => {
        throw new UsageError(`branch "${branch}" is not a valid git branch name`);
    });
    if (branch === base) throw new UsageError(`branch "${branch}" is the base branch; a promotion force-pushes its own branch`);
    // An explicit refspec: `<remote>/<base>` is updated even when the clone's fetch config would not.
    await git(["fetch", "--no-tags", remote, `+refs/heads/${base}:refs/remotes/${remote}/${base}`], { cwd: root, timeoutMs: NETWORK_TIMEOUT_MS });
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-promote-"));
    const worktree = path.join(parent, "worktree");
    try {
        // Detached: no local branch is created or moved, so none of the operator's branches can be touched.
        await git(["worktree", "add", "--force", "--detach", worktree, `${remote}/${base}`], { cwd: root });
        await request.apply(worktree);
        const changed = await git(["status", "--porcelain", "--untracked-files=all", "--", ...files], { cwd: worktree });
        if (changed.trim() === "") throw new RefusedError(`nothing to promote: ${files.join(", ")} on ${remote}/${base} already hold this change`);
        await git(["add", "--", ...files], { cwd: worktree });
        // No hooks: the temporary worktree has none of the project's installed tools; the pull request's CI checks the change.
        await git([...await identityFlags(worktree), "commit", "--no-verify", "-m", textOf(request.commitMessage)], { cwd: worktree });
        const commit = (await git(["rev-parse", "HEAD"], { cwd: worktree })).trim();
        await git(["push", "--force", remote, `HEAD:refs/heads/${branch}`], { cwd: worktree, timeoutMs: NETWORK_TIMEOUT_MS });
        try {
            const pull = await forge.createPull({ title: textOf(request.title), head: branch, base, body: textOf(request.body) });
            return { ...pull, branch, commit };
        } catch (err) {
            // A rerun while the pull request is open: the force-push above updated it (GitHub 422, Gitea 409).
            if (err instanceof ForgeError && (err.status === 422 || err.status === 409) && /already exists/i.test(err.message)) return { branch, commit };
            throw err;
        }
    } finally {
        await removeWorktree(root, parent, worktree);
    }
}
