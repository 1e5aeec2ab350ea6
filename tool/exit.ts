/** Exit codes scripts can rely on, and the errors that map to them. */
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

export class UsageError extends Error {}

export class RefusedError extends Error {}

export class Interrupted extends Error {
    constructor() {
        super("interrupted");
    }
}

/** The outcome of a changing command. */
export interface Outcome {
    code: number;
    message: string;
}
