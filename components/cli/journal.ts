/**
 * The tool's memory between runs: an append-only timeline of everything it did (JSON lines, read
 * back as a readable log) and the record of the operation in progress, written before each step
 * and removed when the operation ends, so an interrupted run (Ctrl-C, crash) is explained and
 * continued by the next one.
 */
import * as fs from "fs";
import * as path from "path";
import { OperationRecord } from "./plan";

export interface TimelineEntry {
    time: string;
    stack: string;
    event: string;
    message: string;
    details?: Record<string, unknown>;
}

export class Journal {
    readonly dir: string;

    constructor(workDir: string, readonly stack: string, private readonly echo?: (line: string) => void) {
        this.dir = path.join(workDir, ".sts-canary", stack);
    }

    private get timelineFile(): string { return path.join(this.dir, "timeline.jsonl"); }
    private get operationFile(): string { return path.join(this.dir, "operation.json"); }

    /** Appends to the timeline (synchronously, so a crash right after still has it) and echoes it. */
    record(event: string, message: string, details?: Record<string, unknown>): TimelineEntry {
        const entry: TimelineEntry = { time: new Date().toISOString(), stack: this.stack, event, message, details };
        fs.mkdirSync(this.dir, { recursive: true });
        fs.appendFileSync(this.timelineFile, JSON.stringify(entry) + "\n");
        this.echo?.(formatEntry(entry));
        return entry;
    }

    timeline(limit?: number): TimelineEntry[] {
        if (!fs.existsSync(this.timelineFile)) return [];
        const entries = fs.readFileSync(this.timelineFile, "utf8").split("\n").filter((l) => l.trim() !== "").flatMap((line) => {
            try { return [JSON.parse(line) as TimelineEntry]; } catch { return []; }
        });
        return limit === undefined ? entries : entries.slice(-limit);
    }

    operation(): OperationRecord | undefined {
        if (!fs.existsSync(this.operationFile)) return undefined;
        try { return JSON.parse(fs.readFileSync(this.operationFile, "utf8")) as OperationRecord; } catch { return undefined; }
    }

    /** Writes the operation record atomically (rename), so it is never half-written. */
    saveOperation(op: OperationRecord): void {
        fs.mkdirSync(this.dir, { recursive: true });
        const tmp = `${this.operationFile}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(op, null, 2));
        fs.renameSync(tmp, this.operationFile);
    }

    clearOperation(): void {
        fs.rmSync(this.operationFile, { force: true });
    }
}

/** True while the process that wrote an operation record is still running. */
export function isProcessAlive(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

export function formatEntry(entry: TimelineEntry): string {
    return `${entry.time.replace("T", " ").replace(/\.\d+Z$/, "Z")}  ${entry.event.padEnd(10)} ${entry.message}`;
}
