/**
 * `sts-canary deploy <stack>`: what CI's deploy job runs on every merge to main. Git is the one
 * record of desired config, so it first refuses (nothing changed) while a tool operation is in
 * flight in the stack's cluster, or when the stack runs config git did not deploy (a tool verb's
 * config not committed yet, which the deploy would silently undo). Then `pulumi up`; when that
 * fails (and the state was not locked), the previous commit's stack file is deployed again with
 * this run's secrets, and the checkout keeps its own file. The decisions are in deploy/desired.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { Command } from "commander";
import { keysOf } from "../canary";
import type { ToolContext } from "../core";
import {
    DeployOutcome, GitSide, KeyValues, ProjectFile, deployMessage, exitOf, parseDeployMessage, parseProjectFile, parseStackFile, rawOfConfig,
    renderReport, revertMessage, secretValues, secretsToKeep, short, stackFileName, valuesOf, withSecretsSettings, judgeDeployed, workingDifferences,
} from "../deploy/desired";
import { RefusedError, UpFailed, UsageError } from "../errors";
import { git, pathInRepo, showFile } from "../git";
import { StackConfig } from "../ports";
import type { Session } from "../session";
import { collectStatus } from "./status";
import { CommandHost } from "./common";

/** The git history the deploy reads. */
export interface GitPort {
    /** The full commit `rev` names; undefined when it names none in this checkout (HEAD^ of a first commit, a commit not fetched). */
    commit(rev: string): Promise<string | undefined>;
    /** A file at a commit (path from the repository's root); undefined when that commit has no such file. */
    show(commit: string, file: string): Promise<string | undefined>;
}

/** The working stack file: what `pulumi up` reads, and what the revert swaps for a while. */
export interface WorkFile {
    read(): Promise<string | undefined>;
    write(text: string): Promise<void>;
}

export interface DeployDeps {
    ctx: Pick<ToolContext, "stack" | "cluster" | "clock" | "signal">;
    git: GitPort;
    workFile: WorkFile;
    /** Paths from the repository's root: the stack file and Pulumi.yaml. */
    stackFile: string;
    projectFile: string;
    /** Progress for humans (stderr: stdout carries the report). */
    say: (line: string) => void;
    /** `pulumi up`'s output as it comes. */
    onOutput: (text: string) => void;
}

export interface DeployOptions {
    /** The commit a failed deploy goes back to (CI passes the push's `before`). */
    previous: string;
    policyPacks: string[];
    adoptGit: boolean;
}

interface Options {
    previous: string;
    policyPack: string[];
    adoptGit?: boolean;
}

export function register(program: Command, host: CommandHost): void {
    program.command("deploy")
        .description("CI's deploy of a merge: refuse (exit 6, nothing changed) while a tool operation is in flight or when the stack runs "
            + "config git did not deploy; `pulumi up`; when it fails, deploy the previous commit's stack file again (exit 3 healthy, "
            + "4 not recovered; 7 state locked). A Markdown summary goes to stdout and to $GITHUB_STEP_SUMMARY")
        .argument("<stack>", "the stack to deploy, e.g. dev")
        .option("--previous <rev>", "the commit a failed deploy goes back to (CI: the push's `before`)", "HEAD^")
        .option("--policy-pack <dir>", "policy pack to run with every `up` (repeatable)", (v: string, all: string[]) => [...all, v], [])
        .option("--adopt-git", "deploy git's config even though the stack runs config git did not deploy (check what it runs first)")
        .action(async (stackName: string, options: Options) => {
            const session = host.session();
            if (options.previous.startsWith("-")) throw new UsageError(`--previous "${options.previous}" must not start with "-"`);
            const outcome = await deployCommand(session, stackName, options);
            const text = renderReport(stackName, outcome.outcome, outcome.secrets);
            if (session.globals.json) process.stdout.write(JSON.stringify({ exitCode: exitOf(outcome.outcome), kind: outcome.outcome.kind, report: text }, null, 2) + "\n");
            else process.stdout.write(text);
            appendStepSummary(text);
            host.exit(exitOf(outcome.outcome));
        });
}

/** The real dependencies: the stack and cluster of the session, git and the working stack file of its checkout. */
async function deployCommand(session: Session, stackName: string, options: Options): Promise<{ outcome: DeployOutcome; secrets: string[] }> {
    let ctx: ToolContext;
    try {
        ctx = await session.context(stackName);
    } catch (err) {
        // A cluster that cannot be resolved is a refusal like any other: the job summary says so.
        if (err instanceof RefusedError) return { outcome: { kind: "refused", why: err.message, differences: [] }, secrets: [] };
        throw err;
    }
    session.installInterruptHandler();
    const workDir = session.workDir;
    const project = parseProjectFile(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8"));
    const working = path.join(workDir, stackFileName(ctx.stack.name, project.stackConfigDir));
    const deps: DeployDeps = {
        ctx,
        git: {
            commit: async (rev) => (await git(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { cwd: workDir }).catch(() => "")).trim() || undefined,
            show: (commit, file) => showFile(workDir, commit, file),
        },
        workFile: {
            read: async () => (fs.existsSync(working) ? fs.readFileSync(working, "utf8") : undefined),
            write: async (text) => fs.writeFileSync(working, text),
        },
        stackFile: await pathInRepo(workDir, working),
        projectFile: await pathInRepo(workDir, path.join(workDir, "Pulumi.yaml")),
        say: (line) => process.stderr.write(line + "\n"),
        onOutput: (text) => process.stderr.write(text),
    };
    return deploy(deps, { previous: options.previous, policyPacks: options.policyPack.map((p) => path.resolve(p)), adoptGit: options.adoptGit ?? false });
}

function appendStepSummary(text: string): void {
    const file = process.env.GITHUB_STEP_SUMMARY;
    if (file) fs.appendFileSync(file, text + "\n");
}

/**
 * The deploy: the guards, `pulumi up`, and the revert after a failed one. Never throws for a
 * failed `up` or revert: every end is an outcome (deploy/desired.ts `exitOf`). The config is read
 * once, with its secrets, before the first `up`: the secrets to hide, and to set again on revert.
 */
export async function deploy(deps: DeployDeps, options: DeployOptions): Promise<{ outcome: DeployOutcome; secrets: string[] }> {
    const head = await deps.git.commit("HEAD");
    if (!head) throw new UsageError("the project directory is not in a git checkout with a commit: deploy deploys a commit");
    const before = await deps.ctx.stack.getConfig();
    const secrets = secretValues(before);
    const previous = await deps.git.commit(options.previous);
    let notes: string[];
    try {
        const guard = await guards(deps, options, head, previous, before);
        if ("kind" in guard) return { outcome: guard, secrets };
        notes = guard.notes;
    } catch (err) {
        if (err instanceof RefusedError) return { outcome: { kind: "refused", why: err.message, differences: [] }, secrets };
        throw err;
    }
    if (!previous) notes.push(`(--previous ${options.previous} names no commit in this checkout: a failed deploy could not be reverted)`);
    deps.say(`deploying ${short(head)} to stack ${deps.ctx.stack.name}`);
    const up = await upOnce(deps, options, deployMessage(head));
    if (!up) return { outcome: { kind: "deployed", commit: head, summary: await rolloutSummary(deps), notes }, secrets };
    if (up.backendLocks.length > 0) return { outcome: { kind: "locked", cause: up.message, locks: up.backendLocks }, secrets };
    if (up.interrupted) return { outcome: { kind: "interrupted", cause: up.message }, secrets };
    deps.say(`pulumi up failed: ${up.message.split("\n")[0]}; reverting to the stack file of ${previous ? short(previous) : "(no previous commit)"}`);
    return { outcome: await revert(deps, options, { head, previous, cause: up.message, before, notes }), secrets };
}

/** `pulumi up` with the deploy's message and policy packs: the failure, or undefined when it succeeded. */
async function upOnce(deps: DeployDeps, options: DeployOptions, message: string): Promise<UpFailed | undefined> {
    try {
        await deps.ctx.stack.up({ message, policyPacks: options.policyPacks, onOutput: deps.onOutput, signal: deps.ctx.signal });
        return undefined;
    } catch (err) {
        return err instanceof UpFailed ? err : new UpFailed(String((err as Error)?.message ?? err), [], false, { cause: err });
    }
}

async function rolloutSummary(deps: DeployDeps): Promise<string | undefined> {
    const outputs = await deps.ctx.stack.outputs().catch(() => ({} as Record<string, unknown>));
    return typeof outputs.rolloutSummary === "string" ? outputs.rolloutSummary : undefined;
}

/**
 * The refusals: a tool operation in flight or interrupted in the cluster; the working stack file
 * not git's (HEAD's) for the contract's keys; the stack running config no git stack file had.
 * Returns the refusal, or notes for the report.
 */
async function guards(deps: DeployDeps, options: DeployOptions, head: string, previous: string | undefined, working: StackConfig): Promise<DeployOutcome | { notes: string[] }> {
    const status = await collectStatus(deps.ctx);
    const operation = status.operation;
    if (operation.running || operation.interrupted) {
        return {
            kind: "refused", differences: [],
            why: `a tool operation is ${operation.running ? "in flight" : "interrupted"} in the stack's cluster: ${operation.summary ?? "(no summary)"}`,
            fix: operation.running ? "wait for it to finish, then run the deploy again"
                : "finish or undo it (`sts-canary status` explains it; `sts-canary rollback` undoes it), commit the config it leaves, then run the deploy again",
        };
    }
    const stack = deps.ctx.stack;
    const keys = status.contract ? Object.values(keysOf(status.contract, stack.project)).filter((k): k is string => k !== undefined) : [];
    const headText = await deps.git.show(head, deps.stackFile);
    const project = parseProjectFile((await deps.git.show(head, deps.projectFile)) ?? "", `${deps.projectFile} at ${short(head)}`);
    if (headText === undefined) throw new RefusedError(`${deps.stackFile} is not in commit ${short(head)}: commit the stack file first`);
    const headValues = valuesOf(keys, parseStackFile(headText, project.name, `${deps.stackFile} at ${short(head)}`), project.defaults);
    const dirty = workingDifferences(keys, valuesOf(keys, rawOfConfig(working), project.defaults), headValues);
    if (dirty.length > 0) {
        return {
            kind: "refused", differences: dirty, why: `the working ${deps.stackFile} is not the one of this commit: \`pulumi up\` would deploy config git does not have`,
            fix: `commit it, or restore it with \`git checkout -- ${deps.stackFile}\``,
        };
    }
    const last = await stack.lastDeployedConfig();
    const deployed = last ? valuesOf(keys, rawOfConfig(last.config), project.defaults) : undefined;
    const others = await otherSides(deps, project, keys, previous, parseDeployMessage(last?.message), options.previous);
    const verdict = judgeDeployed({ keys, deployed, head: { where: "at this commit", commit: head, values: headValues }, others, adoptGit: options.adoptGit, file: deps.stackFile });
    if (!verdict.ok) return { kind: "refused", why: verdict.why, differences: verdict.differences, fix: verdict.fix };
    deps.say(`guard: ${verdict.why}`);
    return { notes: verdict.differences.length > 0 ? [verdict.why + ":", ...verdict.differences.map((d) => `- ${d}`)] : [] };
}

/** The previous commit's stack file and the one at the commit the newest update's message names (a deploy's own, or its revert's). */
async function otherSides(deps: DeployDeps, project: ProjectFile, keys: readonly string[], previous: string | undefined,
    named: ReturnType<typeof parseDeployMessage>, previousRev: string): Promise<GitSide[]> {
    const sides: GitSide[] = [];
    sides.push(previous ? await sideAt(deps, project, keys, previous, `at the previous commit ${short(previous)}`)
        : { where: `at the previous commit (${previousRev})`, problem: `${previousRev} names no commit in this checkout` });
    if (named) {
        const why = named.kind === "revert" ? "the commit a deploy reverted to" : "the commit the last deploy deployed";
        sides.push(await sideAt(deps, project, keys, named.commit, `at ${short(named.commit)}, ${why}`));
    }
    return sides;
}

async function sideAt(deps: DeployDeps, project: ProjectFile, keys: readonly string[], commit: string, where: string): Promise<GitSide> {
    try {
        const text = await deps.git.show(commit, deps.stackFile);
        const values: KeyValues = valuesOf(keys, parseStackFile(text, project.name, `${deps.stackFile} ${where}`), project.defaults);
        return { where, commit, values };
    } catch (err) {
        // A commit not in this checkout (not fetched, force-pushed away) matches nothing; the refusal says so.
        return { where, commit, problem: String((err as Error)?.message ?? err).split("\n")[0] };
    }
}

interface RevertInput {
    head: string;
    previous?: string;
    cause: string;
    /** The config before the first `up`, with its secrets. */
    before: StackConfig;
    notes: string[];
}

/**
 * Deploys the previous commit's stack file again: written into the working file (with the
 * working file's secrets settings), this run's secrets set again where it lacks them, `pulumi up`;
 * the working file is then put back as it was (git's file, plus CI's secrets), whatever happened.
 */
async function revert(deps: DeployDeps, options: DeployOptions, input: RevertInput): Promise<DeployOutcome> {
    const failed = (revertCause: string): DeployOutcome => ({ kind: "revertFailed", commit: input.head, cause: input.cause, previous: input.previous, revertCause, notes: input.notes });
    if (!input.previous) return failed(`no previous commit to go back to: --previous ${options.previous} names no commit in this checkout`);
    let previousText: string | undefined;
    try {
        previousText = await deps.git.show(input.previous, deps.stackFile);
    } catch (err) {
        return failed(`could not read ${deps.stackFile} at ${short(input.previous)}: ${(err as Error).message}`);
    }
    if (previousText === undefined) return failed(`${deps.stackFile} is not in the previous commit ${short(input.previous)}: there is no config to go back to`);
    const saved = await deps.workFile.read();
    // The outcome keeps input.notes (the same array): a failure to put the file back, noted in `finally`, still shows.
    try {
        await deps.workFile.write(withSecretsSettings(previousText, saved ?? ""));
        const keep = secretsToKeep(input.before, await deps.ctx.stack.getConfig().catch(() => undefined));
        await deps.ctx.stack.setConfig(keep);
        const up = await upOnce(deps, options, revertMessage(input.previous));
        if (up) return failed(up.message);
        return {
            kind: "reverted", commit: input.head, cause: input.cause, previous: input.previous, summary: await rolloutSummary(deps),
            secretsKept: Object.keys(keep), notes: input.notes,
        };
    } catch (err) {
        return failed(String((err as Error)?.message ?? err));
    } finally {
        await restore(deps, saved, input);
    }
}

/** Puts the working stack file back as it was before the revert; a failure to do so becomes a note of the report. */
async function restore(deps: DeployDeps, saved: string | undefined, input: RevertInput): Promise<void> {
    try {
        const text = saved ?? await deps.git.show(input.head, deps.stackFile);
        if (text !== undefined) await deps.workFile.write(text);
    } catch (err) {
        input.notes.push(`(the working ${deps.stackFile} could not be put back: ${(err as Error).message}; \`git checkout -- ${deps.stackFile}\` does)`);
    }
}
