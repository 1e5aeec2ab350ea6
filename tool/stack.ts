/**
 * The StackPort on the Pulumi Automation API: the project in a directory and one of its stacks,
 * driven as a user drives it (`pulumi config set`, `pulumi up`), with the CLI's own state backend
 * (PULUMI_BACKEND_URL or `pulumi login`).
 */
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { sanitizeBackendUrl } from "./operation";
import { BackendLock, UpFailed } from "./errors";
import { DeployedUpdate, StackConfig, StackPort } from "./ports";

/** `created by root@host (pid 12) at 2026-11-25T14:00:00Z` lines of a DIY backend's lock error. */
export function parseBackendLocks(text: string): BackendLock[] {
    if (!/the stack is currently locked by/.test(text)) return [];
    // The CLI's error text holds its output twice (stdout and stderr): one entry per lock.
    const locks = new Map<string, BackendLock>();
    for (const match of text.matchAll(/created by (\S+?)@(\S+) \(pid (\d+)\) at (\S+)/g)) {
        locks.set(match[0], { user: match[1], host: match[2], pid: Number(match[3]), createdAt: match[4] });
    }
    return [...locks.values()];
}

/**
 * The cause of a failed `pulumi up`, without the CLI's noise: the rollout check's message when it
 * failed (`rollout of StatefulSet ... failed: pod ...`, with its evidence lines), else the error lines.
 */
export function upFailureCause(text: string): string {
    const lines = text.split("\n").map((l) => l.replace(/\s+$/, ""));
    // The full message is in the Diagnostics section (the progress lines show only its first line).
    const diagnostics = lines.findIndex((l) => l.trim() === "Diagnostics:");
    const start = lines.findIndex((l, i) => i > diagnostics && /rollout of StatefulSet .* failed/.test(l));
    if (start >= 0) {
        const out = [lines[start].replace(/^.*?(rollout of StatefulSet)/, "$1")];
        for (const line of lines.slice(start + 1, start + 40)) {
            if (line.trim() === "" || !/^\s{2,}\S/.test(line)) break;
            out.push(line.trim());
        }
        return out.join("\n");
    }
    if (/the stack is currently locked by/.test(text)) {
        const at = lines.findIndex((l) => /the stack is currently locked by/.test(l));
        return lines.slice(at, at + 4).map((l) => l.trim().replace(/^error: /, "")).join(" ");
    }
    const errors = lines.filter((l) => /\berror: /i.test(l)).map((l) => l.trim().replace(/^.*?\berror: /i, "error: "))
        .filter((l) => !/^error: (update|preview) failed$/.test(l));
    return ([...new Set(errors)].slice(-3).join(" | ") || text.trim().split("\n").slice(-3).join(" | ")).slice(0, 1500);
}

/**
 * A read of the state (config, outputs) retried a few times when it caught the checkpoint while
 * another process wrote it: the file backend writes it in place ("failed to load checkpoint: EOF").
 */
async function reading<T>(read: () => Promise<T>, attempts = 4): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await read();
        } catch (err) {
            if (attempt >= attempts || !/failed to load checkpoint|unexpected end of JSON input/i.test(String((err as Error).message))) throw err;
            await new Promise((r) => setTimeout(r, 500 * attempt));
        }
    }
}

export class AutomationStack implements StackPort {
    private constructor(private readonly stack: Stack, readonly project: string, readonly backend: string) {}

    get name(): string {
        return this.stack.name;
    }

    /** The stack `stackName` of the project in `workDir` (which must exist). */
    static async open(workDir: string, stackName: string): Promise<AutomationStack> {
        const dir = path.resolve(workDir);
        const stack = await LocalWorkspace.selectStack({ stackName, workDir: dir });
        const project = (await stack.workspace.projectSettings()).name;
        const who = await stack.workspace.whoAmI().catch(() => undefined);
        const backend = sanitizeBackendUrl(who?.url ?? process.env.PULUMI_BACKEND_URL ?? "(the CLI's login)");
        return new AutomationStack(stack, project, backend);
    }

    /** The selected stack of the project in `workDir`, if any. */
    static async selected(workDir: string): Promise<string | undefined> {
        const workspace = await LocalWorkspace.create({ workDir: path.resolve(workDir) });
        return (await workspace.stack())?.name;
    }

    async getConfig(): Promise<StackConfig> {
        // `pulumi config --json --show-secrets`: objectValue is kept for structured values.
        return (await reading(() => this.stack.getAllConfig())) as StackConfig;
    }

    async setConfig(values: StackConfig): Promise<void> {
        if (Object.keys(values).length === 0) return;
        const json: Record<string, { value: string; objectValue?: unknown; secret: boolean }> = {};
        for (const [key, entry] of Object.entries(values)) {
            json[key] = entry.objectValue !== undefined ? { value: entry.value, objectValue: entry.objectValue, secret: entry.secret } : { value: entry.value, secret: entry.secret };
        }
        await this.stack.setAllConfigJson(JSON.stringify(json));
    }

    async removeConfig(keys: string[]): Promise<void> {
        if (keys.length > 0) await this.stack.removeAllConfig(keys);
    }

    private failure(err: unknown, signal?: AbortSignal): UpFailed {
        const text = String((err as Error)?.message ?? err);
        return new UpFailed(signal?.aborted ? "interrupted" : upFailureCause(text), parseBackendLocks(text), signal?.aborted ?? false);
    }

    async up(options: { signal?: AbortSignal; onOutput?: (text: string) => void; message?: string; policyPacks?: string[] }): Promise<{ seconds: number }> {
        const started = Date.now();
        try {
            await this.stack.up({
                signal: options.signal, onOutput: options.onOutput, color: "never", message: options.message,
                policyPacks: options.policyPacks?.length ? options.policyPacks : undefined,
            });
        } catch (err) {
            throw this.failure(err, options.signal);
        }
        return { seconds: (Date.now() - started) / 1000 };
    }

    async lastDeployedConfig(): Promise<DeployedUpdate | undefined> {
        // Newest first, a page at a time: the answer is nearly always on the first page.
        const pageSize = 20;
        for (let page = 1; ; page++) {
            // Without secrets: the deploy compares plain keys, and old updates may be encrypted with another key.
            const updates = await reading(() => this.stack.history(pageSize, page, false));
            for (const update of updates) {
                if (update.result !== "succeeded") continue;
                // After a destroy the stack runs nothing: like a stack never updated.
                if (update.kind === "destroy") return undefined;
                if (update.kind !== "update") continue;
                const config: StackConfig = {};
                for (const [key, entry] of Object.entries(update.config ?? {})) {
                    const e = entry as { value?: string; objectValue?: unknown; secret?: boolean };
                    config[key] = { value: e.value ?? "", ...(e.objectValue !== undefined ? { objectValue: e.objectValue } : {}), secret: e.secret ?? false };
                }
                return { message: update.message ?? "", config };
            }
            if (updates.length < pageSize) return undefined;
        }
    }

    async preview(): Promise<string> {
        return (await this.stack.preview({ diff: true, color: "never" })).stdout;
    }

    async outputs(): Promise<Record<string, unknown>> {
        const outputs = await reading(() => this.stack.outputs());
        return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
    }

    async refreshWorkload(): Promise<void> {
        try {
            const deployment = (await this.stack.exportStack()).deployment as { resources?: { urn: string; type: string }[] };
            const urns = (deployment.resources ?? []).filter((r) => r.type === "kubernetes:apps/v1:StatefulSet").map((r) => r.urn);
            if (urns.length === 0) return;
            await this.stack.refresh({ target: urns, color: "never", clearPendingCreates: true });
        } catch (err) {
            throw this.failure(err);
        }
    }

    async cancelBackendLock(): Promise<void> {
        await this.stack.cancel();
    }
}
