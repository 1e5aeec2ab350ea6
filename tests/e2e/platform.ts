/**
 * What the e2e tests need to reach the local platform (started by `platform/up.sh`): the
 * environment file it writes, a stack on the local file backend, and small polling helpers.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { openStack, setConfig } from "../../components/cli/stack";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const STATE_DIR = process.env.STS_CANARY_STATE ?? path.join(REPO_ROOT, ".platform");

/** KEY=VALUE lines of `$STATE/platform.env`, applied to process.env so kubectl/pulumi find them. */
export function loadPlatformEnv(): Record<string, string> {
    const file = path.join(STATE_DIR, "platform.env");
    if (!fs.existsSync(file)) {
        throw new Error(`${file} is missing: start the local platform first (platform/up.sh, or npm run test:e2e)`);
    }
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
        if (match) env[match[1]] = match[2].replace(/^"(.*)"$/, "$1");
    }
    Object.assign(process.env, env);
    return env;
}

/** Creates (or selects) a stack of this project on the local platform with base settings. */
export async function localStack(stackName: string, settings: Record<string, string | string[]>): Promise<Stack> {
    const env = loadPlatformEnv();
    const stack = await openStack({ stackName, workDir: REPO_ROOT, envVars: env }, true);
    await setConfig(stack, {
        registryServer: env.STS_CANARY_REGISTRY,
        registryUsername: env.STS_CANARY_REGISTRY_USER,
        registryPassword: env.STS_CANARY_REGISTRY_PASSWORD,
        baseImage: env.STS_CANARY_BASE_IMAGE,
        imageBuilder: "docker-cli",
        "kubernetes:kubeconfig": env.KUBECONFIG,
        ...settings,
    }, ["registryPassword"]);
    return stack;
}

export function run(command: string, args: string[], timeoutMs = 300_000): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, cwd: REPO_ROOT }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr || err.message}`));
            else resolve(stdout);
        });
    });
}

/** Polls `check` once a second until it returns a value or `timeoutMs` passes. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await check();
            if (value !== undefined) return value;
        } catch (err) {
            lastError = err;
        }
        await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** Manifest pushes recorded in the registry's access log so far. */
export async function registryManifestPushes(): Promise<number> {
    const out = await run(path.join(REPO_ROOT, "platform/registry.sh"), ["pushes"]);
    return Number(out.trim());
}
