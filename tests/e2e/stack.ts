/**
 * Automation API helpers of the tests and the benchmark: open a stack of a project, set its config
 * the way `pulumi config set` does, time an `up`.
 */
import * as path from "path";
import { LocalWorkspace, Stack, UpResult, PreviewResult } from "@pulumi/pulumi/automation";

export const PROJECT = "sts-canary";

export interface StackTarget {
    stackName: string;
    /** Directory of the Pulumi project (Pulumi.yaml); default: current directory. */
    workDir?: string;
    /** Extra environment for the CLI and program (backend URL, passphrase, kubeconfig...). */
    envVars?: Record<string, string>;
}

export async function openStack(target: StackTarget, create = false): Promise<Stack> {
    const workDir = path.resolve(target.workDir ?? process.cwd());
    const args = { stackName: target.stackName, workDir };
    const opts = { envVars: target.envVars ?? {} };
    return create ? LocalWorkspace.createOrSelectStack(args, opts) : LocalWorkspace.selectStack(args, opts);
}

/**
 * Sets config keys (project keys without the `sts-canary:` prefix) in one CLI call; arrays are
 * stored as structured values, as the typed `versions` key requires, and secret values stay
 * encrypted in the stack file.
 */
export async function setConfig(stack: Stack, values: Record<string, string | string[]>, secretKeys: string[] = []): Promise<void> {
    const config: Record<string, { value: string; objectValue?: string[]; secret: boolean }> = {};
    for (const [key, value] of Object.entries(values)) {
        const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
        const secret = secretKeys.includes(key);
        config[fullKey] = Array.isArray(value) ? { value: JSON.stringify(value), objectValue: value, secret } : { value, secret };
    }
    if (Object.keys(config).length > 0) await stack.setAllConfigJson(JSON.stringify(config));
}

export async function getConfigValue(stack: Stack, key: string): Promise<string | undefined> {
    const all = await stack.getAllConfig();
    return all[key.includes(":") ? key : `${PROJECT}:${key}`]?.value;
}

export interface TimedUp { result: UpResult; seconds: number }

export async function timedUp(stack: Stack, onOutput?: (line: string) => void): Promise<TimedUp> {
    const started = Date.now();
    const result = await stack.up({ onOutput, color: "never" });
    return { result, seconds: (Date.now() - started) / 1000 };
}

/** `up` that must fail: the error text and how long it took (asserts that it failed). */
export async function failingUp(stack: Stack, settings: Record<string, string | string[]>, what: string,
    log: (line: string) => void): Promise<{ message: string; seconds: number }> {
    await setConfig(stack, settings);
    const started = Date.now();
    const error = await stack.up({ color: "never" }).then(() => undefined, (err: Error) => err);
    const seconds = (Date.now() - started) / 1000;
    if (!error) throw new Error(`${what}: pulumi up succeeded`);
    log(`${what}: pulumi up failed after ${seconds.toFixed(1)}s`);
    return { message: String(error.message), seconds };
}

export async function preview(stack: Stack, onOutput?: (line: string) => void): Promise<PreviewResult> {
    return stack.preview({ onOutput, color: "never", diff: true });
}
