/**
 * What every command starts from: the global options, output for humans or --json, Ctrl-C, the
 * project directory, and the stack (Automation API) with its cluster resolved from its own config.
 */
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { realClock } from "sts-canary/api";
import { readEnvFile } from "./envfile";
import { EXIT, UsageError } from "./errors";
import { resolveCluster } from "./kube";
import { currentHolder } from "./holder";
import { ToolContext } from "./core";
import { AutomationStack } from "./stack";

export interface GlobalOptions {
    stack?: string;
    cwd: string;
    json?: boolean;
    platformEnv: boolean;
}

/** Loads `.platform/platform.env` (written by platform/up.sh) unless a state backend is already chosen. */
function loadPlatformEnv(workDir: string): void {
    const file = path.join(workDir, ".platform", "platform.env");
    if (process.env.PULUMI_BACKEND_URL || !fs.existsSync(file)) return;
    for (const [key, value] of Object.entries(readEnvFile(file))) if (process.env[key] === undefined) process.env[key] = value;
    process.stderr.write(`(local platform environment from ${file})\n`);
}

export class Session {
    readonly workDir: string;
    private readonly controller = new AbortController();
    private interrupts = 0;

    constructor(readonly globals: GlobalOptions) {
        this.workDir = path.resolve(globals.cwd);
    }

    /** Human progress goes to stderr when stdout carries JSON. */
    say = (line: string): void => {
        (this.globals.json ? process.stderr : process.stdout).write(line + "\n");
    };

    /** Ctrl-C stops `pulumi up` safely (once) and keeps the operation record; twice quits at once. */
    installInterruptHandler(): void {
        process.on("SIGINT", () => {
            this.interrupts++;
            if (this.interrupts > 1) process.exit(EXIT.interrupted);
            this.say("interrupt: stopping pulumi safely (Ctrl-C again to quit at once); the operation record stays in the cluster");
            this.controller.abort();
        });
    }

    /** Checks the project directory and loads the local platform's environment. Relative kubeconfig paths resolve from here, as for the provider. */
    prepare(): void {
        if (!fs.existsSync(path.join(this.workDir, "Pulumi.yaml"))) throw new UsageError(`${this.workDir} has no Pulumi.yaml (use -C <project dir>)`);
        if (this.globals.platformEnv) loadPlatformEnv(this.workDir);
        process.chdir(this.workDir);
    }

    /** A stack of the project and its cluster, resolved from the stack's config (refused when it cannot be). */
    async context(stackName?: string): Promise<ToolContext> {
        this.prepare();
        const name = stackName ?? this.globals.stack ?? await AutomationStack.selected(this.workDir);
        if (!name) throw new UsageError("no stack selected: pass --stack <name> (or `pulumi stack select`)");
        const stack = await AutomationStack.open(this.workDir, name);
        const cluster = resolveCluster(name, await stack.getConfig());
        return {
            stack, cluster, clock: realClock, holder: currentHolder(this.workDir), say: this.say, signal: this.controller.signal,
            ask: process.stdin.isTTY ? ask : undefined,
        };
    }
}

function ask(question: string): Promise<boolean> {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    return new Promise((resolve) => rl.question(question, (answer) => {
        rl.close();
        resolve(/^y(es)?$/i.test(answer.trim()));
    }));
}
