/**
 * The DockerCliImage's dynamic provider (compiled to dist/images/docker-cli-provider.js and loaded
 * by path in Pulumi's dynamic-provider host): build with the Docker CLI against the local Docker
 * Engine, push to an authenticated registry with a private client config, return the digest.
 * Diffed on a hash of the build context and its settings, so an unchanged source is never
 * rebuilt or re-pushed; deleting keeps the pushed tag (pods pinned to it may still run it).
 */
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** What the DockerCliImage resource sends (docker-cli-image.ts takes the same fields as Inputs). */
export interface ProviderInputs {
    /** `<registry>/<project>/<repository>:<tag>` */
    imageName: string;
    /** Build context as file name -> content (written to a temporary directory), or... */
    files?: Record<string, string>;
    /** ...a directory on this machine. */
    contextDir?: string;
    /** Dockerfile relative to the context (default Dockerfile). */
    dockerfile?: string;
    /** Build stage to stop at. */
    target?: string;
    /** Hash of the context and its settings; a change triggers a rebuild. */
    contextHash: string;
    /** Build arguments, e.g. the base image. */
    buildArgs: Record<string, string>;
    registryServer: string;
    registryUsername: string;
    /** Keep it a secret. */
    registryPassword: string;
}

export interface ProviderOutputs {
    imageName: string;
    contextHash: string;
    dockerfile?: string;
    target?: string;
    buildArgs: Record<string, string>;
    registryServer: string;
    /** `sha256:...` of the pushed manifest. */
    digest: string;
    /** `<repository>@sha256:...` */
    repoDigest: string;
}

/** What the dynamic-provider host calls (see ../dynamic.ts). */
export const provider = {
    async diff(_id: string, olds: ProviderOutputs, news: ProviderInputs): Promise<{ changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }> {
        const changed: string[] = [];
        if (olds.imageName !== news.imageName) changed.push("imageName");
        if (olds.contextHash !== news.contextHash) changed.push("contextHash");
        if (olds.registryServer !== news.registryServer) changed.push("registryServer");
        if (JSON.stringify(olds.buildArgs ?? {}) !== JSON.stringify(news.buildArgs ?? {})) changed.push("buildArgs");
        if ((olds.dockerfile ?? "") !== (news.dockerfile ?? "")) changed.push("dockerfile");
        if ((olds.target ?? "") !== (news.target ?? "")) changed.push("target");
        // A digest missing from the state means the last push never completed: push again.
        if (!olds.digest) changed.push("digest");
        return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
    },

    async create(inputs: ProviderInputs): Promise<{ id: string; outs: ProviderOutputs }> {
        const outs = await buildAndPush(inputs);
        return { id: inputs.imageName, outs };
    },

    async update(_id: string, _olds: ProviderOutputs, news: ProviderInputs): Promise<{ outs: ProviderOutputs }> {
        return { outs: await buildAndPush(news) };
    },

    async delete(): Promise<void> {
        // Keep the tag in the registry: pods pinned to its digest may still run it.
    },
};

async function buildAndPush(inputs: ProviderInputs): Promise<ProviderOutputs> {
    const run = (args: string[], options: { input?: string; timeoutMs: number; env: NodeJS.ProcessEnv }) =>
        new Promise<string>((resolve, reject) => {
            const child = childProcess.spawn("docker", args, { env: options.env, stdio: ["pipe", "pipe", "pipe"] });
            let output = "";
            const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
            child.stdout.on("data", (chunk: Buffer) => { output += chunk.toString(); });
            child.stderr.on("data", (chunk: Buffer) => { output += chunk.toString(); });
            child.on("error", (err) => { clearTimeout(timer); reject(new Error(`docker ${args[2] ?? args[0]}: ${err.message}`)); });
            child.on("close", (code, signal) => {
                clearTimeout(timer);
                if (code === 0) return resolve(output);
                const tail = output.trim().split("\n").slice(-15).join("\n");
                const how = signal ? `was killed (${signal}) after ${options.timeoutMs / 1000}s` : `exited with ${code}`;
                reject(new Error(`docker ${args.slice(2).join(" ")} ${how}:\n${tail}`));
            });
            child.stdin.end(options.input ?? "");
        });

    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-image-"));
    const contextDir = path.join(workDir, "context");
    const configDir = path.join(workDir, "docker-config");
    fs.mkdirSync(contextDir);
    fs.mkdirSync(configDir);
    // A private client config keeps the registry login out of the user's ~/.docker.
    const env = { ...process.env, DOCKER_CONFIG: configDir };
    const base = ["--config", configDir];
    try {
        for (const [name, content] of Object.entries(inputs.files ?? {})) {
            fs.writeFileSync(path.join(contextDir, name), content);
        }
        const context = inputs.contextDir ?? contextDir;
        const dockerfile = ["--file", path.join(context, inputs.dockerfile ?? "Dockerfile")];
        const target = inputs.target ? ["--target", inputs.target] : [];
        await run([...base, "login", inputs.registryServer, "--username", inputs.registryUsername, "--password-stdin"],
            { input: inputs.registryPassword, timeoutMs: 60_000, env });
        const buildArgs = Object.entries(inputs.buildArgs ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
        await run([...base, "build", "--tag", inputs.imageName, ...dockerfile, ...target, ...buildArgs, context], { timeoutMs: 900_000, env });
        const pushed = await run([...base, "push", inputs.imageName], { timeoutMs: 600_000, env });
        const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed)?.[1];
        if (!digest) throw new Error(`docker push ${inputs.imageName} printed no digest:\n${pushed}`);
        const repository = inputs.imageName.replace(/:[^:/]+$/, "");
        return {
            imageName: inputs.imageName,
            contextHash: inputs.contextHash,
            // Absent, not undefined: the provider protocol has no undefined.
            ...(inputs.dockerfile !== undefined ? { dockerfile: inputs.dockerfile } : {}),
            ...(inputs.target !== undefined ? { target: inputs.target } : {}),
            buildArgs: inputs.buildArgs ?? {},
            registryServer: inputs.registryServer,
            digest,
            repoDigest: `${repository}@${digest}`,
        };
    } finally {
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

