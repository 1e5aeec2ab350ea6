/** `sts-canary promote-env --from dev --to prod`: the version verified in one stack, pinned by digest, as a canary in another. */
import * as fs from "fs";
import * as path from "path";
import { Command } from "commander";
import { type CanaryContract, digestOf, isPinned, registryOf } from "sts-canary/api";
import { keysOf, StackKeys } from "../canary";
import { Operation, ToolContext, failed, runStep, withOperation, writeConfig } from "../core";
import { parseStackFile } from "../deploy/desired";
import { PromotionChange, promotionBlockers, promotionConfig, promotionText, restoreOf, safeStartPartition, snapshot } from "../environments";
import { EXIT, Outcome, RefusedError, UsageError } from "../errors";
import { forgeTarget } from "../forge/context";
import { ForgePort, OctokitForge } from "../forge/forge";
import { openPromotionPr, promotionBranch } from "../forge/promotion";
import { pathInRepo } from "../git";
import { resolveCluster } from "../kube";
import { TimelineEntry } from "../operation";
import { ClusterPort, ConfigEntry, StackConfig, StackPort } from "../ports";
import { AutomationStack } from "../stack";
import { CanaryStatus } from "../status";
import { collectStatus } from "./status";
import { CommandHost, integer, report } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("promote-env")
        .description("promote the version fully rolled out and healthy in --from (pinned by its digest) to --to, as a canary at a safe partition; "
            + "each stack on its own cluster")
        .requiredOption("--from <stack>", "source stack, e.g. dev")
        .requiredOption("--to <stack>", "target stack, e.g. prod")
        .option("--partition <n>", "first partition in the target (default: replicas - 1, one canary pod)", integer("--partition"))
        .option("--yes", "apply after showing the preview without asking (required without a terminal)")
        .option("--no-rollback", "on failure, stop without rolling back")
        .option("--pr", "open a pull request that sets --to's stack file instead of deploying (forge and token from GITHUB_API_URL, "
            + "GITHUB_REPOSITORY, STS_CANARY_FORGE_TOKEN or GITHUB_TOKEN); merging it and CI's `deploy` deploy the target")
        .option("--remote <name>", "with --pr: the git remote to push the branch to", "origin")
        .option("--base <branch>", "with --pr: the branch the pull request targets", "main")
        .action(async (options: { from: string; to: string; partition?: number; yes?: boolean; rollback: boolean; pr?: boolean; remote: string; base: string }) => {
            const session = host.session();
            if (options.from === options.to) throw new UsageError("--from and --to must be different stacks");
            const entries: TimelineEntry[] = [];
            const ctx = { ...(await session.context(options.to)), onEntry: (e: TimelineEntry) => entries.push(e) };
            const sourceStack = await AutomationStack.open(session.workDir, options.from);
            const source = { stack: sourceStack, cluster: resolveCluster(options.from, await sourceStack.getConfig()) };
            if (options.pr) {
                const forge = new OctokitForge(forgeTarget(process.env));
                report(host, session, await promoteEnvPr(ctx, source, { ...options, workDir: session.workDir, forge }), entries);
                return;
            }
            session.installInterruptHandler();
            report(host, session, await promoteEnv(ctx, source, { partition: options.partition, yes: options.yes, noRollback: !options.rollback }), entries);
        });
}

export interface SourceStack {
    stack: StackPort;
    cluster: ClusterPort;
}

export interface PromoteEnvOptions {
    partition?: number;
    yes?: boolean;
    noRollback?: boolean;
}

/** The version verified in the source stack and its pinned reference, or a refusal saying why there is none. */
async function verified(ctx: ToolContext, source: SourceStack): Promise<{ version: string; ref: string }> {
    const sourceStatus = await collectStatus({ stack: source.stack, cluster: source.cluster, clock: ctx.clock });
    const blockers = promotionBlockers(sourceStatus);
    if (blockers.length > 0) throw new RefusedError(`refusing to promote from ${source.stack.name}:\n  - ${blockers.join("\n  - ")}`);
    const version = sourceStatus.stableVersion!;
    const ref = sourceStatus.contract!.images[version];
    if (!ref || !isPinned(ref)) throw new RefusedError(`stack ${source.stack.name} exports no image of ${version} pinned by digest (stsCanary.images)`);
    return { version, ref };
}

/** The target's first partition: the one given, else one canary pod; refused outside 0..replicas. */
function startPartition(given: number | undefined, replicas: number): number {
    const start = given ?? safeStartPartition(replicas);
    if (!Number.isInteger(start) || start < 0 || start > replicas) throw new UsageError(`--partition ${start} is out of range; allowed 0..${replicas}`);
    return start;
}

/** Refuses a target whose program reads no pinned images from its config. */
function requirePinKey(keys: StackKeys, to: string): asserts keys is StackKeys & { pinnedImages: string } {
    if (!keys.pinnedImages) {
        throw new RefusedError(`stack ${to}'s program reads no pinned images from its config (its stsCanary.configKeys has no pinnedImages): `
            + "it cannot deploy a digest verified elsewhere; pass `pinnedImages` to the component from a config key and name it in `configKeys`");
    }
}

/** Refuses a verified image from another registry than the target pulls from. */
function checkRegistry(contract: CanaryContract, ref: string, to: string): void {
    const registry = contract.registry ?? Object.values(contract.images).map(registryOf)[0];
    if (registry && registryOf(ref) !== registry) {
        throw new RefusedError(`the verified image ${ref} is in registry ${registryOf(ref)}, but stack ${to} pulls from ${registry}; `
            + "promote within one Harbor, or replicate the image and pin it yourself");
    }
}

/** Refuses a target that cannot take the pin now: interrupted, mid-canary, stale, no pin key, another registry. */
function checkTarget(op: Operation, ref: string): string {
    const { canary } = op;
    const to = op.ctx.stack.name;
    if (op.interrupted) {
        throw new RefusedError(`stack ${to} has an interrupted ${op.interrupted.kind} of ${op.interrupted.canaryVersion}: continue it (\`sts-canary --stack ${to} promote\`) `
            + `or roll it back (\`sts-canary --stack ${to} rollback\`) first`);
    }
    op.requireInSync();
    if (canary.templateVersion !== canary.stableVersion || canary.contract.partition !== 0) {
        throw new RefusedError(`stack ${to} is mid-canary (partition ${canary.contract.partition}, ${canary.templateVersion} over ${canary.stableVersion}): finish it or roll it back first`);
    }
    requirePinKey(op.keys, to);
    checkRegistry(canary.contract, ref, to);
    return op.keys.pinnedImages;
}

/** The target's config that starts the pinned version at `start`, and its keys exactly as they are now. */
function pinConfig(op: Operation, pinKey: string, version: string, ref: string, start: number):
    { config: StackConfig; touched: string[]; previous: Record<string, ConfigEntry | null> } {
    const { canary, keys } = op;
    const touched = [pinKey, keys.version, keys.partition];
    const config = promotionConfig(canary.config, { pinnedImages: pinKey, version: keys.version, partition: keys.partition }, { version, ref, start },
        `of stack ${op.ctx.stack.name} are secrets; the tool does not copy secrets into the operation record`);
    return { config, touched, previous: snapshot(canary.config, touched) };
}

/**
 * `promote-env`: the version fully rolled out and healthy in the source stack goes to the target
 * stack pinned by the digest the source runs, as a canary at a safe partition. The target's keys
 * are recorded exactly (absent ones as absent) before anything is written, and restored exactly
 * when the preview fails, the change is declined, or the step fails.
 */
export async function promoteEnv(ctx: ToolContext, source: SourceStack, options: PromoteEnvOptions): Promise<Outcome> {
    if (source.stack.name === ctx.stack.name) throw new UsageError("--from and --to must be different stacks");
    if (!options.yes && !ctx.ask) throw new UsageError("no terminal to ask for approval: pass --yes to apply after the preview");
    const { version, ref } = await verified(ctx, source);

    return withOperation(ctx, async (op) => {
        const { canary } = op;
        const to = ctx.stack.name;
        const start = startPartition(options.partition, canary.contract.replicas);
        const pinKey = checkTarget(op, ref);
        if (canary.stableVersion === version && canary.contract.images[version] === ref && canary.live.pods.every((p) => p.version === version && p.ready)) {
            return { code: EXIT.ok, message: `${to} already runs ${version} (${ref}) on every pod` };
        }
        const { config, touched, previous } = pinConfig(op, pinKey, version, ref, start);
        const record = { ...op.newRecord("promote-env", [start], version), previousConfig: previous, pinned: { version, ref, fromStack: source.stack.name }, config, currentTarget: start };
        // The record (with the exact previous values) is in the cluster before the first write.
        await op.save(record);
        const restore = async (why: string) => {
            const { set, remove } = restoreOf(previous);
            await writeConfig(ctx.stack, set, remove);
            await op.log("restored", `${why}: ${touched.map((key) => key.split(":")[1]).join(", ")} of ${to} restored exactly`);
            await op.clear();
        };
        ctx.say(`promoting ${version} (${ref}) from ${source.stack.name} to ${to}, starting at partition ${start}`);
        await ctx.stack.setConfig(config);
        const diff = await ctx.stack.preview().catch(async (err: Error) => {
            await restore("the preview failed");
            throw new RefusedError(`the preview of ${to} failed; its config was restored, nothing else changed: ${String(err.message).slice(0, 2000)}`);
        });
        ctx.say(`--- pulumi preview --diff --stack ${to}\n${diff.trim()}\n---`);
        if (!(options.yes || (ctx.ask ? await ctx.ask(`apply to ${to}? [y/N] `) : false))) {
            await restore("not approved");
            return { code: EXIT.stopped, message: `not applied; the config of ${to} was restored` };
        }
        await op.log("promote-env", `${version} verified in ${source.stack.name} (${ref}) -> ${to}, partition ${start}`);
        const reason = await runStep(op, record, start, config);
        if (reason) return failed(op, reason, record, options.noRollback ?? false);
        await op.clear();
        return { code: EXIT.ok, message: `${to} runs ${version} (pinned ${ref}) on ordinals ${start}..${canary.contract.replicas - 1}; continue with \`sts-canary --stack ${to} promote --plan ...\`` };
    });
}

/**
 * These keys of a stack file as the file holds them: `pulumi config` (and even `config get`)
 * refuses a checkout without the secrets CI sets (a required secret is missing there).
 */
function readKeys(file: string, project: string, keys: string[]): StackConfig {
    const raw = parseStackFile(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined, project, path.basename(file));
    const config: StackConfig = {};
    for (const key of keys) {
        const value = raw[key];
        if (value === undefined) continue;
        const secret = typeof value === "object" && value !== null && "secure" in value;
        config[key] = { value: typeof value === "object" && !secret ? JSON.stringify(value) : String(value), objectValue: Array.isArray(value) ? value : undefined, secret };
    }
    return config;
}

export interface PromoteEnvPrOptions {
    partition?: number;
    workDir: string;
    remote: string;
    base: string;
    forge: ForgePort;
}

/** Refuses a target whose cluster shows an operation, or whose program cannot take a pin from this registry. */
function checkTargetForPr(target: CanaryStatus, ref: string): StackKeys & { pinnedImages: string } {
    const to = target.stack;
    if (!target.contract) throw new RefusedError(`stack ${to} has never been deployed (no stsCanary output): deploy it once first`);
    if (target.operation.running || target.operation.interrupted) {
        throw new RefusedError(`stack ${to}: ${target.operation.summary ?? "an operation holds it"}; finish it first (the pull request would deploy over it)`);
    }
    const keys = keysOf(target.contract, target.project);
    requirePinKey(keys, to);
    checkRegistry(target.contract, ref, to);
    return keys;
}

/**
 * `promote-env --pr`: the same verified source, but the target's new config goes to a pull request
 * instead of a deployment. The change is computed from the base branch's stack file (a pin added
 * on the base since the operator's last pull is kept), written with Pulumi's own `config set` in
 * a worktree of `<remote>/<base>`; the operator's checkout is not touched. CI's `deploy` deploys
 * it once merged.
 */
export async function promoteEnvPr(ctx: ToolContext, source: SourceStack, options: PromoteEnvPrOptions): Promise<Outcome> {
    const { version, ref } = await verified(ctx, source);
    const target = await collectStatus(ctx);
    const keys = checkTargetForPr(target, ref);
    const to = ctx.stack.name;
    const sourceSummary = String((await source.stack.outputs()).rolloutSummary ?? "");
    const stackFile = await pathInRepo(options.workDir, `Pulumi.${to}.yaml`);
    const projectDir = path.dirname(stackFile);
    let change: PromotionChange | undefined;
    const pull = await openPromotionPr({
        repoDir: options.workDir, remote: options.remote, base: options.base, branch: promotionBranch(to, version, digestOf(ref) ?? ref),
        files: [stackFile],
        apply: async (worktree) => {
            const dir = path.join(worktree, projectDir);
            const before = readKeys(path.join(dir, `Pulumi.${to}.yaml`), target.project, [keys.pinnedImages, keys.version, keys.partition, ...(keys.replicas ? [keys.replicas] : [])]);
            const replicas = keys.replicas && /^\d+$/.test(before[keys.replicas]?.value ?? "") ? Number(before[keys.replicas].value) : target.contract!.replicas;
            const start = startPartition(options.partition, replicas);
            const config = promotionConfig(before, keys, { version, ref, start }, `of stack ${to} are secrets; the tool does not write secrets into a pull request`);
            await (await AutomationStack.open(dir, to)).setConfig(config);
            change = { from: source.stack.name, to, version, ref, start, keys: Object.entries(config).map(([key, entry]) => ({ key, before: before[key]?.value, after: entry.value })), sourceSummary };
        },
        commitMessage: () => promotionText(change!).title,
        title: () => promotionText(change!).title,
        body: () => promotionText(change!).body,
        forge: options.forge,
    });
    const title = promotionText(change!).title;
    if (pull.number === undefined) return { code: EXIT.ok, message: `the pull request of branch ${pull.branch} was already open; the branch now holds ${pull.commit.slice(0, 12)} (${title})` };
    return { code: EXIT.ok, message: `opened pull request #${pull.number}: ${pull.url} (${title})` };
}
