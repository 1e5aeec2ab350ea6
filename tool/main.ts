/**
 * `sts-canary`: operates the canary of a stack built with the sts-canary component package, on the
 * Pulumi Automation API (the project in the working directory) and the stack's own cluster. One
 * module per verb in commands/; the core is operator.ts, the shared operation state operation.ts.
 */
import { Command } from "commander";
import { EXIT, EXIT_HELP, exitCodeOf } from "./errors";
import { GlobalOptions, Session } from "./session";
import { CommandHost } from "./commands/common";
import * as deploy from "./commands/deploy";
import * as prComment from "./commands/pr-comment";
import * as promoteEnv from "./commands/promote-env";
import * as promote from "./commands/promote";
import * as rollback from "./commands/rollback";
import * as status from "./commands/status";
import * as step from "./commands/step";
import * as timeline from "./commands/timeline";

export { exitCodeOf };

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
Config keys the tool sets: the ones the program names in its stsCanary contract (configKeys: for the seed
program <project>:partition and <project>:imageTag, promote-env also <project>:pinnedImages). Gates and timeouts are stack settings of the program
(bakeSeconds, maxRestarts, checkVersionPage, readyTimeoutSeconds, ...), run inside every \`pulumi up\`.`)
        .exitOverride();
    const host: CommandHost = {
        session: () => new Session(program.opts() as GlobalOptions),
        exit: (c) => { code = c; },
    };
    for (const command of [status, step, promote, rollback, promoteEnv, timeline, prComment, deploy]) command.register(program, host);
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
