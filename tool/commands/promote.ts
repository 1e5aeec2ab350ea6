/** `sts-canary promote --plan 4,3,1,0`: walks a plan of partitions; continues an interrupted operation. */
import { Command } from "commander";
import { EXIT, Outcome, UsageError } from "../errors";
import { ToolContext, failed, refuseOtherVersion, refuseRollbackRecord, runStep, value, withOperation } from "../core";
import { OperationRecord, TimelineEntry } from "../operation";
import { parsePlan, remainingSteps } from "../plan";
import { StackConfig } from "../ports";
import { CommandHost, report } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("promote")
        .description("walk a plan of partitions, e.g. --plan 4,3,1,0, one `pulumi up` per step; roll back on failure. "
            + "Continues an interrupted operation from its record in the cluster (then --plan is optional)")
        .option("--plan <partitions>", "comma-separated, strictly decreasing partitions")
        .option("--image-tag <version>", "version to promote (default: the deployed template's version)")
        .option("--pause", "ask for approval before every step after the first (needs a terminal)")
        .option("--no-rollback", "on failure, stop without rolling back")
        .action(async (options: { plan?: string; imageTag?: string; pause?: boolean; rollback: boolean }) => {
            const session = host.session();
            if (options.pause && !process.stdin.isTTY) throw new UsageError("--pause needs an interactive terminal");
            if (options.plan !== undefined) parsePlan(options.plan, Number.MAX_SAFE_INTEGER); // syntax and order before anything else
            const entries: TimelineEntry[] = [];
            const ctx = { ...(await session.context()), onEntry: (e: TimelineEntry) => entries.push(e) };
            session.installInterruptHandler();
            const plan = options.plan;
            const outcome = await promote(ctx, {
                plan: plan === undefined ? undefined : (replicas) => parsePlan(plan, replicas),
                version: options.imageTag, pause: options.pause, noRollback: !options.rollback,
            });
            report(host, session, outcome, entries);
        });
}

export interface PromoteOptions {
    plan?: (replicas: number) => number[];
    /** The version to promote (default: the deployed template's). */
    version?: string;
    noRollback?: boolean;
    /** Ask before every step after the first. */
    pause?: boolean;
}

/** `promote`: walks a plan of partitions; resumes an interrupted operation from its record. */
export async function promote(ctx: ToolContext, options: PromoteOptions): Promise<Outcome> {
    return withOperation(ctx, async (op) => {
        const { contract } = op.canary;
        const plan = options.plan?.(contract.replicas);
        if (options.version !== undefined) op.requireVersion(options.version);
        let record: OperationRecord;
        let steps: number[];
        let first: StackConfig | undefined;
        const interrupted = op.interrupted;
        if (interrupted) {
            refuseRollbackRecord(interrupted);
            refuseOtherVersion(interrupted, options.version, "continue it (`sts-canary promote`)");
            const at = interrupted.currentTarget ?? contract.partition;
            const walk = plan ?? interrupted.plan;
            record = { ...interrupted, kind: interrupted.kind === "step" ? "promote" : interrupted.kind, plan: walk };
            steps = [at, ...remainingSteps(walk, at)];
            first = interrupted.config;
            await op.log("resume", `continuing the interrupted ${interrupted.kind} of ${interrupted.canaryVersion} at partition ${at} `
                + `(started by ${interrupted.startedBy.user}@${interrupted.startedBy.host} at ${interrupted.startedAt}; plan ${walk.join(",")}), config from the record`);
            await op.refreshIfInterrupted();
        } else {
            if (!plan) throw new UsageError("--plan is required: there is no interrupted promotion to continue (e.g. --plan 4,3,1,0)");
            op.requireInSync();
            const canaryVersion = options.version ?? contract.templateVersion;
            const newCanary = canaryVersion !== contract.templateVersion;
            op.refuseSecondCanary(canaryVersion, "finish it (`sts-canary promote --plan ...`)");
            steps = newCanary ? plan : remainingSteps(plan, contract.partition);
            if (steps.length === 0) return { code: EXIT.ok, message: `nothing to do: partition ${contract.partition} is already past the plan ${plan.join(",")}` };
            record = op.newRecord("promote", plan, canaryVersion);
        }
        const base: StackConfig = { ...(first ?? {}), [op.keys.version]: value(record.canaryVersion) };
        await op.log("promote", `${record.stableVersion} -> ${record.canaryVersion}: partitions ${steps.join(" -> ")}`);
        for (const [index, target] of steps.entries()) {
            if (index > 0 && options.pause) {
                const go = ctx.ask ? await ctx.ask(`continue to partition ${target}? [y/N] `) : false;
                if (!go) {
                    await op.log("stopped", `approval declined before partition ${target}; the stack stays at partition ${op.canary.contract.partition}`);
                    await op.clear();
                    return { code: EXIT.stopped, message: `stopped before partition ${target}` };
                }
            }
            const config = index === 0 && first ? first : { ...base, [op.keys.partition]: value(target) };
            const reason = await runStep(op, record, target, config);
            if (reason) return failed(op, reason, record, options.noRollback ?? false);
        }
        await op.log("promoted", `${record.canaryVersion} promoted through ${steps.join(" -> ")}`);
        await op.clear();
        return { code: EXIT.ok, message: `promoted ${record.canaryVersion} (partitions ${steps.join(" -> ")})` };
    });
}

