/** `sts-canary status [--watch]`: the canary, its pods and the operation every operator shares. */
import { Command } from "commander";
import type { CanaryContract } from "sts-canary/api";
import { contractOf, targetOf } from "../canary";
import type { ToolContext } from "../core";
import { operationObjectName, OperationStore } from "../operation";
import { CanaryStatus, buildStatus, renderStatus, settled } from "../status";
import { CommandHost, integer } from "./common";

export function register(program: Command, host: CommandHost): void {
    program.command("status")
        .description("partition, stable and canary versions, every pod's revision, version, readiness and restarts, and the operation in flight (from the cluster)")
        .option("-w, --watch", "follow changes (watches, no polling) until every pod is updated and Ready and no operation is in flight, or Ctrl-C")
        .option("--watch-seconds <seconds>", "stop watching after this long", integer("--watch-seconds"), 600)
        .action(async (options: { watch?: boolean; watchSeconds: number }) => {
            const session = host.session();
            const ctx = await session.context();
            const print = (status: CanaryStatus, clear: boolean) => {
                if (session.globals.json) process.stdout.write(JSON.stringify(status, null, options.watch ? 0 : 2) + "\n");
                else process.stdout.write(`${clear && process.stdout.isTTY ? "\x1b[2J\x1b[H" : ""}${renderStatus(status)}\n`);
            };
            const first = await collectStatus(ctx);
            print(first, false);
            if (!options.watch || !first.contract || done(first)) return;
            session.installInterruptHandler();
            await watchStatus({ ...ctx, say: session.say }, first.contract, options.watchSeconds, (status) => print(status, true));
        });
}

/** Done watching: every pod updated and Ready, and no operation in flight. */
const done = (status: CanaryStatus) => settled(status) && !(status.operation.running && status.operation.record);

/**
 * Follows the StatefulSet, its pods and the operation's ConfigMap (watches), rendering on every
 * change (at most 4 times a second) until done, the deadline or Ctrl-C. An API outage is waited
 * out: said once, and rendered again when the view is back in sync.
 */
async function watchStatus(ctx: ToolContext, contract: CanaryContract, seconds: number, render: (status: CanaryStatus) => void): Promise<void> {
    const store = new OperationStore(ctx.cluster, contract.namespace, contract.statefulSetName, ctx.stack.name, ctx.clock);
    const config = await ctx.stack.getConfig();
    let wake: () => void = () => undefined;
    const watch = await ctx.cluster.watch(targetOf(contract), operationObjectName(contract.statefulSetName), () => wake());
    const deadline = ctx.clock.now() + seconds * 1000;
    let outage: string | undefined;
    try {
        while (!ctx.signal.aborted && ctx.clock.now() < deadline) {
            const changed = new AbortController();
            wake = () => changed.abort();
            const onStop = () => changed.abort();
            ctx.signal.addEventListener("abort", onStop, { once: true });
            await ctx.clock.sleep(Math.max(0, deadline - ctx.clock.now()), changed.signal);
            ctx.signal.removeEventListener("abort", onStop);
            await ctx.clock.sleep(250);
            const sync = watch.sync();
            const operation = sync.synced ? await store.state().catch((err: Error) => err) : undefined;
            if (!sync.synced || operation === undefined || operation instanceof Error) {
                const why = !sync.synced ? sync.error ?? "reconnecting" : operation instanceof Error ? operation.message : "reconnecting";
                if (why !== outage) ctx.say(`(the cluster is out of view: ${why}; waiting for it)`);
                outage = why;
                continue;
            }
            outage = undefined;
            const status = buildStatus({
                stack: ctx.stack.name, project: ctx.stack.project, cluster: ctx.cluster.description, contract, config,
                live: watch.live(), operation, now: ctx.clock.now(),
            });
            render(status);
            if (done(status)) break;
        }
    } finally {
        watch.stop();
    }
}

/** Reads everything `status` shows, without taking the lock. */
export async function collectStatus(ctx: Pick<ToolContext, "stack" | "cluster" | "clock">, recentLimit = 5): Promise<CanaryStatus> {
    const [config, outputs] = await Promise.all([ctx.stack.getConfig(), ctx.stack.outputs()]);
    const contract = contractOf(outputs);
    const base = { stack: ctx.stack.name, project: ctx.stack.project, cluster: ctx.cluster.description, contract, config, now: ctx.clock.now(), recentLimit };
    if (!contract) return buildStatus({ ...base, operation: { timeline: [] } });
    const target = targetOf(contract);
    const store = new OperationStore(ctx.cluster, contract.namespace, contract.statefulSetName, ctx.stack.name, ctx.clock);
    const [live, operation] = await Promise.all([ctx.cluster.readLive(target), store.state()]);
    return buildStatus({ ...base, now: ctx.clock.now(), live, operation });
}

