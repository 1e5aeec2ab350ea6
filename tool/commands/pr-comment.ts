/**
 * `sts-canary pr-comment <stacks...>`: what a pull request's CI job runs. Previews each stack with
 * the policy pack (the PR's own program and config) and writes one comment per stack on the pull
 * request, edited on every push: the step in words first, the diff folded last (review/render.ts).
 */
import * as path from "path";
import { Command } from "commander";
import { EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import { EXIT } from "../errors";
import { CREDENTIAL_VARIABLES, forgeTarget, pullRequestNumber } from "../forge/context";
import { ForgePort, OctokitForge, upsertComment } from "../forge/forge";
import { collectPreview, PreviewReport } from "../review/preview";
import { markerOf, renderComment } from "../review/render";
import { CommandHost } from "./common";

interface Options {
    policyPack: string[];
    print?: boolean;
}

export function register(program: Command, host: CommandHost): void {
    program.command("pr-comment")
        .description("preview each stack (with the policy packs) and write one comment per stack on the pull request, edited on every push; "
            + "forge, repository, PR and token from the CI variables (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH or STS_CANARY_PR, "
            + "STS_CANARY_FORGE_TOKEN or GITHUB_TOKEN). Exit 1 when a preview failed (its comment shows why)")
        .argument("<stacks...>", "stacks to preview, e.g. dev prod")
        .option("--policy-pack <dir>", "policy pack to run with each preview (repeatable)", (v: string, all: string[]) => [...all, v], [])
        .option("--print", "print the comments instead of writing them (no forge needed)")
        .action(async (stacks: string[], options: Options) => {
            const session = host.session();
            session.prepare();
            // Forge, PR and token are checked before any preview runs: a misconfigured job fails at once.
            const forge = options.print ? undefined : openForge();
            const failed: string[] = [];
            for (const stack of stacks) {
                const report = await previewStack(session.workDir, stack, options.policyPack.map((p) => path.resolve(p)));
                const body = renderComment(report.report, { secrets: report.secrets });
                if (forge) {
                    const written = await upsertComment(forge.forge, forge.pr, markerOf(report.report.project, stack), body);
                    session.say(`${stack}: comment ${written.id} ${written.action} on pull request #${forge.pr}${report.report.ok ? "" : " (the preview failed)"}`);
                } else {
                    process.stdout.write(body + "\n");
                }
                if (!report.report.ok) failed.push(stack);
            }
            if (failed.length > 0) {
                process.stderr.write(`error: the preview of ${failed.join(", ")} failed; the comment shows why\n`);
                host.exit(EXIT.error);
            }
        });
}

/** The forge client and PR number; the token is then removed from the environment the PR's code runs in. */
function openForge(): { forge: ForgePort; pr: number } {
    const target = forgeTarget(process.env);
    const pr = pullRequestNumber(process.env);
    // The previews run the pull request's own program and policy pack: they never see the token.
    for (const name of CREDENTIAL_VARIABLES) delete process.env[name];
    return { forge: new OctokitForge(target), pr };
}

/**
 * One stack's preview as a report, and the stack's secret values (hidden in the comment). The
 * config is read before the preview, and a stack whose config cannot be read fails closed: no
 * comment is written without knowing what to hide.
 */
async function previewStack(workDir: string, stackName: string, policyPacks: string[]): Promise<{ report: PreviewReport; secrets: string[] }> {
    const stack = await LocalWorkspace.selectStack({ stackName, workDir });
    const project = (await stack.workspace.projectSettings()).name;
    const config = await stack.getAllConfig();
    const secrets = Object.values(config).filter((entry) => entry.secret).map((entry) => entry.value);
    const events: EngineEvent[] = [];
    let diff = "";
    let error: string | undefined;
    try {
        diff = (await stack.preview({ diff: true, color: "never", policyPacks, onEvent: (event) => events.push(event) })).stdout;
    } catch (err) {
        error = String((err as Error).message ?? err);
    }
    return { report: collectPreview({ stack: stackName, project, events, diff, error }), secrets };
}
