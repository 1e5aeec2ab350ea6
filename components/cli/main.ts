/**
 * `sts-canary`: status, step, promote, rollback and timeline of a StatefulSet canary, on the
 * Pulumi Automation API against the project in the working directory and one of its stacks.
 */
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { Command, InvalidArgumentError, Option } from "commander";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { gateSettingsFrom, GateSettings } from "./gates";
import { Journal, formatEntry, isProcessAlive } from "./journal";
import { EXIT, Interrupted, Operator, Outcome, UsageError, deployedStatus, promote, refreshStatefulSet, rollback, step } from "./operator";
import { readEnvFile } from "./envfile";
import { RefusedError, planTargetChange, promotionBlockers } from "./environments";
import { OperationRecord, PlanError, parsePlan, stepTarget } from "./plan";
import { openStack, PROJECT, setConfig } from "./stack";
import { collectStatus, renderStatus } from "./status";

interface GlobalOptions {
    stack?: string;
    cwd: string;
    json?: boolean;
    platformEnv: boolean;
}

const integer = (name: string) => (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(value);
};

/** Loads `.platform/platform.env` (written by platform/up.sh) unless a backend is already chosen. */
function loadPlatformEnv(workDir: string, say: (line: string) => void): void {
    const file = path.join(workDir, ".platform", "platform.env");
    if (process.env.PULUMI_BACKEND_URL || !fs.existsSync(file)) return;
    Object.assign(process.env, readEnvFile(file));
    say(`(local platform environment from ${path.relative(process.cwd(), file) || file})`);
}

class Cli {
    private readonly controller = new AbortController();
    private interrupts = 0;

    constructor(readonly globals: GlobalOptions) {}

    /** Human progress goes to stderr when stdout carries JSON. */
    say = (line: string): void => {
        if (this.globals.json) process.stderr.write(line + "\n");
        else process.stdout.write(line + "\n");
    };

    installInterruptHandler(): void {
        process.on("SIGINT", () => {
            this.interrupts++;
            if (this.interrupts > 1) process.exit(EXIT.interrupted);
            this.say("interrupt: stopping pulumi safely (Ctrl-C again to quit at once); the next run will explain and continue");
            this.controller.abort();
        });
    }

    async open(stackOverride?: string): Promise<{ stack: Stack; journal: Journal; workDir: string }> {
        const workDir = path.resolve(this.globals.cwd);
        if (!fs.existsSync(path.join(workDir, "Pulumi.yaml"))) throw new UsageError(`${workDir} has no Pulumi.yaml (use --cwd)`);
        if (this.globals.platformEnv) loadPlatformEnv(workDir, (l) => process.stderr.write(l + "\n"));
        let stackName = stackOverride ?? this.globals.stack;
        if (!stackName) {
            const workspace = await LocalWorkspace.create({ workDir });
            stackName = (await workspace.stack())?.name;
            if (!stackName) throw new UsageError("no stack selected: pass --stack <name> (or `pulumi stack select`)");
        }
        const stack = await openStack({ stackName, workDir });
        return { stack, journal: new Journal(workDir, stackName, (line) => this.say(line)), workDir };
    }

    async operator(bakeOverride?: number, stackOverride?: string): Promise<Operator> {
        const { stack, journal } = await this.open(stackOverride);
        const config = await stack.getAllConfig();
        const gateConfig: Record<string, string | undefined> = {};
        for (const [key, value] of Object.entries(config)) {
            if (key.startsWith(`${PROJECT}:gate`)) gateConfig[key.slice(PROJECT.length + 1)] = value.value;
        }
        let gates: GateSettings;
        try {
            gates = gateSettingsFrom(gateConfig);
        } catch (err) {
            throw new UsageError(String((err as Error).message));
        }
        if (bakeOverride !== undefined) gates.bakeSeconds = bakeOverride;
        return { stack, journal, gates, log: this.say, signal: this.controller.signal };
    }

    /** The operator of a changing command, with Ctrl-C handling and the interrupted run, if any. */
    async beginOperation(bakeOverride?: number, stackOverride?: string): Promise<{ op: Operator; interrupted?: OperationRecord; before: number }> {
        const op = await this.operator(bakeOverride, stackOverride);
        this.installInterruptHandler();
        const interrupted = this.pendingOperation(op.journal);
        return { op, interrupted, before: op.journal.timeline().length };
    }

    /** Refuses to start while another run holds the stack, and explains an interrupted one. */
    pendingOperation(journal: Journal): OperationRecord | undefined {
        const op = journal.operation();
        if (op && op.pid !== process.pid && isProcessAlive(op.pid)) {
            throw new UsageError(`another sts-canary ${op.kind} is running on this stack (pid ${op.pid})`);
        }
        if (op) this.say(`note: found an interrupted ${op.kind} (started ${op.startedAt}, phase ${op.phase}${op.currentTarget !== undefined ? ` at partition ${op.currentTarget}` : ""})`);
        return op;
    }

    report(outcome: Outcome, startedEntries: number, journal: Journal): number {
        if (this.globals.json) {
            process.stdout.write(JSON.stringify({
                exitCode: outcome.code, message: outcome.message, gates: outcome.gates,
                timeline: journal.timeline().slice(startedEntries),
            }, null, 2) + "\n");
        } else {
            this.say(`${outcome.code === EXIT.ok ? "OK" : `exit ${outcome.code}`}: ${outcome.message}`);
        }
        return outcome.code;
    }
}

export async function main(argv: string[]): Promise<number> {
    const program = new Command("sts-canary")
        .description("Walk a StatefulSet canary forward safely: every step is a stack config change + `pulumi up`, gated by health checks")
        .option("-s, --stack <name>", "stack to operate on (default: the selected stack)")
        .option("-C, --cwd <dir>", "directory of the Pulumi project", process.cwd())
        .option("--json", "machine-readable output on stdout (progress on stderr)")
        .option("--no-platform-env", "do not load .platform/platform.env of the local platform")
        .showHelpAfterError()
        .addHelpText("after", `
Exit codes: 0 ok | 1 error | 2 usage or config error | 3 gate failed, rolled back to stable |
            4 failed and not (fully) rolled back | 5 stopped before the end of the plan |
            6 refused (promote-env: source not fully rolled out and healthy) | 130 interrupted
Gate settings come from stack config: gateReadyTimeoutSeconds, gateBakeSeconds, gateMaxRestarts,
gateCheckPages, gateMetricUrl, gateMetricThreshold, gateMetricComparison.`)
        .exitOverride();

    let code: number = EXIT.ok;
    const cliFor = () => new Cli(program.opts() as GlobalOptions);

    program.command("status")
        .description("partition, stable and canary versions, and every pod's revision, version, readiness and restarts")
        .option("-w, --watch", "refresh until every pod is updated and ready, or Ctrl-C")
        .option("--interval <seconds>", "refresh interval for --watch", integer("--interval"), 2)
        .option("--watch-seconds <seconds>", "stop watching after this long", integer("--watch-seconds"), 600)
        .action(async (options: { watch?: boolean; interval: number; watchSeconds: number }) => {
            const cli = cliFor();
            const { stack, journal } = await cli.open();
            const deadline = Date.now() + options.watchSeconds * 1000;
            for (;;) {
                const status = await collectStatus(stack, journal);
                if (cli.globals.json) process.stdout.write(JSON.stringify(status, null, 2) + "\n");
                else {
                    if (options.watch && process.stdout.isTTY) process.stdout.write("\x1b[2J\x1b[H");
                    process.stdout.write(renderStatus(status) + "\n");
                }
                const settled = status.statefulSet !== undefined && status.ready === status.config.replicas
                    && status.pods.every((p) => !p.terminating) && status.statefulSet.observedGeneration >= status.statefulSet.generation;
                if (!options.watch || settled || Date.now() > deadline) break;
                await new Promise((r) => setTimeout(r, options.interval * 1000));
            }
        });

    program.command("step")
        .description("move the partition one step (or to --to N / by --by K), `pulumi up`, then gate; roll back on failure")
        .option("--to <partition>", "target partition", integer("--to"))
        .option("--by <count>", "lower the partition by this many pods (default 1)", integer("--by"))
        .option("--image-tag <tag>", "also set imageTag (starts a canary of this version)")
        .option("--bake <seconds>", "bake time before judging (default: gateBakeSeconds)", integer("--bake"))
        .option("--no-rollback", "on failure, stop without rolling back")
        .action(async (options: { to?: number; by?: number; imageTag?: string; bake?: number; rollback: boolean }) => {
            const cli = cliFor();
            const { op, interrupted, before } = await cli.beginOperation(options.bake);
            await continueAfter(op, interrupted);
            const status = await deployedStatus(op);
            let target: number;
            let record = undefined;
            if (interrupted && interrupted.currentTarget !== undefined && options.to === undefined && options.by === undefined) {
                target = interrupted.currentTarget;
                record = interrupted.kind === "step" ? { ...interrupted, pid: process.pid } : undefined;
                cli.say(`finishing the interrupted step to partition ${target} first`);
            } else {
                target = stepTarget(status.config.partition, status.config.replicas, { to: options.to, by: options.by });
            }
            const outcome = await step(op, target, { imageTag: options.imageTag, noRollback: !options.rollback, record });
            code = cli.report(outcome, before, op.journal);
        });

    program.command("promote")
        .description("walk a plan of partitions, e.g. --plan 4,3,1,0, gating every step; roll back on failure")
        .requiredOption("--plan <partitions>", "comma-separated, strictly decreasing partitions")
        .option("--image-tag <tag>", "version to promote (default: the stack's imageTag)")
        .addOption(new Option("--pause", "ask for approval before every step after the first (needs a terminal)"))
        .option("--bake <seconds>", "bake time per step (default: gateBakeSeconds)", integer("--bake"))
        .option("--no-rollback", "on failure, stop without rolling back")
        .action(async (options: { plan: string; imageTag?: string; pause?: boolean; bake?: number; rollback: boolean }) => {
            const cli = cliFor();
            const { op, interrupted, before } = await cli.beginOperation(options.bake);
            await continueAfter(op, interrupted);
            const status = await deployedStatus(op);
            const plan = parsePlan(options.plan, status.config.replicas);
            if (options.pause && !process.stdin.isTTY) throw new UsageError("--pause needs an interactive terminal");
            const approve = options.pause ? (next: number) => ask(`continue to partition ${next}? [y/N] `) : undefined;
            const outcome = await promote(op, plan, {
                imageTag: options.imageTag, noRollback: !options.rollback, approve,
                resume: interrupted && interrupted.kind !== "rollback" ? interrupted : undefined,
            });
            code = cli.report(outcome, before, op.journal);
        });

    program.command("rollback")
        .description("revert the template to the stable version, restore the partition, replace pods stuck on the broken revision")
        .option("--reason <text>", "recorded in the timeline", "rollback requested")
        .action(async (options: { reason: string }) => {
            const cli = cliFor();
            const { op, interrupted, before } = await cli.beginOperation();
            const outcome = await rollback(op, options.reason, interrupted ?? undefined);
            code = cli.report(outcome, before, op.journal);
        });

    program.command("promote-env")
        .description("promote the version fully rolled out in --from (pinned by its digest) to --to, as a gated canary at a safe partition")
        .requiredOption("--from <stack>", "source stack, e.g. dev")
        .requiredOption("--to <stack>", "target stack, e.g. prod")
        .option("--partition <n>", "first partition in the target (default: replicas - 1, one canary pod)", integer("--partition"))
        .option("--yes", "apply after showing the preview without asking (required without a terminal)")
        .option("--bake <seconds>", "bake time of the first step (default: the target's gateBakeSeconds)", integer("--bake"))
        .option("--no-rollback", "on failure, stop without rolling back")
        .action(async (options: { from: string; to: string; partition?: number; yes?: boolean; bake?: number; rollback: boolean }) => {
            const cli = cliFor();
            if (options.from === options.to) throw new UsageError("--from and --to must be different stacks");
            const source = await cli.open(options.from);
            const sourceStatus = await collectStatus(source.stack, source.journal);
            const blockers = promotionBlockers(sourceStatus);
            if (blockers.length > 0) throw new RefusedError(`refusing to promote from ${options.from}:\n  - ${blockers.join("\n  - ")}`);
            const version = sourceStatus.stableTag;
            const images = (await source.stack.outputs()).images?.value as Record<string, string> | undefined;
            const ref = images?.[version];
            if (!ref || !/@sha256:[a-f0-9]{64}$/.test(ref)) throw new RefusedError(`stack ${options.from} exports no pinned image for ${version}`);

            const { op, interrupted, before } = await cli.beginOperation(options.bake, options.to);
            await continueAfter(op, interrupted);
            const targetStatus = await deployedStatus(op);
            const plan = await planTargetChange(op.stack, version, ref, options.partition);
            if (targetStatus.deployed?.imageTag === version && targetStatus.deployed.partition === 0 && targetStatus.canaryTag === undefined
                && (await op.stack.outputs()).images?.value?.[version] === ref) {
                code = cli.report({ code: EXIT.ok, gates: [], message: `${options.to} already runs ${version} (${ref}) on every pod` }, before, op.journal);
                return;
            }
            cli.say(`promoting ${version} (${ref}) from ${options.from} to ${options.to}, starting at partition ${plan.partition}`);
            await setConfig(op.stack, plan.config);
            const restore = async () => {
                for (const [key, value] of Object.entries(plan.previous)) {
                    if (value === undefined) await op.stack.removeConfig(`${PROJECT}:${key}`);
                    else await setConfig(op.stack, { [key]: value });
                }
            };
            try {
                const preview = await op.stack.preview({ diff: true, color: "never" });
                cli.say(`--- pulumi preview --diff --stack ${options.to}\n${preview.stdout.trim()}\n---`);
            } catch (err) {
                await restore();
                throw new RefusedError(`the preview of ${options.to} failed, nothing was changed: ${String((err as Error).message).slice(0, 2000)}`);
            }
            const go = options.yes || (process.stdin.isTTY && await ask(`apply to ${options.to}? [y/N] `));
            if (!go) {
                await restore();
                code = cli.report({ code: options.yes || process.stdin.isTTY ? EXIT.stopped : EXIT.usage, gates: [],
                    message: process.stdin.isTTY ? "not applied; the config of the target was restored" : "not applied: pass --yes to apply without a terminal" },
                before, op.journal);
                return;
            }
            op.journal.record("promote-env", `${version} verified in ${options.from} (${ref}) -> ${options.to}`);
            const outcome = await step(op, plan.partition, { imageTag: version, noRollback: !options.rollback });
            code = cli.report(outcome, before, op.journal);
        });

    program.command("timeline")
        .description("what this tool did on the stack, oldest first")
        .option("--limit <n>", "only the last n entries", integer("--limit"))
        .action(async (options: { limit?: number }) => {
            const cli = cliFor();
            const { journal } = await cli.open();
            const entries = journal.timeline(options.limit);
            if (cli.globals.json) process.stdout.write(JSON.stringify(entries, null, 2) + "\n");
            else for (const entry of entries) process.stdout.write(formatEntry(entry) + "\n");
        });

    try {
        await program.parseAsync(argv);
        return code;
    } catch (err) {
        const e = err as Error & { code?: string; exitCode?: number };
        if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EXIT.ok;
        if (e.code?.startsWith("commander.")) return EXIT.usage;
        if (err instanceof RefusedError) {
            process.stderr.write(`error: ${e.message}\n`);
            return EXIT.refused;
        }
        if (err instanceof UsageError || err instanceof PlanError) {
            process.stderr.write(`error: ${e.message}\n`);
            return EXIT.usage;
        }
        if (err instanceof Interrupted) {
            process.stderr.write("interrupted: the operation record is kept; `sts-canary status` explains it and the next step/promote/rollback continues it\n");
            return EXIT.interrupted;
        }
        process.stderr.write(`error: ${e.message}\n`);
        return EXIT.error;
    }
}

/**
 * Before a step, promotion or environment promotion continues after an interrupted run: a
 * rollback must be finished first; otherwise the StatefulSet's state is refreshed (an `up`
 * stopped half-way may have changed the cluster without recording it).
 */
async function continueAfter(op: Operator, interrupted: OperationRecord | undefined): Promise<void> {
    if (!interrupted) return;
    if (interrupted.phase === "rolling-back") throw new UsageError("an interrupted rollback must finish first: run `sts-canary rollback`");
    await refreshStatefulSet(op);
}

function ask(question: string): Promise<boolean> {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    return new Promise((resolve) => rl.question(question, (answer) => {
        rl.close();
        resolve(/^y(es)?$/i.test(answer.trim()));
    }));
}
