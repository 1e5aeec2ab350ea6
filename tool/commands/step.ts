/** `sts-canary step`: one step of the canary (stack config + `pulumi up`), rolled back on failure. */
import { Command } from "commander";
import { EXIT, Outcome, RefusedError } from "../errors";
import { ToolContext, failed, refuseOtherVersion, refuseRollbackRecord, runStep, value, withOperation } from "../core";
import { TimelineEntry } from "../operation";
import { stepTarget } from "../plan";
import { CommandHost, integer, report } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("step")
        .description("move the partition one step (or to --to N / by --by K) and `pulumi up`; roll back on failure. "
            + "With an interrupted operation in the cluster, finishes its step first (config from the record)")
        .option("--to <partition>", "target partition", integer("--to"))
        .option("--by <count>", "lower the partition by this many pods (default 1)", integer("--by"))
        .option("--image-tag <version>", "also set the version (starts a canary of it)")
        .option("--no-rollback", "on failure, stop without rolling back")
        .action(async (options: { to?: number; by?: number; imageTag?: string; rollback: boolean }) => {
            const session = host.session();
            const entries: TimelineEntry[] = [];
            const ctx = { ...(await session.context()), onEntry: (e: TimelineEntry) => entries.push(e) };
            session.installInterruptHandler();
            const outcome = await step(ctx, { to: options.to, by: options.by, version: options.imageTag, noRollback: !options.rollback });
            report(host, session, outcome, entries);
        });
}

export interface StepOptions {
    to?: number;
    by?: number;
    /** Also set the version (starts a canary of it). */
    version?: string;
    noRollback?: boolean;
}

/** `step`: one step (default: partition - 1), or finishes an interrupted step. */
export async function step(ctx: ToolContext, options: StepOptions): Promise<Outcome> {
    return withOperation(ctx, async (op) => {
        const { contract } = op.canary;
        if (options.version !== undefined) op.requireVersion(options.version);
        const interrupted = op.interrupted;
        if (interrupted) {
            refuseRollbackRecord(interrupted);
            const target = interrupted.currentTarget ?? contract.partition;
            if ((options.to !== undefined || options.by !== undefined) && stepTarget(contract.partition, contract.replicas, options) !== target) {
                throw new RefusedError(`an interrupted ${interrupted.kind} was applying partition ${target}: finish it first (\`sts-canary step\` without --to/--by) or roll it back`);
            }
            refuseOtherVersion(interrupted, options.version, "finish it (`sts-canary step`)");
            await op.log("resume", `finishing the interrupted ${interrupted.kind} of ${interrupted.canaryVersion} at partition ${target} `
                + `(started by ${interrupted.startedBy.user}@${interrupted.startedBy.host} at ${interrupted.startedAt}), config from the record`);
            await op.refreshIfInterrupted();
            const reason = await runStep(op, interrupted, target, interrupted.config);
            if (reason) return failed(op, reason, interrupted, options.noRollback ?? false);
            await op.clear();
            return { code: EXIT.ok, message: `partition ${target}: the interrupted step is done` };
        }
        op.requireInSync();
        const target = stepTarget(contract.partition, contract.replicas, options);
        const canaryVersion = options.version ?? contract.templateVersion;
        op.refuseSecondCanary(canaryVersion, "finish it");
        const record = op.newRecord("step", [target], canaryVersion);
        const reason = await runStep(op, record, target, { [op.keys.version]: value(canaryVersion), [op.keys.partition]: value(target) });
        if (reason) return failed(op, reason, record, options.noRollback ?? false);
        await op.clear();
        return { code: EXIT.ok, message: `partition ${target}: done` };
    });
}

