/**
 * `sts-canary`: operates the canary of a stack built with the sts-canary component package, on the
 * Pulumi Automation API (the project in the working directory) and the stack's own cluster. One
 * module per verb in commands/; the core is operator.ts, the shared operation state operation.ts.
 */
import { Command } from "commander";
import { EXIT, EXIT_HELP, Interrupted, RefusedError, UsageError } from "./exit";
import { LockLost, LockedError } from "./operation";
import { BackendLocked } from "./operator";
import { ClusterUnavailable } from "./ports";
import { GlobalOptions, Session } from "./session";
import { CommandHost } from "./commands/common";
import * as promoteEnv from "./commands/promote-env";
import * as promote from "./commands/promote";
import * as rollback from "./commands/rollback";
import * as status from "./commands/status";
import * as step from "./commands/step";
import * as timeline from "./commands/timeline";

/** The error of a failed command and its exit code. */
export function exitCodeOf(err: unknown): { code: number; message?: string } {
    const e = err as Error & { code?: string };
    if (e?.code === "commander.helpDisplayed" || e?.code === "commander.version" || e?.code === "commander.help") return { code: EXIT.ok };
    if (typeof e?.code === "string" && e.code.startsWith("commander.")) return { code: EXIT.usage };
    if (err instanceof UsageError) return { code: EXIT.usage, message: `error: ${e.message}` };
    if (err instanceof LockedError || err instanceof LockLost || err instanceof BackendLocked) {
        return { code: EXIT.locked, message: `${err instanceof LockedError ? "" : "error: "}${e.message}` };
    }
    if (err instanceof RefusedError) return { code: EXIT.refused, message: `refused (nothing was changed): ${e.message}` };
    if (err instanceof ClusterUnavailable) return { code: EXIT.refused, message: `refused (nothing was changed): ${e.message}` };
    if (err instanceof Interrupted) {
        return { code: EXIT.interrupted, message: "interrupted: the operation record stays in the cluster; `sts-canary status` explains it and the next step/promote/rollback continues it" };
    }
    return { code: EXIT.error, message: `error: ${e?.message ?? String(err)}` };
}

export async function main(argv: string[]): Promise<number> {
    let code: number = EXIT.ok;
    const program = new Command("sts-canary")
        .description("Operate a StatefulSet canary: every step is a stack config change + `pulumi up` (the rollout check inside `up` "
            + "waits, fails fast and gates); the operation lock, record and timeline live in the stack's cluster")
        .option("-s, --stack <name>", "stack to operate on (default: the selected stack)")
        .option("-C, --cwd <dir>", "directory of the Pulumi project", process.cwd())
        .option("--json", "machine-readable output on stdout (progress on stderr)")
        .option("--no-platform-env", "do not load .platform/platform.env of the local platform")
        .showHelpAfterError()
        .addHelpText("after", `
${EXIT_HELP}
Config keys the tool sets: <project>:partition and <project>:imageTag (promote-env also <project>:pinnedImages),
where <project> is the stack's project name. Gates and timeouts are stack settings of the program
(bakeSeconds, maxRestarts, checkVersionPage, readyTimeoutSeconds, ...), run inside every \`pulumi up\`.`)
        .exitOverride();
    const host: CommandHost = {
        session: () => new Session(program.opts() as GlobalOptions),
        exit: (c) => { code = c; },
    };
    for (const command of [status, step, promote, rollback, promoteEnv, timeline]) command.register(program, host);
    // Removed in favour of the stack setting run inside `pulumi up`: say so instead of "unknown option".
    for (const name of ["step", "promote", "promote-env"]) {
        program.commands.find((c) => c.name() === name)?.option("--bake <seconds>", "removed: the bake is the stack setting bakeSeconds")
            .hook("preAction", (_cmd, action) => {
                if (action.opts().bake !== undefined) {
                    throw new UsageError("--bake was removed: the bake is the stack setting bakeSeconds, judged inside every `pulumi up` "
                        + "(`pulumi config set bakeSeconds 20`)");
                }
            });
    }
    for (const command of program.commands) command.exitOverride();
    try {
        await program.parseAsync(argv);
        return code;
    } catch (err) {
        const { code: exit, message } = exitCodeOf(err);
        if (message) process.stderr.write(message + "\n");
        return exit;
    }
}
