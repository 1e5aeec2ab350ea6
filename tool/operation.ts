/**
 * The operation state, in the cluster next to the StatefulSet, so that every checkout and CI job
 * sees the same:
 *   - a coordination.k8s.io/v1 Lease `<sts>-sts-canary`: the lock. Its holderIdentity names who
 *     and where (`user@host pid N in /checkout #instance`, the instance random, so that two
 *     containers with the same host name, pid and path differ); it lasts LEASE_DURATION_SECONDS
 *     and is renewed every RENEW_INTERVAL_SECONDS while an operation runs, deleted when it ends.
 *     A lease that was not renewed in time belongs to an operator that is gone: the next one takes
 *     it over. The holder itself gives up sooner, RENEW_DEADLINE_SECONDS after its last renewal
 *     began (by its own clock, checked before every write, so a process that was paused stops
 *     at its next write): it has stopped writing before anyone may take over.
 *   - the ConfigMap's `fence` names the holder allowed to write it; a new holder writes its own
 *     before anything else, and every write checks it under the resourceVersion it read, so a
 *     former holder's late write is refused whatever its clock says.
 *   - a ConfigMap `<sts>-sts-canary`: `operation` is the in-flight operation (JSON, absent when
 *     none), `timeline` what the tool did (JSON lines, the last TIMELINE_LIMIT entries). Every
 *     write carries the resourceVersion it read (optimistic concurrency).
 * Local files are not used. Expiry is judged on the API server's clock (when it last wrote the
 * lease, and when it answered the read), so operators' clocks need not agree; only where the server
 * does not give both does it fall back to renewTime against this machine's clock.
 */
import * as crypto from "crypto";
import { redact as redactText } from "sts-canary/api";
import type { Clock } from "sts-canary/api";
import { Conflict, LockLost, LockedError } from "./errors";
import { Holder, holderIdentity } from "./holder";
import { ClusterPort, ConfigEntry, LeaseObject } from "./ports";

export const LEASE_DURATION_SECONDS = 30;
export const RENEW_INTERVAL_SECONDS = 10;
/** The holder stops writing when its last successful renewal began this long ago: well before anyone may take over. */
export const RENEW_DEADLINE_SECONDS = 20;
/** After a failed renewal, the next attempt comes this soon. */
export const RENEW_RETRY_SECONDS = 2;
export const TIMELINE_LIMIT = 500;
const TIMELINE_MAX_BYTES = 512 * 1024;
/** Attempts of a read-modify-write before giving up (others kept writing in between). */
const WRITE_ATTEMPTS = 5;
/** Key of the ConfigMap naming the holder allowed to write it. */
export const FENCE_KEY = "fence";

/** Name of the Lease and of the ConfigMap of a StatefulSet's operations. */
export function operationObjectName(statefulSetName: string): string {
    return `${statefulSetName}-sts-canary`;
}

export type OperationKind = "step" | "promote" | "rollback" | "promote-env";

/** The in-flight operation: enough for any operator to explain it, continue it or roll it back. */
/** The shape of the record this version writes; records of other shapes are shown as unreadable. */
export const RECORD_FORMAT = 2;

export interface OperationRecord {
    format: typeof RECORD_FORMAT;
    id: string;
    kind: OperationKind;
    stack: string;
    project: string;
    /** State backend, without credentials. */
    backend: string;
    /** Partitions of the plan, e.g. [4, 3, 1, 0]. */
    plan: number[];
    /** Partition being applied (or restored, while rolling back). */
    currentTarget?: number;
    phase: "applying" | "rolling-back";
    stableVersion: string;
    canaryVersion: string;
    /** Partition and template version when the operation began (a rollback restores the partition). */
    initialPartition: number;
    initialVersion: string;
    /** The stack config the current step sets (full keys): what a resumed run sets again, since
     *  another checkout's stack file may be stale. */
    config: Record<string, ConfigEntry>;
    /** promote-env: the target's keys before the operation, exactly; null = the key was absent. */
    previousConfig?: Record<string, ConfigEntry | null>;
    /** promote-env: the version verified in the source stack, pinned by digest. */
    pinned?: { version: string; ref: string; fromStack: string };
    /** The StatefulSet's metadata.uid when the operation began: a record of one that was deleted
     *  since (the stack destroyed and deployed again) describes nothing that exists. */
    statefulSetUid?: string;
    startedBy: Holder;
    startedAt: string;
    updatedAt: string;
}

export interface TimelineEntry {
    time: string;
    stack: string;
    /** user@host of the operator. */
    by: string;
    event: string;
    message: string;
}

export interface LeaseInfo {
    holder: string;
    acquiredAt?: number;
    renewedAt: number;
    expiresAt: number;
    expired: boolean;
}

export interface OperationState {
    lease?: LeaseInfo;
    record?: OperationRecord;
    /** The record could not be read (not JSON, another format). */
    recordProblem?: string;
    timeline: TimelineEntry[];
}

/** Why another operator's live lease refuses this one: who holds it, doing what, until when. */
export function lockedMessage(lease: LeaseInfo, record: OperationRecord | undefined, now: number): string {
    const what = record ? `${record.kind} of ${record.canaryVersion} (plan ${record.plan.join(",") || "-"}, at partition ${record.currentTarget ?? "-"})` : "an operation";
    return `locked: ${what} on this stack is held by ${lease.holder}; its lease was renewed ${secondsText(now - lease.renewedAt)} ago and `
        + `expires in ${secondsText(lease.expiresAt - now)} (${new Date(lease.expiresAt).toISOString()}) unless renewed. `
        + "Wait for it, or run the command again after the lease expired to continue or roll back.";
}

/** A duration for humans in whole seconds, e.g. `26s` (never negative). */
export function secondsText(ms: number): string {
    return `${Math.max(0, Math.round(ms / 1000))}s`;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
    return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** The server's times have whole seconds: a lease counts as expired only a second later, never early. */
export const SERVER_CLOCK_SLACK_MS = 1000;

export function leaseInfo(lease: LeaseObject, now: number): LeaseInfo | undefined {
    if (!lease.holderIdentity) return undefined;
    const duration = (lease.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000;
    let renewed: number;
    let expiresAt: number;
    if (lease.serverWrittenAt !== undefined && lease.serverReadAt !== undefined) {
        // The age on the server's clock, shown on ours: skew between machines does not matter.
        const age = Math.max(0, lease.serverReadAt - lease.serverWrittenAt);
        renewed = now - age;
        expiresAt = renewed + duration + SERVER_CLOCK_SLACK_MS;
    } else {
        const renewedAt = Date.parse(lease.renewTime ?? lease.acquireTime ?? "");
        renewed = Number.isFinite(renewedAt) ? renewedAt : 0;
        expiresAt = renewed + duration;
    }
    const acquiredAt = Date.parse(lease.acquireTime ?? "");
    return {
        holder: lease.holderIdentity, renewedAt: renewed, expiresAt, expired: now >= expiresAt,
        acquiredAt: Number.isFinite(acquiredAt) ? acquiredAt : undefined,
    };
}

/**
 * Removes credentials from text that goes into the cluster (timeline, record): what the component's
 * redaction removes (URL userinfo, tokens in URLs and logs), and the values of the secret
 * environment variables the tool runs with.
 */
export function redact(text: string, env: NodeJS.ProcessEnv = process.env): string {
    const keys = ["PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "STS_CANARY_REGISTRY_PASSWORD",
        "STS_CANARY_PULL_PASSWORD"];
    return redactText(text, keys.map((key) => env[key]));
}

/** `postgres://user:pw@host:5432/db?sslmode=x` -> `postgres://host:5432/db`. */
export function sanitizeBackendUrl(url: string): string {
    try {
        const parsed = new URL(url);
        if (parsed.protocol === "file:") return `file://${parsed.pathname}`;
        return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
    } catch {
        return redact(url).replace(/\?.*$/, "");
    }
}

export function newOperationId(): string {
    return crypto.randomBytes(6).toString("hex");
}

function parseTimeline(text: string | undefined): TimelineEntry[] {
    if (!text) return [];
    return text.split("\n").filter((l) => l.trim() !== "").flatMap((line) => {
        try {
            const entry = JSON.parse(line) as TimelineEntry;
            return typeof entry.event === "string" && typeof entry.message === "string" ? [entry] : [];
        } catch {
            return [];
        }
    });
}

/** The timeline with `entries` appended, capped in entries and bytes (oldest dropped). */
export function appendTimeline(text: string | undefined, entries: TimelineEntry[]): string {
    const all = [...parseTimeline(text), ...entries].slice(-TIMELINE_LIMIT).map((e) => JSON.stringify(e));
    let size = all.reduce((sum, l) => sum + l.length + 1, 0);
    while (all.length > 1 && size > TIMELINE_MAX_BYTES) size -= all.shift()!.length + 1;
    return all.join("\n") + "\n";
}

function parseRecord(text: string | undefined): { record?: OperationRecord; problem?: string } {
    if (!text) return {};
    try {
        const record = JSON.parse(text) as OperationRecord;
        if (record?.format !== RECORD_FORMAT || typeof record.kind !== "string") return { problem: `the operation record has an unknown format (${record?.format ?? "none"}; this tool writes ${RECORD_FORMAT})` };
        return { record };
    } catch (err) {
        return { problem: `the operation record is not JSON: ${(err as Error).message}` };
    }
}

export class OperationStore {
    readonly objectName: string;

    constructor(private readonly cluster: ClusterPort, readonly namespace: string, readonly statefulSetName: string,
        readonly stack: string, private readonly clock: Clock) {
        this.objectName = operationObjectName(statefulSetName);
    }

    /** What any operator sees: the lock, the in-flight operation and the timeline. Read-only. */
    async state(): Promise<OperationState> {
        const [lease, object] = await Promise.all([
            this.cluster.getLease(this.namespace, this.objectName),
            this.cluster.getRecord(this.namespace, this.objectName),
        ]);
        const { record, problem } = parseRecord(object?.data.operation);
        return {
            lease: lease ? leaseInfo(lease, this.clock.now()) : undefined,
            record, recordProblem: problem,
            timeline: parseTimeline(object?.data.timeline),
        };
    }

    /**
     * Takes the lock: creates the Lease, or takes over one that is released or expired, then fences
     * the ConfigMap for this holder. Throws LockedError while another operator's lease is live.
     * `onLost` is called if the lock is lost later (not renewed in time, taken over, or fenced).
     */
    async acquire(holder: Holder, onLost: (why: string) => void): Promise<Lock> {
        const identity = holderIdentity(holder);
        for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
            const now = this.clock.now();
            const existing = await this.cluster.getLease(this.namespace, this.objectName);
            const fresh: LeaseObject = {
                holderIdentity: identity, leaseDurationSeconds: LEASE_DURATION_SECONDS,
                acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0,
            };
            let lease: LeaseObject;
            let tookOver: LeaseInfo | undefined;
            try {
                if (!existing) {
                    lease = await this.cluster.createLease(this.namespace, this.objectName, fresh);
                } else {
                    const info = leaseInfo(existing, now);
                    if (info && !info.expired && info.holder !== identity) {
                        const { record } = parseRecord((await this.cluster.getRecord(this.namespace, this.objectName))?.data.operation);
                        throw new LockedError(lockedMessage(info, record, now));
                    }
                    lease = await this.cluster.replaceLease(this.namespace, this.objectName, {
                        ...fresh,
                        leaseTransitions: (existing.leaseTransitions ?? 0) + (info && info.holder !== identity ? 1 : 0),
                        resourceVersion: existing.resourceVersion,
                    });
                    tookOver = info?.expired ? info : undefined;
                }
            } catch (err) {
                if (!(err instanceof Conflict)) throw err;
                // Someone else wrote the lease between our read and write: look again.
                continue;
            }
            // From here on, writes of a former holder (a paused process that resumes) are refused.
            try {
                await this.update((data) => ({ ...data, [FENCE_KEY]: identity }));
            } catch (err) {
                await this.cluster.deleteLease(this.namespace, this.objectName, lease.resourceVersion ?? "").catch(() => undefined);
                throw err;
            }
            return new Lock(this, this.cluster, this.clock, holder, lease, tookOver, onLost, now);
        }
        throw new Error(`could not take the lock ${this.namespace}/${this.objectName}: it changed under every one of ${WRITE_ATTEMPTS} attempts`);
    }

    /**
     * Read-modify-write of the ConfigMap's data, with the resourceVersion read (bounded retries on
     * conflict). With `fence`, the write happens only while the ConfigMap names that holder.
     */
    async update(change: (data: Record<string, string>) => Record<string, string>, fence?: string): Promise<void> {
        for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
            const current = await this.cluster.getRecord(this.namespace, this.objectName);
            const holder = current?.data[FENCE_KEY];
            if (fence !== undefined && holder !== fence) {
                throw new LockLost(`the operation lock now belongs to ${holder ?? "nobody"}: this operator (${fence}) no longer writes the record`);
            }
            try {
                if (!current) await this.cluster.createRecord(this.namespace, this.objectName, { data: change({}) });
                else await this.cluster.replaceRecord(this.namespace, this.objectName, { data: change({ ...current.data }), resourceVersion: current.resourceVersion });
                return;
            } catch (err) {
                if (!(err instanceof Conflict)) throw err;
            }
        }
        throw new Error(`could not write ${this.namespace}/${this.objectName}: it changed under every one of ${WRITE_ATTEMPTS} attempts`);
    }
}

/** The lock while an operation runs: renews the Lease, writes the record and the timeline (fenced). */
export class Lock {
    readonly identity: string;
    private lease: LeaseObject;
    private released = false;
    private lost?: string;
    private readonly stop = new AbortController();
    private renewing: Promise<void> = Promise.resolve();
    private readonly loop: Promise<void>;
    /** When the last successful renewal (or the acquisition) began, on this machine's clock. */
    private lastRenewed: number;
    /** Why the renewals since then failed, for the message when the deadline passes. */
    private lastRenewError = "";

    constructor(private readonly store: OperationStore, private readonly cluster: ClusterPort, private readonly clock: Clock,
        readonly holder: Holder, lease: LeaseObject,
        /** The expired lease this lock took over, if any: its holder is gone. */
        readonly tookOver: LeaseInfo | undefined,
        private readonly onLost: (why: string) => void,
        acquiredAt: number) {
        this.identity = holderIdentity(holder);
        this.lease = lease;
        this.lastRenewed = acquiredAt;
        this.loop = this.renewLoop();
    }

    get by(): string {
        return `${this.holder.user}@${this.holder.host}`;
    }

    /** Renews every RENEW_INTERVAL_SECONDS (RENEW_RETRY_SECONDS after a failure) until released or lost. */
    private async renewLoop(): Promise<void> {
        let failed = false;
        while (!this.released && !this.lost) {
            await this.clock.sleep((failed ? RENEW_RETRY_SECONDS : RENEW_INTERVAL_SECONDS) * 1000, this.stop.signal);
            if (this.released || this.lost) return;
            const before = this.lastRenewed;
            this.renewing = this.renew();
            await this.renewing;
            failed = this.lastRenewed === before;
        }
    }

    /** One renewal; a conflict means someone else wrote the lease: it is ours no more unless it still names us. */
    async renew(attempt = 0): Promise<void> {
        if (this.released || this.lost || this.pastDeadline()) return;
        const started = this.clock.now();
        try {
            this.lease = await this.cluster.replaceLease(this.store.namespace, this.store.objectName, { ...this.lease, renewTime: microTime(started) });
            // A renewal that took long (or whose process was paused) only counts from when it began.
            this.lastRenewed = started;
            this.lastRenewError = "";
            this.pastDeadline();
        } catch (err) {
            if (err instanceof Conflict) {
                const current = await this.cluster.getLease(this.store.namespace, this.store.objectName).catch(() => undefined);
                if (current?.holderIdentity === this.identity && attempt < WRITE_ATTEMPTS) {
                    this.lease = current;
                    return this.renew(attempt + 1);
                }
                return this.lose(`the operation lock was taken over by ${current?.holderIdentity ?? "nobody (it was deleted)"}`);
            }
            // The API server did not answer: keep trying (every RENEW_RETRY_SECONDS) until the deadline.
            this.lastRenewError = (err as Error).message;
            this.pastDeadline();
        }
    }

    /** Loses the lock once its last renewal began RENEW_DEADLINE_SECONDS ago (a slow API, or this process paused). */
    private pastDeadline(): boolean {
        const age = this.clock.now() - this.lastRenewed;
        if (age < RENEW_DEADLINE_SECONDS * 1000) return false;
        const cause = this.lastRenewError ? `: ${this.lastRenewError}` : "";
        this.lose(`the operation lock was not renewed for ${secondsText(age)} (deadline ${RENEW_DEADLINE_SECONDS}s${cause}); `
            + "another operator may take it over, so this one stops writing");
        return true;
    }

    private lose(why: string): void {
        if (this.lost) return;
        this.lost = why;
        this.stop.abort();
        this.onLost(why);
    }

    /** Before every write: still ours, and renewed recently enough (a resumed process finds out here). */
    check(): void {
        if (!this.lost && !this.released) this.pastDeadline();
        if (this.lost) throw new LockLost(this.lost);
        if (this.released) throw new LockLost("the operation lock was released");
    }

    /** A fenced read-modify-write of the ConfigMap; a fence that names someone else loses the lock. */
    private async write(change: (data: Record<string, string>) => Record<string, string>): Promise<void> {
        this.check();
        try {
            await this.store.update(change, this.identity);
        } catch (err) {
            if (err instanceof LockLost) this.lose(err.message);
            throw err;
        }
    }

    /** Writes the in-flight operation (the record every operator sees). */
    async save(record: OperationRecord): Promise<void> {
        const text = redact(JSON.stringify({ ...record, updatedAt: new Date(this.clock.now()).toISOString() }));
        await this.write((data) => ({ ...data, operation: text }));
    }

    /** The operation is over: no record any more. */
    async clear(): Promise<void> {
        await this.write((data) => {
            const rest = { ...data };
            delete rest.operation;
            return rest;
        });
    }

    /** Appends to the timeline. */
    async log(event: string, message: string): Promise<TimelineEntry> {
        const entry: TimelineEntry = { time: new Date(this.clock.now()).toISOString(), stack: this.store.stack, by: this.by, event, message: redact(message) };
        await this.write((data) => ({ ...data, timeline: appendTimeline(data.timeline, [entry]) }));
        return entry;
    }

    /** Ends the lock: stops renewing and deletes the Lease (if it is still ours). */
    async release(): Promise<void> {
        if (this.released) return;
        this.released = true;
        this.stop.abort();
        await this.loop;
        await this.renewing.catch(() => undefined);
        if (this.lost || !this.lease.resourceVersion) return;
        try {
            await this.cluster.deleteLease(this.store.namespace, this.store.objectName, this.lease.resourceVersion);
        } catch (err) {
            if (!(err instanceof Conflict)) throw err;
        }
    }
}
