/**
 * What `step`, `promote`, `rollback` and `promote-env` do, on the StackPort and ClusterPort
 * interfaces only (unit-tested with fakes). A step is a stack config change (`<project>:partition`,
 * `<project>:imageTag`) plus `pulumi up`: the rollout check inside `up` waits for the step, fails
 * fast with the cause, replaces stuck pods and runs the gates. The tool adds plans, approval,
 * automatic rollback, and the operation lock, record and timeline in the cluster (operation.ts).
 */
import type { Clock } from "sts-canary/api";
import * as os from "os";
import { Canary, contractOf, keys, readCanary, targetOf } from "./canary";
import { EXIT, Interrupted, Outcome, RefusedError, UsageError } from "./exit";
import { pinnedList, promotionBlockers, registryOf, restoreOf, safeStartPartition, snapshot, withPinned } from "./environments";
import {
    Holder, LEASE_DURATION_SECONDS, Lock, LockLost, LockedError, OperationKind, OperationRecord, OperationState, OperationStore, TimelineEntry, machineScope,
    newOperationId, parseHolder, secondsText,
} from "./operation";
import { describeMove, remainingSteps, rollbackReach, stepTarget } from "./plan";
import { BackendLock, ClusterPort, ClusterUnavailable, ConfigEntry, StackConfig, StackPort, UpFailed } from "./ports";
import { CanaryStatus, buildStatus, formatEntry } from "./status";

export interface ToolContext {
    stack: StackPort;
    cluster: ClusterPort;
    clock: Clock;
    holder: Holder;
    /** Progress for humans (stdout, or stderr with --json). */
    say: (line: string) => void;
    /** Aborted on Ctrl-C. */
    signal: AbortSignal;
    /** Asks a yes/no question (a terminal); undefined when there is none. */
    ask?: (question: string) => Promise<boolean>;
    /** Every timeline entry this run writes (for --json). */
    onEntry?: (entry: TimelineEntry) => void;
    /** Whether a process of a gone operator still runs (default: judged on this machine, see processState). */
    processState?: (holder: Holder, pid: number) => ProcessState;
}

export type ProcessState = "alive" | "dead" | "unknown";

/**
 * Whether `pid` (of `holder`'s machine) still runs: only answerable from the same boot and pid
 * namespace (same host name is not enough: containers repeat it); "unknown" otherwise.
 */
export function processState(holder: Holder, pid: number, here = machineScope(), host = os.hostname()): ProcessState {
    if (!holder.machine || holder.machine !== here || holder.host !== host) return "unknown";
    try {
        process.kill(pid, 0);
        return "alive";
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "ESRCH" ? "dead" : "alive";
    }
}

/** The state backend is locked by a pulumi that may still run: it is never cancelled. */
export class BackendLocked extends Error {
    constructor(message: string) {
        super(message);
        this.name = "BackendLocked";
    }
}

/** This run changed the stack (config, `up`) before it failed: not "nothing was changed". */
export class FailedAfterChange extends Error {
    constructor(readonly cause: Error) {
        super(`${cause.message}\n(this run had already changed the stack: \`sts-canary status\` shows where it stands; the operation record stays in the cluster)`);
        this.name = "FailedAfterChange";
    }
}

export { LockedError };

const value = (v: string | number): ConfigEntry => ({ value: String(v), secret: false });

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

/**
 * One operation under the lock: the canary as it is, the lock, the record an earlier (gone)
 * operator left, and the helpers every verb uses.
 */
export class Operation {
    lock!: Lock;
    /** The record found when the lock was taken: an operation whose operator is gone. */
    interrupted?: OperationRecord;
    /** This run wrote stack config or ran `up`: a later failure is no longer "nothing was changed". */
    changed = false;

    private constructor(readonly ctx: ToolContext, public canary: Canary, readonly store: OperationStore,
        private readonly aborter: AbortController, private readonly lostWhy: () => string | undefined) {}

    /**
     * Takes the lock (LockedError while another operator holds it), then reads the canary: every
     * refusal judges the stack as it is under the lock, not as it was before another operator finished.
     */
    static async begin(ctx: ToolContext): Promise<Operation> {
        const where = contractOf(await ctx.stack.outputs());
        if (!where) await readCanary(ctx.stack, ctx.cluster); // refuses, saying why
        const target = targetOf(where!);
        const store = new OperationStore(ctx.cluster, target.namespace, target.statefulSetName, ctx.stack.name, ctx.clock);
        let lostWhy: string | undefined;
        const aborter = new AbortController();
        const lock = await store.acquire(ctx.holder, (why) => {
            lostWhy = why;
            aborter.abort();
        });
        let op: Operation;
        try {
            op = new Operation(ctx, await readCanary(ctx.stack, ctx.cluster), store, aborter, () => lostWhy);
        } catch (err) {
            await lock.release().catch(() => undefined);
            throw err;
        }
        op.lock = lock;
        if (ctx.signal.aborted) op.aborter.abort();
        ctx.signal.addEventListener("abort", op.onInterrupt, { once: true });
        try {
            const state: OperationState = await store.state();
            op.interrupted = state.record;
            if (op.lock.tookOver) {
                const lease = op.lock.tookOver;
                await op.log("takeover", `took over the operation lock of ${lease.holder}: not renewed since ${new Date(lease.renewedAt).toISOString()}, `
                    + `expired ${secondsText(ctx.clock.now() - lease.expiresAt)} ago`);
            }
        } catch (err) {
            await op.end();
            throw err;
        }
        return op;
    }

    private readonly onInterrupt = () => this.aborter.abort();

    /** Aborted on Ctrl-C or when the lock is lost. */
    get signal(): AbortSignal {
        return this.aborter.signal;
    }

    /** Stops when interrupted or the lock was lost. */
    checkpoint(): void {
        const lost = this.lostWhy();
        if (lost) throw new LockLost(lost);
        // Before any write: a process that was paused past its renewal deadline stops here.
        this.lock?.check();
        if (this.ctx.signal.aborted) throw new Interrupted();
    }

    async end(): Promise<void> {
        this.ctx.signal.removeEventListener("abort", this.onInterrupt);
        await this.lock.release();
    }

    get key() {
        return keys(this.canary.project);
    }

    async log(event: string, message: string): Promise<void> {
        const entry = await this.lock.log(event, message);
        this.ctx.onEntry?.(entry);
        this.ctx.say(formatEntry(entry));
    }

    newRecord(kind: OperationKind, plan: number[], canaryVersion: string): OperationRecord {
        const now = new Date(this.ctx.clock.now()).toISOString();
        return {
            format: 1, id: newOperationId(), kind, stack: this.ctx.stack.name, project: this.canary.project, backend: this.ctx.stack.backend,
            plan, phase: "applying", stableVersion: this.canary.stableVersion, canaryVersion,
            initialPartition: this.canary.contract.partition, initialImageTag: this.canary.contract.templateVersion,
            config: {}, startedBy: this.ctx.holder, startedAt: now, updatedAt: now,
        };
    }

    /** Refuses to start a new operation from a stack file that differs from the last deployment. */
    requireInSync(): void {
        if (this.canary.pending.length > 0) {
            throw new RefusedError(`the stack config differs from the last deployment of ${this.ctx.stack.name}: ${this.canary.pending.join(", ")}. `
                + "This checkout's stack file may be stale (pull it), or a change was never deployed (`pulumi up`, or `pulumi config set` it back); nothing was changed");
        }
    }

    /** A new version over a canary still in progress would leave three versions: one canary at a time. */
    refuseSecondCanary(canaryVersion: string, howToFinish: string): void {
        const { contract, templateVersion, stableVersion } = this.canary;
        if (canaryVersion !== contract.templateVersion && templateVersion !== stableVersion) {
            throw new RefusedError(`a canary of ${templateVersion} over ${stableVersion} is in progress at partition ${contract.partition}: `
                + `${howToFinish} or roll it back before starting another`);
        }
    }

    /** Version names this stack can deploy (its images), for checking --image-tag. */
    requireVersion(version: string, flag = "--image-tag"): void {
        const available = Object.keys(this.canary.contract.images);
        if (!available.includes(version)) throw new UsageError(`${flag} ${version}: not a version stack ${this.ctx.stack.name} can deploy; allowed: ${available.join(", ")}`);
    }

    /**
     * Runs a stack command; when the state backend still holds a lock of the operator whose lease
     * this run took over (its `pulumi` was killed with it), clears that lock once and retries.
     */
    private async withBackend<T>(what: string, run: () => Promise<T>): Promise<T> {
        try {
            return await run();
        } catch (err) {
            if (!(err instanceof UpFailed) || err.backendLocks.length === 0 || !this.goneOperatorsLocks(err.backendLocks)) throw err;
            const locks = err.backendLocks.map((l) => `${l.user}@${l.host} pid ${l.pid} since ${l.createdAt}`).join(", ");
            const states = err.backendLocks.map((l) => this.processOf(l.pid));
            if (states.some((state) => state !== "dead")) {
                throw new BackendLocked(`the state backend still holds the lock of the gone operator's pulumi (${locks}), and that process `
                    + `${states.includes("alive") ? "is still running (paused?)" : "may still be running on another machine or container"}: `
                    + "it is not cancelled, since two updates would write one stack's state. Once it has ended (or you made sure it is gone), "
                    + `run \`pulumi cancel --stack ${this.ctx.stack.name}\` and this command again`);
            }
            await this.log("unlock", `the state backend still held the lock of the gone operator's pulumi (${locks}): cleared it (pulumi cancel) before ${what}`);
            await this.ctx.stack.cancelBackendLock();
            return run();
        }
    }

    /** Whether a pid of the gone operator's machine still runs. */
    private processOf(pid: number): ProcessState {
        const gone = this.lock.tookOver ? parseHolder(this.lock.tookOver.holder) : undefined;
        if (!gone) return "unknown";
        // The machine scope is in the record the gone operator wrote (the lease names only who and where).
        const recorded = this.interrupted?.startedBy;
        const holder = recorded && recorded.instance === gone.instance ? { ...gone, machine: recorded.machine } : gone;
        return (this.ctx.processState ?? processState)(holder, pid);
    }

    /** Backend locks created by the operator whose lease expired, while it held it. */
    private goneOperatorsLocks(locks: BackendLock[]): boolean {
        const gone = this.lock.tookOver;
        const who = gone ? parseHolder(gone.holder) : undefined;
        if (!gone || !who) return false;
        return locks.every((l) => {
            const at = Date.parse(l.createdAt);
            return l.user === who.user && l.host === who.host && Number.isFinite(at)
                && at <= gone.expiresAt + 1000 && at >= (gone.acquiredAt ?? 0) - 1000;
        });
    }

    /** After an operator was interrupted or killed: the StatefulSet's state may lag the cluster. */
    async refreshIfInterrupted(): Promise<void> {
        if (!this.interrupted && !this.lock.tookOver) return;
        this.checkpoint();
        await this.withBackend("refreshing the StatefulSet", () => this.ctx.stack.refreshWorkload());
    }

    /** Sets the stack config, then `pulumi up`. */
    async apply(set: StackConfig, remove: string[] = []): Promise<{ ok: true; seconds: number } | { ok: false; seconds: number; error: string }> {
        this.checkpoint();
        this.changed = true;
        await writeConfig(this.ctx.stack, set, remove);
        const started = this.ctx.clock.now();
        try {
            await this.withBackend("pulumi up", () => this.ctx.stack.up({ signal: this.signal }));
            return { ok: true, seconds: (this.ctx.clock.now() - started) / 1000 };
        } catch (err) {
            this.checkpoint();
            if (!(err instanceof UpFailed)) throw err;
            return { ok: false, seconds: (this.ctx.clock.now() - started) / 1000, error: err.message };
        }
    }

    async save(record: OperationRecord): Promise<void> {
        this.checkpoint();
        await this.lock.save(record);
    }

    async clear(): Promise<void> {
        await this.lock.clear();
    }

    async reread(): Promise<void> {
        this.canary = await readCanary(this.ctx.stack, this.ctx.cluster);
    }
}

/** Sets and removes stack config keys (either may be empty). */
async function writeConfig(stack: StackPort, set: StackConfig, remove: string[]): Promise<void> {
    if (Object.keys(set).length > 0) await stack.setConfig(set);
    if (remove.length > 0) await stack.removeConfig(remove);
}

/**
 * Runs `body` under the lock. Releasing the lock never replaces the outcome (a failed release is
 * a warning: the lease expires by itself), and a failure after the stack was changed is never
 * reported as "refused, nothing was changed" or "locked".
 */
async function withOperation(ctx: ToolContext, body: (op: Operation) => Promise<Outcome>): Promise<Outcome> {
    const op = await Operation.begin(ctx);
    const end = () => op.end().catch((err: Error) => ctx.say(`warning: could not release the operation lock (it expires by itself within ${LEASE_DURATION_SECONDS}s): ${err.message}`));
    let outcome: Outcome;
    try {
        outcome = await body(op);
    } catch (err) {
        await end();
        // Exit 6 promises that nothing was changed: not true any more once config was written or `up` ran.
        const unchanged = err instanceof RefusedError || err instanceof ClusterUnavailable;
        throw op.changed && unchanged ? new FailedAfterChange(err as Error) : err;
    }
    await end();
    return outcome;
}

/** Continuing an interrupted operation with another --image-tag would mix two releases. */
function refuseOtherVersion(record: OperationRecord, imageTag: string | undefined, howToFinish: string): void {
    if (imageTag !== undefined && imageTag !== record.canaryVersion) {
        throw new RefusedError(`an interrupted ${record.kind} of ${record.canaryVersion} is in the record: ${howToFinish} or roll it back first`);
    }
}

function refuseRollbackRecord(record: OperationRecord): void {
    if (record.kind === "rollback" || record.phase === "rolling-back") {
        throw new RefusedError(`an interrupted rollback of ${record.canaryVersion} (started by ${record.startedBy.user}@${record.startedBy.host} at ${record.startedAt}) `
            + "must finish first: run `sts-canary rollback`");
    }
}

/**
 * One step: record it, set `<project>:partition` (and imageTag, pinnedImages...) to `config`, `up`.
 * Returns the failure reason, or undefined when the step is done.
 */
async function runStep(op: Operation, record: OperationRecord, target: number, config: StackConfig, remove: string[] = []): Promise<string | undefined> {
    const { ctx } = op;
    const from = op.canary.contract.partition;
    record.currentTarget = target;
    record.phase = "applying";
    record.config = config;
    await op.save(record);
    const tag = config[op.key.imageTag]?.value;
    const tagChange = tag !== undefined && tag !== op.canary.contract.templateVersion ? `, imageTag ${op.canary.contract.templateVersion} -> ${tag}` : "";
    await op.log("step", `partition ${from} -> ${target}${tagChange} (${describeMove(record.canaryVersion, record.stableVersion, target, op.canary.contract.replicas)})`);
    const applied = await op.apply(config, remove);
    if (!applied.ok) {
        await op.log("up-FAIL", `pulumi up failed after ${applied.seconds.toFixed(1)}s: ${applied.error}`);
        return `the step to partition ${target} failed: ${firstLine(applied.error)}`;
    }
    const outputs = await ctx.stack.outputs();
    const summary = typeof outputs.rolloutSummary === "string" ? `: ${outputs.rolloutSummary}` : "";
    await op.log("applied", `pulumi up done in ${applied.seconds.toFixed(1)}s${summary}`);
    await op.reread();
    return undefined;
}

/** The cause in one line: its first two lines (the gates' header and the first failed gate, say). */
function firstLine(text: string): string {
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    return lines.slice(0, 2).join(" ").slice(0, 400);
}

/** On a failed step: roll back (or stop, with --no-rollback) and say how it ended. */
async function failed(op: Operation, reason: string, record: OperationRecord, noRollback: boolean): Promise<Outcome> {
    if (noRollback) {
        await op.log("halted", `${reason}; automatic rollback disabled (--no-rollback): the operation record stays; \`sts-canary rollback\` undoes it`);
        return { code: EXIT.rollbackFailed, message: `${reason}; not rolled back` };
    }
    const rolledBack = await rollbackWith(op, reason, record);
    return { code: rolledBack.code === EXIT.ok ? EXIT.rolledBack : EXIT.rollbackFailed, message: `${reason}; ${rolledBack.message}` };
}

/**
 * Rollback: the template back to the stable version and the partition the operation started from
 * (a promote-env: the target's config exactly as it was), then `up`: the rollout check replaces
 * pods stuck on the broken revision and waits until every pod runs the stable version. Pods below
 * the canary are never touched; the result is checked against the live pods.
 */
async function rollbackWith(op: Operation, reason: string, record: OperationRecord | undefined): Promise<Outcome> {
    // The cluster as the failed (or interrupted) step left it.
    await op.reread();
    const { canary } = op;
    const stable = record?.stableVersion ?? canary.stableVersion;
    const sts = canary.live.statefulSet!;
    let set: StackConfig;
    let remove: string[] = [];
    let restorePartition: number;
    if (record?.previousConfig) {
        ({ set, remove } = restoreOf(record.previousConfig));
        const previous = record.previousConfig[op.key.partition];
        restorePartition = previous ? Number(previous.value) : record.initialPartition;
    } else {
        restorePartition = record?.initialPartition ?? canary.contract.partition;
        set = { [op.key.imageTag]: value(stable), [op.key.partition]: value(restorePartition) };
    }
    // Pods below every partition at which a version other than the stable one was applied never
    // moved: they must stay as they are (same pod, same restarts).
    const canaryFrom = Math.min(sts.partition, record?.currentTarget ?? sts.partition,
        canary.contract.templateVersion !== stable ? canary.contract.partition : sts.partition);
    const untouched = canary.live.pods.filter((p) => p.ordinal < canaryFrom && p.revision === sts.currentRevision).map((p) => ({ name: p.name, uid: p.uid }));
    // Pods the operation moved below the restored partition go back too (template stable at `reach` first).
    const reach = rollbackReach(canary.live.pods, sts.currentRevision, restorePartition);
    const rec: OperationRecord = record ? { ...record } : op.newRecord("rollback", [], canary.templateVersion);
    rec.phase = "rolling-back";
    rec.currentTarget = restorePartition;
    rec.config = set;
    await op.save(rec);
    const restoring = record?.previousConfig ? `restoring ${Object.keys(record.previousConfig).map((k) => k.split(":")[1]).join(", ")} exactly` : `partition -> ${restorePartition}`;
    const below = canary.live.pods.filter((p) => p.ordinal >= reach && p.ordinal < restorePartition).map((p) => p.name);
    const first = reach < restorePartition ? `; partition ${reach} first (${below.join(", ")} ran the canary below ${restorePartition}, where the controller would leave them)` : "";
    await op.log("rollback", `${reason}: reverting the template to ${stable}, ${restoring}${first}`);
    let applied = reach < restorePartition ? await op.apply({ ...set, [op.key.partition]: value(reach) }, remove.filter((k) => k !== op.key.partition)) : undefined;
    if (!applied || applied.ok) {
        const restored = await op.apply(set, remove);
        applied = applied?.ok && restored.ok ? { ...restored, seconds: applied.seconds + restored.seconds } : restored;
    }
    if (!applied.ok) {
        await op.log("rollback-FAIL", `pulumi up of the rollback failed after ${applied.seconds.toFixed(1)}s: ${applied.error}`);
        return { code: EXIT.rollbackFailed, message: `rollback to ${stable} failed: ${firstLine(applied.error)}` };
    }
    const live = await op.ctx.cluster.readLive(canary.target);
    const wrong = live.pods.filter((p) => p.version !== stable || !p.ready);
    const restarted = untouched.filter((u) => live.pods.find((p) => p.name === u.name)?.uid !== u.uid);
    if (wrong.length > 0 || restarted.length > 0) {
        const problems = [...wrong.map((p) => `${p.name} on ${p.version ?? "?"} ready=${p.ready}`), ...restarted.map((r) => `${r.name} was restarted`)];
        await op.log("rollback-FAIL", `after the rollback: ${problems.join("; ")}`);
        return { code: EXIT.rollbackFailed, message: `rollback incomplete: ${problems.join("; ")}` };
    }
    const outputs = await op.ctx.stack.outputs();
    const replaced = /replaced stuck pod\(s\) ([^;]+)/.exec(String(outputs.rolloutSummary ?? ""))?.[1];
    await op.log("rolled-back", `every pod on ${stable} and Ready after ${applied.seconds.toFixed(1)}s${replaced ? `; the rollout check replaced stuck pod(s) ${replaced}` : ""}; `
        + `pods ${untouched.map((u) => u.name).join(", ") || "(none)"} untouched`);
    await op.clear();
    return { code: EXIT.ok, message: `rolled back to ${stable}` };
}

export interface StepOptions {
    to?: number;
    by?: number;
    imageTag?: string;
    noRollback?: boolean;
}

/** `step`: one step (default: partition - 1), or finishes an interrupted step. */
export async function step(ctx: ToolContext, options: StepOptions): Promise<Outcome> {
    return withOperation(ctx, async (op) => {
        const { contract } = op.canary;
        if (options.imageTag !== undefined) op.requireVersion(options.imageTag);
        const interrupted = op.interrupted;
        if (interrupted) {
            refuseRollbackRecord(interrupted);
            const target = interrupted.currentTarget ?? contract.partition;
            if ((options.to !== undefined || options.by !== undefined) && stepTarget(contract.partition, contract.replicas, options) !== target) {
                throw new RefusedError(`an interrupted ${interrupted.kind} was applying partition ${target}: finish it first (\`sts-canary step\` without --to/--by) or roll it back`);
            }
            refuseOtherVersion(interrupted, options.imageTag, "finish it (`sts-canary step`)");
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
        const canaryVersion = options.imageTag ?? contract.templateVersion;
        op.refuseSecondCanary(canaryVersion, "finish it");
        const record = op.newRecord("step", [target], canaryVersion);
        const reason = await runStep(op, record, target, { [op.key.imageTag]: value(canaryVersion), [op.key.partition]: value(target) });
        if (reason) return failed(op, reason, record, options.noRollback ?? false);
        await op.clear();
        return { code: EXIT.ok, message: `partition ${target}: done` };
    });
}

export interface PromoteOptions {
    plan?: (replicas: number) => number[];
    imageTag?: string;
    noRollback?: boolean;
    /** Ask before every step after the first. */
    pause?: boolean;
}

/** `promote`: walks a plan of partitions; resumes an interrupted operation from its record. */
export async function promote(ctx: ToolContext, options: PromoteOptions): Promise<Outcome> {
    return withOperation(ctx, async (op) => {
        const { contract } = op.canary;
        const plan = options.plan?.(contract.replicas);
        if (options.imageTag !== undefined) op.requireVersion(options.imageTag);
        let record: OperationRecord;
        let steps: number[];
        let first: StackConfig | undefined;
        const interrupted = op.interrupted;
        if (interrupted) {
            refuseRollbackRecord(interrupted);
            refuseOtherVersion(interrupted, options.imageTag, "continue it (`sts-canary promote`)");
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
            const canaryVersion = options.imageTag ?? contract.templateVersion;
            const newCanary = canaryVersion !== contract.templateVersion;
            op.refuseSecondCanary(canaryVersion, "finish it (`sts-canary promote --plan ...`)");
            steps = newCanary ? plan : remainingSteps(plan, contract.partition);
            if (steps.length === 0) return { code: EXIT.ok, message: `nothing to do: partition ${contract.partition} is already past the plan ${plan.join(",")}` };
            record = op.newRecord("promote", plan, canaryVersion);
        }
        const base: StackConfig = { ...(first ?? {}), [op.key.imageTag]: value(record.canaryVersion) };
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
            const config = index === 0 && first ? first : { ...base, [op.key.partition]: value(target) };
            const reason = await runStep(op, record, target, config);
            if (reason) return failed(op, reason, record, options.noRollback ?? false);
        }
        await op.log("promoted", `${record.canaryVersion} promoted through ${steps.join(" -> ")}`);
        await op.clear();
        return { code: EXIT.ok, message: `promoted ${record.canaryVersion} (partitions ${steps.join(" -> ")})` };
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

export interface SourceStack {
    stack: StackPort;
    cluster: ClusterPort;
}

export interface PromoteEnvOptions {
    partition?: number;
    yes?: boolean;
    noRollback?: boolean;
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
    const sourceStatus = await collectStatus({ stack: source.stack, cluster: source.cluster, clock: ctx.clock });
    const blockers = promotionBlockers(sourceStatus);
    if (blockers.length > 0) throw new RefusedError(`refusing to promote from ${source.stack.name}:\n  - ${blockers.join("\n  - ")}`);
    const version = sourceStatus.stableVersion!;
    const ref = sourceStatus.contract!.images[version];
    if (!ref || !/@sha256:[a-f0-9]{64}$/.test(ref)) throw new RefusedError(`stack ${source.stack.name} exports no image of ${version} pinned by digest (stsCanary.images)`);

    return withOperation(ctx, async (op) => {
        const { canary } = op;
        const to = ctx.stack.name;
        if (op.interrupted) {
            throw new RefusedError(`stack ${to} has an interrupted ${op.interrupted.kind} of ${op.interrupted.canaryVersion}: continue it (\`sts-canary --stack ${to} promote\`) `
                + `or roll it back (\`sts-canary --stack ${to} rollback\`) first`);
        }
        const replicas = canary.contract.replicas;
        const start = options.partition ?? safeStartPartition(replicas);
        if (!Number.isInteger(start) || start < 0 || start > replicas) throw new UsageError(`--partition ${start} is out of range; allowed 0..${replicas}`);
        op.requireInSync();
        if (canary.templateVersion !== canary.stableVersion || canary.contract.partition !== 0) {
            throw new RefusedError(`stack ${to} is mid-canary (partition ${canary.contract.partition}, ${canary.templateVersion} over ${canary.stableVersion}): finish it or roll it back first`);
        }
        const k = op.key;
        const registry = canary.config[k.registryServer]?.value ?? Object.values(canary.contract.images).map(registryOf)[0];
        if (registry && registryOf(ref) !== registry) {
            throw new RefusedError(`the verified image ${ref} is in registry ${registryOf(ref)}, but stack ${to} pulls from ${registry}; `
                + "promote within one Harbor, or replicate the image and pin it yourself");
        }
        if (canary.stableVersion === version && canary.contract.images[version] === ref && canary.live.pods.every((p) => p.version === version && p.ready)) {
            return { code: EXIT.ok, message: `${to} already runs ${version} (${ref}) on every pod` };
        }
        const touched = [k.pinnedImages, k.imageTag, k.partition];
        const secret = touched.filter((key) => canary.config[key]?.secret);
        if (secret.length > 0) throw new RefusedError(`${secret.join(", ")} of stack ${to} are secrets; the tool does not copy secrets into the operation record`);
        const previous = snapshot(canary.config, touched);
        const pins = withPinned(pinnedList(canary.config[k.pinnedImages]), version, ref);
        const config: StackConfig = {
            [k.pinnedImages]: { value: JSON.stringify(pins), objectValue: pins, secret: false },
            [k.imageTag]: value(version),
            [k.partition]: value(start),
        };
        const record = op.newRecord("promote-env", [start], version);
        record.previousConfig = previous;
        record.pinned = { version, ref, fromStack: source.stack.name };
        record.config = config;
        record.currentTarget = start;
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
        let diff: string;
        try {
            diff = await ctx.stack.preview();
        } catch (err) {
            await restore("the preview failed");
            throw new RefusedError(`the preview of ${to} failed; its config was restored, nothing else changed: ${String((err as Error).message).slice(0, 2000)}`);
        }
        ctx.say(`--- pulumi preview --diff --stack ${to}\n${diff.trim()}\n---`);
        const go = options.yes || (ctx.ask ? await ctx.ask(`apply to ${to}? [y/N] `) : false);
        if (!go) {
            await restore("not approved");
            return { code: EXIT.stopped, message: `not applied; the config of ${to} was restored` };
        }
        await op.log("promote-env", `${version} verified in ${source.stack.name} (${ref}) -> ${to}, partition ${start}`);
        const reason = await runStep(op, record, start, config);
        if (reason) return failed(op, reason, record, options.noRollback ?? false);
        await op.clear();
        return {
            code: EXIT.ok,
            message: `${to} runs ${version} (pinned ${ref}) on ordinals ${start}..${replicas - 1}; continue with \`sts-canary --stack ${to} promote --plan ...\``,
        };
    });
}
