/** `sts-canary step`: one step of the canary (stack config + `pulumi up`), rolled back on failure. */
import { Command } from "commander";
import { TimelineEntry } from "../operation";
import { step } from "../operator";
import { CommandHost, integer, report } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("step")
        .description("move the partition one step (or to --to N / by --by K) and `pulumi up`; roll back on failure. "
            + "With an interrupted operation in the cluster, finishes its step first (config from the record)")
        .option("--to <partition>", "target partition", integer("--to"))
        .option("--by <count>", "lower the partition by this many pods (default 1)", integer("--by"))
        .option("--image-tag <tag>", "also set imageTag (starts a canary of this version)")
        .option("--no-rollback", "on failure, stop without rolling back")
        .action(async (options: { to?: number; by?: number; imageTag?: string; rollback: boolean }) => {
            const session = host.session();
            const entries: TimelineEntry[] = [];
            const ctx = { ...(await session.context()), onEntry: (e: TimelineEntry) => entries.push(e) };
            session.installInterruptHandler();
            const outcome = await step(ctx, { to: options.to, by: options.by, imageTag: options.imageTag, noRollback: !options.rollback });
            report(host, session, outcome, entries);
        });
}
