/**
 * A small git runner for the commands that read or write the project's checkout (promotion pull
 * requests, deploys from a commit): git itself through execFile (no shell), every call bounded in
 * time, failures naming the git command and what git said.
 */
import { execFile } from "child_process";
import * as path from "path";
import { EXIT, ToolError, UsageError } from "./errors";

/** A git command failed or did not finish in time. */
export class GitError extends ToolError {
    readonly exitCode = EXIT.error;

    /** `exitStatus`: git's own exit status (undefined when it was killed or did not start). */
    constructor(message: string, readonly exitStatus?: number) {
        super(message);
    }
}

export interface GitOptions {
    cwd: string;
    /** Default 60 s; a push or fetch over a slow network may need more. */
    timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Runs `git <args>` in `cwd`: its stdout as is (callers trim; `status --porcelain` lines start with a space). */
export function git(args: string[], options: GitOptions): Promise<string> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // No prompt for credentials: with no terminal, a push without credentials must fail, not hang until the timeout.
    const env = { ...process.env, GIT_TERMINAL_PROMPT: "0" };
    return new Promise((resolve, reject) => {
        execFile("git", args, { cwd: options.cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
            if (!err) return resolve(stdout);
            const command = `git ${args.join(" ")} (in ${options.cwd})`;
            const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
            if (e.killed) return reject(new GitError(`${command} did not finish within ${timeoutMs / 1000} s`));
            if (typeof e.code === "string") return reject(new GitError(`${command} could not run: ${e.message}`));
            reject(new GitError(`${command} failed (exit ${e.code}): ${stderr.trim() || stdout.trim() || e.message}`, e.code));
        });
    });
}

/** The top directory of the checkout `cwd` is in. */
export async function repoRoot(cwd: string): Promise<string> {
    return (await git(["rev-parse", "--show-toplevel"], { cwd })).trim();
}

/** The commit HEAD points at (full hex). */
export async function headCommit(cwd: string): Promise<string> {
    return (await git(["rev-parse", "--verify", "HEAD^{commit}"], { cwd })).trim();
}

/** A file as it is in commit `rev` (path from the repository's root); undefined when that commit has no such file. */
export async function showFile(cwd: string, rev: string, pathFromRepoRoot: string): Promise<string | undefined> {
    if (rev.startsWith("-")) throw new UsageError(`revision "${rev}" must not start with "-"`);
    const commit = (await git(["rev-parse", "--verify", `${rev}^{commit}`], { cwd })).trim();
    // ls-tree tells "not in this commit" (no line) from a bad revision (an error), which `git show rev:path` does not.
    const entry = (await git(["ls-tree", "--full-tree", "-z", commit, "--", pathFromRepoRoot], { cwd })).split("\0")[0];
    if (!entry) return undefined;
    const [mode, type, object] = entry.split("\t")[0].split(" ");
    if (type !== "blob") throw new UsageError(`${pathFromRepoRoot} in ${rev} is not a file (a ${type}, mode ${mode})`);
    return git(["cat-file", "blob", object], { cwd });
}

/** `file` (relative to `cwd`, or absolute) as a path from the repository's root, `/`-separated; outside the repository is a UsageError. */
export async function pathInRepo(cwd: string, file: string): Promise<string> {
    // Relative to cwd first (not to the repo root: that is a real path, and cwd may be reached through a symlink).
    const fromCwd = (path.isAbsolute(file) ? path.relative(cwd, file) : file).split(path.sep).join("/");
    const normal = path.posix.normalize((await git(["rev-parse", "--show-prefix"], { cwd })).trim() + fromCwd);
    if (normal === "." || normal === ".." || normal.startsWith("../") || path.posix.isAbsolute(normal)) {
        throw new UsageError(`${file} is not a file inside the git checkout of ${cwd}`);
    }
    return normal;
}
