/** `sts-canary promote-env --from dev --to prod`: the version verified in one stack, pinned by digest, as a canary in another. */
import { Command } from "commander";
import { resolveCluster } from "../kube";
import { TimelineEntry } from "../operation";
import { promoteEnv } from "../operator";
import { AutomationStack } from "../stack";
import { UsageError } from "../exit";
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
