/** `sts-canary timeline`: what the tool did on the stack, from the ConfigMap in the cluster. */
import { Command } from "commander";
import { contractOf } from "../canary";
import { RefusedError } from "../errors";
import { OperationStore } from "../operation";
import { formatEntry } from "../status";
import { CommandHost, integer } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("timeline")
        .description("what the tool did on this stack (any operator, any checkout), oldest first")
        .option("--limit <n>", "only the last n entries", integer("--limit"))
        .action(async (options: { limit?: number }) => {
            const session = host.session();
            const ctx = await session.context();
            const contract = contractOf(await ctx.stack.outputs());
            if (!contract) throw new RefusedError(`stack ${ctx.stack.name} has no stsCanary output: never deployed`);
            const store = new OperationStore(ctx.cluster, contract.namespace, contract.statefulSetName, ctx.stack.name, ctx.clock);
            const all = (await store.state()).timeline;
            const entries = options.limit === undefined ? all : all.slice(-options.limit);
            if (session.globals.json) process.stdout.write(JSON.stringify(entries, null, 2) + "\n");
            else for (const entry of entries) process.stdout.write(formatEntry(entry) + "\n");
        });
}
