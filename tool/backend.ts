/**
 * The state backend's lock left by a gone operator's `pulumi` (DIY backends keep it when the
 * process dies): when it may be cleared. Only when it is that operator's (same user@host, created
 * while its lease was live) and its process is provably gone: same boot and pid namespace as
 * this operator, and no such pid. A pulumi that may still run (paused, or on another machine or
 * container) is never cancelled: two updates would write one stack's state.
 */
import * as os from "os";
import { BackendLock, BackendLocked } from "./errors";
import { Holder, machineScope, parseHolder } from "./holder";
import { LeaseInfo, OperationRecord } from "./operation";

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

/** Backend locks created by the operator whose lease expired, while it held it. */
export function locksOf(locks: BackendLock[], gone: LeaseInfo | undefined): boolean {
    const who = gone ? parseHolder(gone.holder) : undefined;
    if (!gone || !who || locks.length === 0) return false;
    return locks.every((l) => {
        const at = Date.parse(l.createdAt);
        return l.user === who.user && l.host === who.host && Number.isFinite(at)
            && at <= gone.expiresAt + 1000 && at >= (gone.acquiredAt ?? 0) - 1000;
    });
}

/**
 * The locks to clear (as text for the timeline), or undefined when they are not the gone
 * operator's; throws BackendLocked when they are, but its pulumi may still run.
 */
export function staleBackendLocks(locks: BackendLock[], gone: LeaseInfo | undefined, interrupted: OperationRecord | undefined,
    context: { processState?: (holder: Holder, pid: number) => ProcessState; stack: { name: string } }): string | undefined {
    if (!locksOf(locks, gone)) return undefined;
    const text = locks.map((l) => `${l.user}@${l.host} pid ${l.pid} since ${l.createdAt}`).join(", ");
    const who = parseHolder(gone!.holder)!;
    // The machine scope is in the record the gone operator wrote (the lease names only who and where).
    const recorded = interrupted?.startedBy;
    const holder = recorded && recorded.instance === who.instance ? { ...who, machine: recorded.machine } : who;
    const states = locks.map((l) => (context.processState ?? processState)(holder, l.pid));
    if (states.some((state) => state !== "dead")) {
        throw new BackendLocked(`the state backend still holds the lock of the gone operator's pulumi (${text}), and that process `
            + `${states.includes("alive") ? "is still running (paused?)" : "may still be running on another machine or container"}: `
            + "it is not cancelled, since two updates would write one stack's state. Once it has ended (or you made sure it is gone), "
            + `run \`pulumi cancel --stack ${context.stack.name}\` and this command again`);
    }
    return text;
}
