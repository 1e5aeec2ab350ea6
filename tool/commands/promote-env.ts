/** `sts-canary promote-env --from dev --to prod`: the version verified in one stack, pinned by digest, as a canary in another. */
import { Command } from "commander";
import { resolveCluster } from "../kube";
import { isPinned, registryOf, withPin } from "sts-canary/api";
import { Operation, ToolContext, failed, runStep, value, withOperation, writeConfig } from "../core";
import { pinnedList, promotionBlockers, restoreOf, safeStartPartition, snapshot } from "../environments";
import { EXIT, Outcome, RefusedError, UsageError } from "../errors";
import { TimelineEntry } from "../operation";
import { ClusterPort, ConfigEntry, StackConfig, StackPort } from "../ports";
import { AutomationStack } from "../stack";
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
        .action(async (options: { from: string; to: string; partition?: number; yes?: boolean; rollback: boolean }) => {
            const session = host.session();
            if (options.from === options.to) throw new UsageError("--from and --to must be different stacks");
            const entries: TimelineEntry[] = [];
            const ctx = { ...(await session.context(options.to)), onEntry: (e: TimelineEntry) => entries.push(e) };
            const sourceStack = await AutomationStack.open(session.workDir, options.from);
            const source = { stack: sourceStack, cluster: resolveCluster(options.from, await sourceStack.getConfig()) };
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
    if (!op.keys.pinnedImages) {
        throw new RefusedError(`stack ${to}'s program reads no pinned images from its config (its stsCanary.configKeys has no pinnedImages): `
            + "it cannot deploy a digest verified elsewhere; pass `pinnedImages` to the component from a config key and name it in `configKeys`");
    }
    const registry = canary.contract.registry ?? Object.values(canary.contract.images).map(registryOf)[0];
    if (registry && registryOf(ref) !== registry) {
        throw new RefusedError(`the verified image ${ref} is in registry ${registryOf(ref)}, but stack ${to} pulls from ${registry}; `
            + "promote within one Harbor, or replicate the image and pin it yourself");
    }
    return op.keys.pinnedImages;
}

/** The target's config that starts the pinned version at `start`, and its keys exactly as they are now. */
function pinConfig(op: Operation, pinKey: string, version: string, ref: string, start: number):
    { config: StackConfig; touched: string[]; previous: Record<string, ConfigEntry | null> } {
    const { canary, keys } = op;
    const touched = [pinKey, keys.version, keys.partition];
    const secret = touched.filter((key) => canary.config[key]?.secret);
    if (secret.length > 0) throw new RefusedError(`${secret.join(", ")} of stack ${op.ctx.stack.name} are secrets; the tool does not copy secrets into the operation record`);
    const pins = withPin(pinnedList(canary.config[pinKey]), version, ref);
    return {
        config: { [pinKey]: { value: JSON.stringify(pins), objectValue: pins, secret: false }, [keys.version]: value(version), [keys.partition]: value(start) },
        touched, previous: snapshot(canary.config, touched),
    };
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
        const replicas = canary.contract.replicas;
        const start = options.partition ?? safeStartPartition(replicas);
        if (!Number.isInteger(start) || start < 0 || start > replicas) throw new UsageError(`--partition ${start} is out of range; allowed 0..${replicas}`);
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
        return { code: EXIT.ok, message: `${to} runs ${version} (pinned ${ref}) on ordinals ${start}..${replicas - 1}; continue with \`sts-canary --stack ${to} promote --plan ...\`` };
    });
}
