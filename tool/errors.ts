/**
 * The tool's exit codes and its one error hierarchy: every error a command can end with is a
 * ToolError that carries its exit code, and keeps the error it came from as `cause`.
 */

/** Exit codes scripts can rely on. */
export const EXIT = {
    ok: 0,
    error: 1,
    /** Bad flag or stack config: nothing was changed. */
    usage: 2,
    /** The step failed (`pulumi up`: rollout check, gates) and the stack was rolled back to the stable version. */
    rolledBack: 3,
    /** The step failed and the rollback did not complete (or was disabled): look at `status`. */
    rollbackFailed: 4,
    /** Stopped before the end of the plan (approval declined); the last finished step stands. */
    stopped: 5,
    /** A precondition does not hold (source not fully rolled out, stale checkout, cluster unreachable...): nothing was changed. */
    refused: 6,
    /** Another operator holds the stack's operation lock (the Lease in the cluster): nothing was changed. */
    locked: 7,
    /** Ctrl-C: the operation record stays in the cluster; `status` explains it, the next run continues it. */
    interrupted: 130,
} as const;

export const EXIT_HELP = `Exit codes: 0 ok | 1 error | 2 usage or config error | 3 failed, rolled back to stable |
            4 failed and not (fully) rolled back | 5 stopped before the end of the plan |
            6 refused (a precondition does not hold; nothing changed) |
            7 locked (another operator's operation holds the stack; nothing changed) | 130 interrupted`;

/** The outcome of a changing command. */
export interface Outcome {
    code: number;
    message: string;
}

/** An error a command ends with: its exit code, and how it is shown. */
export abstract class ToolError extends Error {
    abstract readonly exitCode: number;
    /** Shown before the message, e.g. `refused (nothing was changed): `. */
    readonly prefix: string = "error: ";

    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = new.target.name;
    }
}

/** A bad flag, plan or version: nothing was changed. */
export class UsageError extends ToolError {
    readonly exitCode = EXIT.usage;
}

/** A precondition does not hold: nothing was changed. */
export class RefusedError extends ToolError {
    readonly exitCode: number = EXIT.refused;
    override readonly prefix = "refused (nothing was changed): ";
}

/** The stack's cluster could not be resolved or reached: nothing was read or changed there. */
export class ClusterUnavailable extends RefusedError {}

/** The API server answered a request with an error other than 404/409 (a missing right, say). */
export class ClusterError extends ToolError {
    readonly exitCode = EXIT.error;
}

/** Another operator holds the lock (see operation.ts for the message). */
export class LockedError extends ToolError {
    readonly exitCode = EXIT.locked;
    override readonly prefix = "";
}

/** This operator no longer holds the lock (not renewed in time, taken over, or fenced). */
export class LockLost extends ToolError {
    readonly exitCode = EXIT.locked;
}

/** The state backend is locked by a pulumi that may still run: it is never cancelled. */
export class BackendLocked extends ToolError {
    readonly exitCode = EXIT.locked;
}

/** This run changed the stack (config, `up`) before it failed: never "nothing was changed". */
export class FailedAfterChange extends ToolError {
    readonly exitCode = EXIT.error;

    constructor(cause: Error) {
        super(`${cause.message}\n(this run had already changed the stack: \`sts-canary status\` shows where it stands; the operation record stays in the cluster)`,
            { cause });
    }
}

/** Ctrl-C: `pulumi up` was stopped safely; the record stays. */
export class Interrupted extends ToolError {
    readonly exitCode = EXIT.interrupted;
    override readonly prefix = "";

    constructor() {
        super("interrupted: the operation record stays in the cluster; `sts-canary status` explains it and the next step/promote/rollback continues it");
    }
}

/** A lock the state backend holds on the stack (a DIY backend's lock file). */
export interface BackendLock {
    user: string;
    host: string;
    pid: number;
    /** RFC 3339. */
    createdAt: string;
}

/** `pulumi up` failed; `message` is the cause worth showing (the rollout check's words when it failed). */
export class UpFailed extends ToolError {
    readonly exitCode = EXIT.error;

    constructor(message: string, readonly backendLocks: BackendLock[] = [], readonly interrupted = false, options?: { cause?: unknown }) {
        super(message, options);
    }
}

/** Someone else wrote the object first (HTTP 409), or it already exists. */
export class Conflict extends ToolError {
    readonly exitCode = EXIT.error;
}

/** The exit code and message of any error a command ends with. */
export function exitCodeOf(err: unknown): { code: number; message?: string } {
    const e = err as Error & { code?: string };
    if (e?.code === "commander.helpDisplayed" || e?.code === "commander.version" || e?.code === "commander.help") return { code: EXIT.ok };
    if (typeof e?.code === "string" && e.code.startsWith("commander.")) return { code: EXIT.usage };
    if (err instanceof ToolError) return { code: err.exitCode, message: `${err.prefix}${err.message}` };
    return { code: EXIT.error, message: `error: ${e?.message ?? String(err)}` };
}
