/**
 * Who runs an operation, and where: the Lease's holder identity, unique per run (containers repeat
 * host name, pid 1 and path), and the machine scope in which the holder's pids mean something.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";

/** Who runs an operation, and where. */
export interface Holder {
    user: string;
    host: string;
    pid: number;
    /** The project directory (checkout) the operator runs in. */
    checkout: string;
    /** Random per run: host name, pid and path repeat across containers. */
    instance?: string;
    /**
     * This boot of this machine and its pid namespace: only an operator with the same one can tell
     * whether a pid of the holder's is still alive.
     */
    machine?: string;
}

/** Boot id and pid namespace: the scope in which a pid names one process. */
export function machineScope(): string | undefined {
    try {
        const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
        const pidNs = fs.readlinkSync("/proc/self/ns/pid");
        return crypto.createHash("sha256").update(`${boot} ${pidNs}`).digest("hex").slice(0, 12);
    } catch {
        return undefined;
    }
}

export function currentHolder(checkout: string): Holder {
    let user = process.env.USER ?? "unknown";
    try {
        user = os.userInfo().username;
    } catch { /* no passwd entry: keep $USER */ }
    return { user, host: os.hostname(), pid: process.pid, checkout, instance: crypto.randomBytes(4).toString("hex"), machine: machineScope() };
}

/** `alice@laptop pid 4242 in /home/alice/app #1a2b3c4d`: the Lease's holderIdentity. */
export function holderIdentity(holder: Holder): string {
    return `${holder.user}@${holder.host} pid ${holder.pid} in ${holder.checkout}${holder.instance ? ` #${holder.instance}` : ""}`;
}

export function parseHolder(identity: string): Holder | undefined {
    const match = /^(.+?)@(\S+) pid (\d+) in (.*?)(?: #([0-9a-f]+))?$/.exec(identity);
    if (!match) return undefined;
    const holder: Holder = { user: match[1], host: match[2], pid: Number(match[3]), checkout: match[4] };
    if (match[5]) holder.instance = match[5];
    return holder;
}

