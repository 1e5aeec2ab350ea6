/** What the command modules share: integer flags, the session, and how an outcome is reported. */
import { InvalidArgumentError } from "commander";
import { Outcome } from "../errors";
import { TimelineEntry } from "../operation";
import { Session } from "../session";

export const integer = (name: string) => (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(value);
};

export interface CommandHost {
    /** The session of this invocation (global options parsed). */
    session(): Session;
    /** Sets the process's exit code. */
    exit(code: number): void;
}

/** Prints the outcome (a line, or JSON with the timeline entries of this run) and sets the exit code. */
export function report(host: CommandHost, session: Session, outcome: Outcome, entries: TimelineEntry[]): void {
    if (session.globals.json) {
        process.stdout.write(JSON.stringify({ exitCode: outcome.code, message: outcome.message, timeline: entries }, null, 2) + "\n");
    } else {
        session.say(`${outcome.code === 0 ? "OK" : `exit ${outcome.code}`}: ${outcome.message}`);
    }
    host.exit(outcome.code);
}
