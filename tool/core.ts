/**
 * The operation core every changing verb runs on (commands/step, promote, rollback, promote-env):
 * the lock, the canary read under it, the record and timeline, one step (config + `pulumi up`) and
 * the rollback after a failed one. Only the StackPort and ClusterPort interfaces: the unit tests
 * drive it with fakes.
 */
import type { Clock } from "sts-canary/api";
import { staleBackendLocks, type ProcessState } from "./backend";
import { Canary, StackKeys, readCanary, requireContract, targetOf } from "./canary";
import { ClusterUnavailable, EXIT, FailedAfterChange, Interrupted, LockLost, Outcome, RefusedError, UpFailed, UsageError } from "./errors";
import { restoreOf } from "./environments";
import type { Holder } from "./holder";
import {
    LEASE_DURATION_SECONDS, Lock, OperationKind, OperationRecord, OperationState, OperationStore, RECORD_FORMAT, TimelineEntry,
    newOperationId, secondsText,
} from "./operation";
import { describeMove, rollbackReach } from "./plan";
import { ClusterPort, ConfigEntry, StackConfig, StackPort } from "./ports";
import { formatEntry } from "./status";

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
    /** Whether a process of a gone operator still runs (default: judged on this machine, see backend.ts). */
    processState?: (holder: Holder, pid: number) => ProcessState;
}

/** A plain stack config value. */
export const value = (v: string | number): ConfigEntry => ({ value: String(v), secret: false });

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
        const target = targetOf(requireContract(ctx.stack.name, await ctx.stack.outputs()));
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
            op.interrupted = await op.current(state.record);
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

    /** The stack config keys of the program (from its contract). */
    get keys(): StackKeys {
        return this.canary.keys;
    }

    async log(event: string, message: string): Promise<void> {
        const entry = await this.lock.log(event, message);
        this.ctx.onEntry?.(entry);
        this.ctx.say(formatEntry(entry));
    }

    newRecord(kind: OperationKind, plan: number[], canaryVersion: string): OperationRecord {
        const now = new Date(this.ctx.clock.now()).toISOString();
        return {
            format: RECORD_FORMAT, id: newOperationId(), kind, stack: this.ctx.stack.name, project: this.canary.project, backend: this.ctx.stack.backend,
            plan, phase: "applying", stableVersion: this.canary.stableVersion, canaryVersion,
            initialPartition: this.canary.contract.partition, initialVersion: this.canary.contract.templateVersion,
            config: {}, statefulSetUid: this.canary.live.statefulSet?.uid, startedBy: this.ctx.holder, startedAt: now, updatedAt: now,
        };
    }

    /** The interrupted record, unless it belongs to a StatefulSet that no longer exists (then it is cleared). */
    private async current(record: OperationRecord | undefined): Promise<OperationRecord | undefined> {
        const uid = this.canary.live.statefulSet?.uid;
        if (!record?.statefulSetUid || !uid || record.statefulSetUid === uid) return record;
        await this.log("stale", `cleared the record of an interrupted ${record.kind} of ${record.canaryVersion} (started ${record.startedAt}): `
            + `StatefulSet ${this.canary.target.namespace}/${this.canary.target.statefulSetName} was deleted and created again since`);
        await this.clear();
        return undefined;
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
     * this run took over, and that operator's pulumi is provably gone, clears that lock once and
     * retries (backend.ts decides; a pulumi that may still run is never cancelled).
     */
    private async withBackend<T>(what: string, run: () => Promise<T>): Promise<T> {
        try {
            return await run();
        } catch (err) {
            const stale = err instanceof UpFailed ? staleBackendLocks(err.backendLocks, this.lock.tookOver, this.interrupted, { processState: this.ctx.processState, stack: this.ctx.stack }) : undefined;
            if (!stale) throw err;
            await this.log("unlock", `the state backend still held the lock of the gone operator's pulumi (${stale}): cleared it (pulumi cancel) before ${what}`);
            await this.ctx.stack.cancelBackendLock();
            return run();
        }
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
export async function writeConfig(stack: StackPort, set: StackConfig, remove: string[]): Promise<void> {
    if (Object.keys(set).length > 0) await stack.setConfig(set);
    if (remove.length > 0) await stack.removeConfig(remove);
}

/**
 * Runs `body` under the lock. Releasing the lock never replaces the outcome (a failed release is
 * a warning: the lease expires by itself), and a failure after the stack was changed is never
 * reported as "refused, nothing was changed" or "locked".
 */
export async function withOperation(ctx: ToolContext, body: (op: Operation) => Promise<Outcome>): Promise<Outcome> {
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
export function refuseOtherVersion(record: OperationRecord, version: string | undefined, howToFinish: string): void {
    if (version !== undefined && version !== record.canaryVersion) {
        throw new RefusedError(`an interrupted ${record.kind} of ${record.canaryVersion} is in the record: ${howToFinish} or roll it back first`);
    }
}

export function refuseRollbackRecord(record: OperationRecord): void {
    if (record.kind === "rollback" || record.phase === "rolling-back") {
        throw new RefusedError(`an interrupted rollback of ${record.canaryVersion} (started by ${record.startedBy.user}@${record.startedBy.host} at ${record.startedAt}) `
            + "must finish first: run `sts-canary rollback`");
    }
}

/**
 * One step: record it, set the program's partition key (and version, pins...) to `config`, `up`.
 * Returns the failure reason, or undefined when the step is done.
 */
export async function runStep(op: Operation, record: OperationRecord, target: number, config: StackConfig, remove: string[] = []): Promise<string | undefined> {
    const { ctx } = op;
    const from = op.canary.contract.partition;
    record.currentTarget = target;
    record.phase = "applying";
    record.config = config;
    await op.save(record);
    const version = config[op.keys.version]?.value;
    const versionKey = op.keys.version.split(":")[1];
    const tagChange = version !== undefined && version !== op.canary.contract.templateVersion ? `, ${versionKey} ${op.canary.contract.templateVersion} -> ${version}` : "";
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
export function firstLine(text: string): string {
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    return lines.slice(0, 2).join(" ").slice(0, 400);
}

/** On a failed step: roll back (or stop, with --no-rollback) and say how it ended. */
export async function failed(op: Operation, reason: string, record: OperationRecord, noRollback: boolean): Promise<Outcome> {
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
export async function rollbackWith(op: Operation, reason: string, record: OperationRecord | undefined): Promise<Outcome> {
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
        const previous = record.previousConfig[op.keys.partition];
        restorePartition = previous ? Number(previous.value) : record.initialPartition;
    } else {
        restorePartition = record?.initialPartition ?? canary.contract.partition;
        set = { [op.keys.version]: value(stable), [op.keys.partition]: value(restorePartition) };
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
    let applied = reach < restorePartition ? await op.apply({ ...set, [op.keys.partition]: value(reach) }, remove.filter((k) => k !== op.keys.partition)) : undefined;
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

