/**
 * What `sts-canary deploy` decides, without I/O: whether the config a stack runs is one git
 * deployed (the stack file at this commit, at the previous one, or at the commit a deploy's own
 * revert named), which secrets a revert must set again, and the Markdown report. Git is the one
 * record of desired config: the tool's verbs write config into an operator's checkout, and a
 * deploy that ran over such uncommitted config would silently undo it.
 */
import { CORE_SCHEMA, load } from "js-yaml";
import { redact } from "sts-canary/api";
import { type BackendLock, EXIT, RefusedError } from "../errors";
import type { StackConfig } from "../ports";

/** How a key neither the stack file nor the project's defaults set is shown and compared. */
export const ABSENT = "absent";

/** How a stack file's `secure:` value is compared: its plain value is not known without the key. */
export const SECURE = "[secret]";

/** The `pulumi up` message of a deploy of `commit`, and of the revert to `commit` after a failed one. */
export const deployMessage = (commit: string): string => `sts-canary deploy ${commit}`;
export const revertMessage = (commit: string): string => `sts-canary deploy: reverted to ${commit}`;

/** The commit a deploy's own `up` message names: what it deployed, or what it reverted to. */
export function parseDeployMessage(message: string | undefined): { kind: "deploy" | "revert"; commit: string } | undefined {
    const text = (message ?? "").trim();
    // Full hashes only (SHA-1 or SHA-256 repositories): the deploy writes them so, and a short one could be ambiguous later.
    const revert = /^sts-canary deploy: reverted to ([0-9a-f]{40}|[0-9a-f]{64})$/.exec(text);
    if (revert) return { kind: "revert", commit: revert[1] };
    const deployed = /^sts-canary deploy ([0-9a-f]{40}|[0-9a-f]{64})$/.exec(text);
    return deployed ? { kind: "deploy", commit: deployed[1] } : undefined;
}

/** The first 12 characters of a commit, as reports show it. */
export const short = (commit: string): string => commit.slice(0, 12);

// ---------------------------------------------------------------------------------------------
// Canonical values

function sortedKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortedKeys);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
    }
    return value;
}

/**
 * One config value as text that compares equal when Pulumi would deploy the same value: strings
 * as they are, numbers and booleans as their text, lists and maps (or a string holding their
 * JSON, as `pulumi config` and the stack history show them) as JSON with sorted keys.
 */
export function canonical(value: unknown): string {
    if (value === undefined) return ABSENT;
    if (value === null) return "";
    if (typeof value === "string") {
        if (!/^\s*[[{]/.test(value)) return value;
        try {
            return JSON.stringify(sortedKeys(JSON.parse(value)));
        } catch {
            return value;
        }
    }
    if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
    if (typeof value === "object" && "secure" in value) return SECURE;
    return JSON.stringify(sortedKeys(value));
}

/** The raw value of a `pulumi config` entry: its object for lists and maps, else its text. */
export function rawOfConfig(config: StackConfig): Record<string, unknown> {
    return Object.fromEntries(Object.entries(config).map(([key, entry]) => [key, entry.objectValue !== undefined ? entry.objectValue : entry.value]));
}

// ---------------------------------------------------------------------------------------------
// Project and stack files

/** The Pulumi.yaml parts the deploy needs: the project's name, its config defaults (full keys) and where stack files live. */
export interface ProjectFile {
    name: string;
    defaults: Record<string, unknown>;
    stackConfigDir?: string;
}

const DECLARATION_FIELDS = new Set(["type", "description", "default", "value", "secret", "items"]);

function yamlObject(text: string, what: string): Record<string, unknown> {
    let parsed: unknown;
    try {
        // The YAML 1.2 core schema: no timestamps or merge keys, as Pulumi reads its files.
        parsed = load(text, { schema: CORE_SCHEMA, filename: what });
    } catch (err) {
        throw new RefusedError(`${what} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    if (parsed === undefined || parsed === null) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) throw new RefusedError(`${what} is not a YAML map`);
    return parsed as Record<string, unknown>;
}

/** `key` as a full key: a key without a namespace belongs to the project. */
const fullKey = (key: string, project: string): string => (key.includes(":") ? key : `${project}:${key}`);

/**
 * Pulumi.yaml's project name and config defaults: `<key>: {type, default}` (a declaration; one
 * without default or value gives none), or `<key>: <value>` / `<ns>:<key>: <value>` (a value for
 * every stack).
 */
export function parseProjectFile(text: string, what = "Pulumi.yaml"): ProjectFile {
    const doc = yamlObject(text, what);
    if (typeof doc.name !== "string" || doc.name === "") throw new RefusedError(`${what} has no project name`);
    const defaults: Record<string, unknown> = {};
    const config = (doc.config ?? {}) as Record<string, unknown>;
    for (const [key, entry] of Object.entries(config)) {
        const declaration = entry !== null && typeof entry === "object" && !Array.isArray(entry)
            && Object.keys(entry).some((field) => DECLARATION_FIELDS.has(field));
        if (!declaration) defaults[fullKey(key, doc.name)] = entry;
        else if ("value" in (entry as object)) defaults[fullKey(key, doc.name)] = (entry as { value: unknown }).value;
        else if ("default" in (entry as object)) defaults[fullKey(key, doc.name)] = (entry as { default: unknown }).default;
    }
    return { name: doc.name, defaults, stackConfigDir: typeof doc.stackConfigDir === "string" ? doc.stackConfigDir : undefined };
}

/** The stack file's name relative to the project directory: `Pulumi.<stack>.yaml` (the stack's own name, without org/project). */
export function stackFileName(stack: string, stackConfigDir?: string): string {
    const file = `Pulumi.${stack.split("/").pop()}.yaml`;
    return stackConfigDir ? `${stackConfigDir.replace(/\/+$/, "")}/${file}` : file;
}

/** A stack file's config by full key (raw values; `{secure}` for secrets); a file that is absent has none. */
export function parseStackFile(text: string | undefined, project: string, what: string): Record<string, unknown> {
    if (text === undefined) return {};
    const config = (yamlObject(text, what).config ?? {}) as Record<string, unknown>;
    if (typeof config !== "object" || Array.isArray(config)) throw new RefusedError(`${what}: config is not a map`);
    return Object.fromEntries(Object.entries(config).map(([key, value]) => [fullKey(key, project), value]));
}

/** Canonical values of `keys` (full keys): the config's, else the project's default, else ABSENT. */
export type KeyValues = Record<string, string>;

export function valuesOf(keys: readonly string[], config: Record<string, unknown>, defaults: Record<string, unknown>): KeyValues {
    return Object.fromEntries(keys.map((key) => [key, canonical(config[key] !== undefined ? config[key] : defaults[key])]));
}

// ---------------------------------------------------------------------------------------------
// The verdict: is the config the stack runs one git deployed?

/** One commit's stack file, as the verdict compares it. */
export interface GitSide {
    /** How a refusal names it, e.g. `at this commit`, `at the previous commit 1a2b3c4d5e6f`. */
    where: string;
    commit?: string;
    /** The keys' values in that commit's stack file (with the project's defaults); undefined when it could not be read. */
    values?: KeyValues;
    /** Why it could not be read. */
    problem?: string;
}

export interface Verdict {
    ok: boolean;
    /** One sentence: why it passes, or why it is refused. */
    why: string;
    /** Each differing key: `sts-canary:replicas: deployed 2, git 3 at this commit`. */
    differences: string[];
    /** How to fix a refusal. */
    fix?: string;
}

export interface VerdictInput {
    /** The full config keys the program's contract names (configKeys); none when the stack exports no contract. */
    keys: readonly string[];
    /** The keys' values in the stack's newest successful update; undefined when it was never updated. */
    deployed?: KeyValues;
    head: GitSide;
    /** The previous commit, and the commit the newest update's message names. */
    others: GitSide[];
    adoptGit: boolean;
    /** Stack file name for messages. */
    file: string;
}

const differing = (keys: readonly string[], a: KeyValues, b: KeyValues): string[] => keys.filter((key) => a[key] !== b[key]);

/**
 * Passes when the stack was never updated, exports no contract (no tool verb can have written its
 * config), or runs exactly the config of one of git's stack files; `--adopt-git` passes anyway and
 * keeps the differences for the report. Else refused, each differing key with both values.
 */
export function judgeDeployed(input: VerdictInput): Verdict {
    const { keys, deployed, head, others } = input;
    if (deployed === undefined) return { ok: true, why: "the stack was never updated", differences: [] };
    if (keys.length === 0) return { ok: true, why: "the stack exports no stsCanary contract: no tool verb can have set its config", differences: [] };
    const match = [head, ...others].find((side) => side.values !== undefined && differing(keys, deployed, side.values).length === 0);
    if (match) return { ok: true, why: `the stack runs the config of ${input.file} ${match.where}`, differences: [] };
    const differences = head.values
        ? differing(keys, deployed, head.values).map((key) => `${key}: deployed ${deployed[key]}, git ${head.values![key]} ${head.where}`)
        : [`${input.file} ${head.where} could not be read: ${head.problem ?? "unknown"}`];
    for (const side of others) {
        if (!side.values) {
            if (side.problem) differences.push(`(${input.file} ${side.where} could not be compared: ${side.problem})`);
            continue;
        }
        const keysOff = differing(keys, deployed, side.values);
        differences.push(`(nor ${side.where}: ${keysOff.map((key) => `${key} ${side.values![key]}`).join(", ")})`);
    }
    if (input.adoptGit) {
        return { ok: true, why: `--adopt-git: deploying git's config over config the stack runs that git did not deploy`, differences };
    }
    return {
        ok: false, differences,
        why: `the stack runs config that git did not deploy (a tool step, promote or rollback not committed yet?): `
            + `its newest successful update is not the config of ${input.file} at this commit, the previous one, or a commit a deploy reverted to`,
        fix: `commit the config the tool wrote (${input.file} of the operator's checkout) and push it; or, after checking that `
            + `git's config is what should run, deploy it over the stack's with \`sts-canary deploy --adopt-git\``,
    };
}

/** Keys where the working stack file (what `pulumi up` reads) differs from HEAD's: `up` would deploy config git does not have. */
export function workingDifferences(keys: readonly string[], working: KeyValues, head: KeyValues): string[] {
    return differing(keys, working, head).map((key) => `${key}: working file ${working[key]}, git ${head[key]} at this commit`);
}

// ---------------------------------------------------------------------------------------------
// The revert

/**
 * The secrets of the config before the deploy (CI's credentials, set by `pulumi config set
 * --secret` into the working file) that the previous commit's file lacks or holds another value
 * of: set again, so the revert's `up` runs with them. `after` undefined (its config could not be
 * read) sets them all.
 */
export function secretsToKeep(before: StackConfig, after: StackConfig | undefined): StackConfig {
    const keep: StackConfig = {};
    for (const [key, entry] of Object.entries(before)) {
        if (!entry.secret) continue;
        const now = after?.[key];
        if (now && now.secret && now.value === entry.value) continue;
        keep[key] = { ...entry, secret: true };
    }
    return keep;
}

const SECRETS_SETTINGS = ["secretsprovider", "encryptedkey", "encryptionsalt"];

/**
 * The previous commit's stack file with the working file's secrets settings (passphrase salt,
 * provider, key) for those it lacks: CI's `pulumi config set --secret` may have written them into
 * the working file only, and the secrets set again must be encrypted as the stack's state expects.
 */
export function withSecretsSettings(previous: string, working: string): string {
    const missing = SECRETS_SETTINGS.filter((key) => !new RegExp(`^${key}:`, "m").test(previous));
    const lines = working.split("\n").filter((line) => missing.some((key) => line.startsWith(`${key}:`)));
    return lines.length === 0 ? previous : `${lines.join("\n")}\n${previous}`;
}

/** The plain values of the config's secrets, hidden in every text the deploy writes. */
export const secretValues = (config: StackConfig): string[] =>
    Object.values(config).filter((entry) => entry.secret && entry.value).map((entry) => entry.value);

// ---------------------------------------------------------------------------------------------
// Outcome and report

export type DeployOutcome =
    | { kind: "deployed"; commit: string; summary?: string; notes: string[] }
    | { kind: "refused"; why: string; differences: string[]; fix?: string }
    | { kind: "locked"; cause: string; locks: BackendLock[] }
    | { kind: "interrupted"; cause: string }
    | { kind: "reverted"; commit: string; cause: string; previous: string; summary?: string; secretsKept: string[]; notes: string[] }
    | { kind: "revertFailed"; commit: string; cause: string; previous?: string; revertCause: string; notes: string[] };

/** The exit code of an outcome (EXIT in errors.ts). */
export function exitOf(outcome: DeployOutcome): number {
    switch (outcome.kind) {
        case "deployed": return EXIT.ok;
        case "refused": return EXIT.refused;
        case "locked": return EXIT.locked;
        case "interrupted": return EXIT.interrupted;
        case "reverted": return EXIT.rolledBack;
        case "revertFailed": return EXIT.rollbackFailed;
    }
}

const block = (text: string): string[] => ["```text", text.replace(/```/g, "'''"), "```"];
const bullets = (lines: string[]): string[] => lines.map((line) => `- ${line}`);
const sentence = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

function body(outcome: DeployOutcome): { heading: string; lines: string[] } {
    switch (outcome.kind) {
        case "deployed":
            return { heading: `✅ deployed ${short(outcome.commit)}`, lines: [outcome.summary ? `Rollout: ${outcome.summary}` : "", ...outcome.notes] };
        case "refused":
            return { heading: "⛔ refused, nothing changed", lines: [sentence(outcome.why), "", ...bullets(outcome.differences), "", outcome.fix ? `To fix: ${outcome.fix}.` : ""] };
        case "locked":
            return {
                heading: "🔒 the state backend is locked, nothing changed",
                lines: [...block(outcome.cause), "",
                    "Another `pulumi` holds the stack's state (it may still run): nothing was reverted and the lock was not cancelled. "
                    + "Run the deploy again when it is gone; `pulumi cancel` only once that process is known to be dead.",
                    ...bullets(outcome.locks.map((l) => `${l.user}@${l.host} pid ${l.pid} since ${l.createdAt}`))],
            };
        case "interrupted":
            return { heading: "⏹️ interrupted", lines: [`\`pulumi up\` was stopped (${outcome.cause}); nothing was reverted: \`sts-canary status\` shows where the stack stands.`] };
        case "reverted":
            return {
                heading: "❌ `pulumi up` failed",
                lines: [`Deploying ${short(outcome.commit)} failed:`, ...block(outcome.cause), "",
                    `↩️ Reverted: the stack file of ${short(outcome.previous)} is deployed again and healthy: ${outcome.summary || "(no rolloutSummary output)"}`,
                    outcome.secretsKept.length > 0 ? `(secrets set again from this run's config: ${outcome.secretsKept.join(", ")})` : "", ...outcome.notes],
            };
        case "revertFailed":
            return {
                heading: "❌ `pulumi up` failed",
                lines: [`Deploying ${short(outcome.commit)} failed:`, ...block(outcome.cause), "",
                    `⚠️ The revert${outcome.previous ? ` to the stack file of ${short(outcome.previous)}` : ""} did not recover the stack:`,
                    ...block(outcome.revertCause), "", "`sts-canary status` shows where the stack stands.", ...outcome.notes],
            };
    }
}

/** The Markdown summary of a deploy (stdout and the job summary), every secret value hidden. */
export function renderReport(stack: string, outcome: DeployOutcome, secrets: readonly string[]): string {
    const { heading, lines } = body(outcome);
    const text = [`### deploy of \`${stack}\`: ${heading}`, "", ...lines].join("\n").replace(/\n{3,}/g, "\n\n").trim();
    return redact(text, secrets) + "\n";
}
