/** `sts-canary rollback`: undoes the operation in flight (or interrupted), or reverts a canary. */
import { Command } from "commander";
import { TimelineEntry } from "../operation";
import { rollback } from "../operator";
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
