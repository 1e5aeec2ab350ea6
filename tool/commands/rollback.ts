/** `sts-canary rollback`: undoes the operation in flight (or interrupted), or reverts a canary. */
import { Command } from "commander";
import { EXIT, Outcome } from "../errors";
import { ToolContext, rollbackWith, withOperation } from "../core";
import { TimelineEntry } from "../operation";
import { CommandHost, report } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("rollback")
        .description("revert the template to the stable version and the partition the operation started from (promote-env: the target's "
            + "config exactly as it was), `pulumi up` (the rollout check replaces pods stuck on the broken revision), check every pod")
        .option("--reason <text>", "recorded in the timeline", "rollback requested")
        .action(async (options: { reason: string }) => {
            const session = host.session();
            const entries: TimelineEntry[] = [];
            const ctx = { ...(await session.context()), onEntry: (e: TimelineEntry) => entries.push(e) };
            session.installInterruptHandler();
            report(host, session, await rollback(ctx, options.reason), entries);
        });
}

/** `rollback`: undoes the in-flight (or interrupted) operation, or reverts a canary to the stable version. */
export async function rollback(ctx: ToolContext, reason: string): Promise<Outcome> {
    return withOperation(ctx, async (op) => {
        const record = op.interrupted;
        const { canary } = op;
        if (!record && canary.templateVersion === canary.stableVersion && canary.live.pods.every((p) => p.version === canary.stableVersion && p.ready)
            && canary.pending.length === 0) {
            return { code: EXIT.ok, message: `nothing to roll back: every pod runs ${canary.stableVersion} and the template is ${canary.stableVersion}` };
        }
        if (record) await op.log("resume", `rolling back the interrupted ${record.kind} of ${record.canaryVersion} (started by ${record.startedBy.user}@${record.startedBy.host} at ${record.startedAt})`);
        await op.refreshIfInterrupted();
        return rollbackWith(op, reason, record);
    });
}

