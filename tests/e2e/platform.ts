/**
 * What the e2e tests need to reach the local platform (started by `platform/up.sh`): the
 * environment file it writes, a stack on the local file backend, and small polling helpers.
 */
import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { readEnvFile } from "../../tool/envfile";
import { kubectl } from "./kubectl";
import { openStack, setConfig } from "./stack";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const STATE_DIR = process.env.STS_CANARY_STATE ?? path.join(REPO_ROOT, ".platform");

/** KEY=VALUE lines of `$STATE/platform.env`, applied to process.env so kubectl/pulumi find them. */
export function loadPlatformEnv(): Record<string, string> {
    const file = path.join(STATE_DIR, "platform.env");
    if (!fs.existsSync(file)) {
        throw new Error(`${file} is missing: start the local platform first (platform/up.sh, or npm run test:e2e)`);
    }
    const env = readEnvFile(file);
    Object.assign(process.env, env);
    return env;
}

/** The stack settings every stack on the local platform needs: its registry and accounts, base image and cluster. */
export function platformSettings(env: Record<string, string>): Record<string, string> {
    return {
        registryServer: env.STS_CANARY_REGISTRY,
        registryUsername: env.STS_CANARY_REGISTRY_USER,
        registryPassword: env.STS_CANARY_REGISTRY_PASSWORD,
        // The pods pull with the platform's pull-only robot account, never the pushing one.
        pullUsername: env.STS_CANARY_PULL_USER,
        pullPassword: env.STS_CANARY_PULL_PASSWORD,
        baseImage: env.STS_CANARY_BASE_IMAGE,
        imageBuilder: "docker-cli",
        "kubernetes:kubeconfig": env.KUBECONFIG,
    };
}

/** The keys of platformSettings that are secrets (set with --secret, never committed). */
export const PLATFORM_SECRET_KEYS = ["registryPassword", "pullPassword"];

/** platformSettings split into what a stack file may hold and the secrets (CI sets them). */
export function platformSettingsSplit(env: Record<string, string>): { plain: Record<string, string>; secrets: Record<string, string> } {
    const entries = Object.entries(platformSettings(env));
    return {
        plain: Object.fromEntries(entries.filter(([key]) => !PLATFORM_SECRET_KEYS.includes(key))),
        secrets: Object.fromEntries(entries.filter(([key]) => PLATFORM_SECRET_KEYS.includes(key))),
    };
}

/** Creates (or selects) a stack of this project on the local platform with base settings. */
export async function localStack(stackName: string, settings: Record<string, string | string[]>, secretKeys: string[] = []): Promise<Stack> {
    const env = loadPlatformEnv();
    const stack = await openStack({ stackName, workDir: REPO_ROOT, envVars: env }, true);
    await setConfig(stack, { ...platformSettings(env), ...settings }, [...PLATFORM_SECRET_KEYS, ...secretKeys]);
    return stack;
}

/**
 * Removes a stack's state without touching the cluster: for a stack an interrupted run left behind
 * whose resources all lived in a namespace already deleted, and whose credentials may be gone.
 */
export async function forgetStack(stackName: string): Promise<void> {
    const workspace = await LocalWorkspace.create({ workDir: REPO_ROOT, envVars: loadPlatformEnv() });
    const stacks = await workspace.listStacks();
    if (stacks.some((s) => s.name === stackName)) await workspace.removeStack(stackName, { force: true });
}

/**
 * Deletes namespaces and waits until they are gone. The component keeps a namespace it created
 * when the stack is destroyed (volumes are never deleted unasked), so a suite starts and ends by
 * removing its own: pods, claims and the tool's operation records of an earlier run stay out.
 */
export async function deleteNamespaces(...names: string[]): Promise<void> {
    for (const name of names) {
        await kubectl(["delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=180s"], 200_000);
    }
}

export function run(command: string, args: string[], timeoutMs = 300_000): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, cwd: REPO_ROOT }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${command} ${args.join(" ")} failed: ${[stdout, stderr].filter((t) => t.trim()).join("\n") || err.message}`));
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

export interface CliOptions {
    timeoutMs?: number;
    onSpawn?: (pid: number) => void;
    /** Project directory to run in (default: the repository). */
    cwd?: string;
    /** Environment of the tool (default: this process's). */
    env?: NodeJS.ProcessEnv;
    /** In its own process group, so that `process.kill(-pid)` ends it and every child (pulumi, providers). */
    detached?: boolean;
    /** Called with every chunk it prints (stdout and stderr). */
    onOutput?: (text: string) => void;
}

export interface CliResult { code: number; stdout: string; stderr: string; seconds: number }

/** Runs the sts-canary CLI (tool/bin/sts-canary.js, the compiled tool) as a user would; resolves with its exit code and output. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
    const bin = path.join(REPO_ROOT, "tool", "bin", "sts-canary.js");
    const started = Date.now();
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [bin, ...args], {
            cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"], detached: options.detached ?? false,
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); options.onOutput?.(d.toString()); });
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); options.onOutput?.(d.toString()); });
        const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 900_000);
        if (child.pid) options.onSpawn?.(child.pid);
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal === "SIGKILL" ? 137 : 1), stdout, stderr, seconds: (Date.now() - started) / 1000 });
        });
    });
}

/**
 * Builds an image from a Dockerfile text on the local base image and pushes it to the local
 * registry as `library/version-test:<tag>`; returns the pinned reference. Used to make releases
 * the program does not build itself (a broken one, for instance).
 */
export async function pushTestImage(tag: string, dockerfile: string, files: Record<string, string> = {}): Promise<string> {
    const env = loadPlatformEnv();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-e2e-image-"));
    const config = path.join(dir, "docker-config");
    fs.mkdirSync(config);
    try {
        fs.writeFileSync(path.join(dir, "Dockerfile"), dockerfile.replace("BASE", env.STS_CANARY_BASE_IMAGE));
        for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
        const image = `${env.STS_CANARY_REGISTRY}/library/version-test:${tag}`;
        const docker = (args: string[], input?: string) => new Promise<string>((resolve, reject) => {
            const child = spawn("docker", ["--config", config, ...args], { stdio: ["pipe", "pipe", "pipe"] });
            let out = "";
            child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
            child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
            child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args[0]} failed: ${out}`))));
            child.stdin.end(input ?? "");
        });
        await docker(["login", env.STS_CANARY_REGISTRY, "--username", env.STS_CANARY_REGISTRY_USER, "--password-stdin"], env.STS_CANARY_REGISTRY_PASSWORD);
        await docker(["build", "--tag", image, dir]);
        const pushed = await docker(["push", image]);
        const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed)?.[1];
        if (!digest) throw new Error(`no digest in: ${pushed}`);
        return `${image}@${digest}`;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
