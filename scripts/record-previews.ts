/**
 * Records the fixtures of the preview report's tests (tests/unit/fixtures/previews) from real
 * previews on the local platform: a stack `fixture-review` in a namespace of its own, deployed on
 * v1, then previewed with the policy pack three times: `same` (no change), `step` (imageTag v2,
 * partition 2) and `bad` (partition 9, which the program refuses). Each writes
 * `<name>.events.json` (the engine events, debug diagnostics dropped) and `<name>.diff.txt` (what
 * `preview --diff` printed); `bad` also `bad.error.txt` (the CLI's error). The platform's secret
 * values are replaced by `fixture-secret` before anything is written. The stack is destroyed and
 * removed, and its namespace deleted, at the end. The program runs compiled (as `pulumi up` runs
 * it) from a temporary copy of the project, so the shared tree's dist/ and stack files stay untouched.
 *
 *   set -a; source .platform/platform.env; set +a
 *   npx ts-node --transpile-only scripts/record-previews.ts
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { withoutDebug } from "../tool/review/preview";
import { PLATFORM_SECRET_KEYS, REPO_ROOT, deleteNamespaces, loadPlatformEnv, platformSettings } from "../tests/e2e/platform";
import { openStack, setConfig } from "../tests/e2e/stack";

const STACK = "fixture-review";
const NAMESPACE = "fixture-review";
const OUT = path.join(REPO_ROOT, "tests/unit/fixtures/previews");
const POLICY_PACK = path.join(REPO_ROOT, "policy");
const BASE = { imageTag: "v1", partition: "0" };
const log = (line: string) => console.log(line);

/** Values of the platform's environment that are credentials. */
function secretsOf(env: Record<string, string>): string[] {
    return Object.entries(env).filter(([key, value]) => /PASSWORD|PASSPHRASE|TOKEN|SECRET/i.test(key) && value.length >= 4).map(([, value]) => value);
}

function scrub(text: string, secrets: string[]): string {
    let out = text;
    for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
        out = out.split(secret).join("fixture-secret").split(JSON.stringify(secret).slice(1, -1)).join("fixture-secret");
    }
    return out;
}

async function record(stack: Stack, name: string, settings: Record<string, string>, secrets: string[]): Promise<void> {
    await setConfig(stack, settings);
    const events: EngineEvent[] = [];
    let stdout = "";
    let error: string | undefined;
    try {
        // What the CLI prints, as it prints it: a failed preview's error holds it only mixed with stderr.
        await stack.preview({ diff: true, color: "never", policyPacks: [POLICY_PACK], onEvent: (e) => events.push(e), onOutput: (out) => { stdout += out; } });
    } catch (err) {
        error = String((err as Error).message);
    } finally {
        await setConfig(stack, BASE);
    }
    const write = (file: string, text: string) => fs.writeFileSync(path.join(OUT, file), scrub(text, secrets));
    write(`${name}.events.json`, JSON.stringify(withoutDebug(events), null, 1) + "\n");
    write(`${name}.diff.txt`, stdout);
    if (error !== undefined) write(`${name}.error.txt`, error);
    log(`${name}: ${events.length} events${error ? ", failed" : ""}`);
}

/** A copy of the project with the program compiled into its dist/ (node_modules: the repository's). */
function projectCopy(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-fixture-review-"));
    for (const file of ["Pulumi.yaml", "package.json"]) fs.copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", path.join(dir, "dist")], { cwd: REPO_ROOT, stdio: "inherit" });
    return dir;
}

/** The stack as tests/e2e/platform.ts `localStack` makes it, in the project copy. */
async function fixtureStack(workDir: string, env: Record<string, string>): Promise<Stack> {
    const stack = await openStack({ stackName: STACK, workDir, envVars: env }, true);
    await setConfig(stack, {
        ...platformSettings(env),
        namespace: NAMESPACE, appName: "web", nodePort: "30120", replicas: "3", versions: ["v1", "v2"], bakeSeconds: "2", rolloutTimeoutSeconds: "300", ...BASE,
    }, PLATFORM_SECRET_KEYS);
    return stack;
}

async function main(): Promise<void> {
    const env = loadPlatformEnv();
    const secrets = secretsOf(env);
    fs.mkdirSync(OUT, { recursive: true });
    const workDir = projectCopy();
    const stack = await fixtureStack(workDir, env);
    try {
        const up = await stack.up({ color: "never" });
        log(`up v1: ${up.summary.result} ${JSON.stringify(up.summary.resourceChanges)}`);
        await record(stack, "same", {}, secrets);
        await record(stack, "step", { imageTag: "v2", partition: "2" }, secrets);
        await record(stack, "bad", { partition: "9" }, secrets);
    } finally {
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(STACK);
        await deleteNamespaces(NAMESPACE);
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
