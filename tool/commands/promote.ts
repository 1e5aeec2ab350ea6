/** `sts-canary promote --plan 4,3,1,0`: walks a plan of partitions; continues an interrupted operation. */
import { Command } from "commander";
import { TimelineEntry } from "../operation";
import { promote } from "../operator";
import { parsePlan } from "../plan";
import { UsageError } from "../exit";
import { CommandHost, report } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("promote")
        .description("walk a plan of partitions, e.g. --plan 4,3,1,0, one `pulumi up` per step; roll back on failure. "
            + "Continues an interrupted operation from its record in the cluster (then --plan is optional)")
        .option("--plan <partitions>", "comma-separated, strictly decreasing partitions")
        .option("--image-tag <tag>", "version to promote (default: the deployed template's version)")
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
                imageTag: options.imageTag, pause: options.pause, noRollback: !options.rollback,
            });
            report(host, session, outcome, entries);
        });
}
