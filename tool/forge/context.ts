/**
 * Where a CI job's forge is: API address, repository, token and pull request, read from the
 * variables GitHub Actions sets (Gitea and Forgejo Actions set the same names). The token is only
 * ever read from the environment, never from a flag (flags show in process lists and shell history).
 */
import * as fs from "fs";
import { UsageError } from "../errors";

/** The forge and repository a job talks to. */
export interface ForgeTarget {
    /** REST API root without a trailing slash, e.g. `https://api.github.com`, `http://127.0.0.1:13000/api/v1`. */
    apiUrl: string;
    owner: string;
    repo: string;
    token: string;
}

/** Variables that carry the token, first found wins. */
export const TOKEN_VARIABLES = ["STS_CANARY_FORGE_TOKEN", "GITHUB_TOKEN"] as const;

/** Every forge or runner credential a job may hold: deleted before a pull request's own code runs. */
export const CREDENTIAL_VARIABLES = [...TOKEN_VARIABLES, "GH_TOKEN", "GITEA_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"] as const;

const DEFAULT_API_URL = "https://api.github.com";

/** Owner and name as forges allow them (letters, digits, `-`, `_`, `.`). */
const REPOSITORY = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/;

/** A variable's value, unset when empty (an Actions expression for a missing secret gives ""). */
function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
    const v = env[name]?.trim();
    return v ? v : undefined;
}

/** The forge target, or one UsageError naming every variable that is missing or invalid. */
export function forgeTarget(env: NodeJS.ProcessEnv = process.env): ForgeTarget {
    const problems: string[] = [];
    const apiUrl = (value(env, "GITHUB_API_URL") ?? DEFAULT_API_URL).replace(/\/+$/, "");
    if (!/^https?:\/\/[^/\s]+/.test(apiUrl)) problems.push(`GITHUB_API_URL "${apiUrl}" is not an http(s) URL`);
    const repository = value(env, "GITHUB_REPOSITORY");
    const match = repository === undefined ? null : REPOSITORY.exec(repository);
    if (repository === undefined) problems.push("GITHUB_REPOSITORY is not set; expected owner/repo");
    else if (!match || match[1].startsWith(".") || match[2].startsWith(".")) problems.push(`GITHUB_REPOSITORY "${repository}" is not owner/repo`);
    const token = TOKEN_VARIABLES.map((name) => value(env, name)).find((v) => v !== undefined);
    if (token === undefined) problems.push(`no forge token: set ${TOKEN_VARIABLES.join(" or ")}`);
    if (problems.length > 0) throw new UsageError(`the forge is not configured: ${problems.join("; ")}`);
    return { apiUrl, owner: match![1], repo: match![2], token: token! };
}

/** A positive integer, or undefined. */
function prNumber(v: unknown): number | undefined {
    const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v;
    return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The PR number in an Actions event payload: `pull_request.number`, else `number`, else `issue.number`. */
export function eventPullRequest(event: unknown): number | undefined {
    const e = (event ?? {}) as { pull_request?: { number?: unknown }; number?: unknown; issue?: { number?: unknown } };
    return prNumber(e.pull_request?.number) ?? prNumber(e.number) ?? prNumber(e.issue?.number);
}

/** The pull request of this job: STS_CANARY_PR when set, else the event file at GITHUB_EVENT_PATH. */
export function pullRequestNumber(env: NodeJS.ProcessEnv = process.env,
    readFile: (file: string) => string = (file) => fs.readFileSync(file, "utf8")): number {
    const explicit = value(env, "STS_CANARY_PR");
    if (explicit !== undefined) {
        const n = prNumber(explicit);
        if (n === undefined) throw new UsageError(`STS_CANARY_PR "${explicit}" is not a pull request number; allowed: a positive integer`);
        return n;
    }
    const file = value(env, "GITHUB_EVENT_PATH");
    if (file === undefined) throw new UsageError("no pull request: set STS_CANARY_PR, or GITHUB_EVENT_PATH to the event file of a pull_request job");
    let event: unknown;
    try {
        event = JSON.parse(readFile(file));
    } catch (err) {
        throw new UsageError(`GITHUB_EVENT_PATH ${file}: cannot read its JSON: ${(err as Error).message}`);
    }
    const n = eventPullRequest(event);
    if (n === undefined) {
        const name = value(env, "GITHUB_EVENT_NAME");
        throw new UsageError(`GITHUB_EVENT_PATH ${file} has no pull_request.number, number or issue.number`
            + `${name ? ` (event ${name})` : ""}: run on a pull request, or set STS_CANARY_PR`);
    }
    return n;
}
