/**
 * A dynamic resource that builds an image with the Docker CLI against the local Docker Engine
 * and pushes it to an authenticated registry, returning the pushed manifest digest.
 *
 * It exists for machines where the @pulumi/docker provider plugin cannot be installed (the
 * local platform of this repo: the plugin is neither downloadable nor buildable from the Go
 * module proxy there). It is diffed on a hash of the build context, image name and base image,
 * so an unchanged source is never rebuilt or re-pushed. Like @pulumi/docker's Image, deleting
 * the resource leaves the pushed tag in the registry, because pods below the partition may
 * still run it.
 */
import * as pulumi from "@pulumi/pulumi";

export interface DockerCliImageInputs {
    /** `<registry>/<project>/<repository>:<tag>` */
    imageName: pulumi.Input<string>;
    /** Build context as file name -> content (written to a temporary directory), or... */
    files?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** ...a directory on this machine. */
    contextDir?: pulumi.Input<string>;
    /** Dockerfile relative to the context (default Dockerfile). */
    dockerfile?: pulumi.Input<string>;
    /** Build stage to stop at. */
    target?: pulumi.Input<string>;
    /** Hash of the context and its settings; a change triggers a rebuild. */
    contextHash: pulumi.Input<string>;
    /** Build arguments, e.g. the base image. */
    buildArgs: pulumi.Input<Record<string, pulumi.Input<string>>>;
    registryServer: pulumi.Input<string>;
    registryUsername: pulumi.Input<string>;
    registryPassword: pulumi.Input<string>;
}

interface ProviderInputs {
    imageName: string;
    files?: Record<string, string>;
    contextDir?: string;
    dockerfile?: string;
    target?: string;
    contextHash: string;
    buildArgs: Record<string, string>;
    registryServer: string;
    registryUsername: string;
    registryPassword: string;
}

interface ProviderOutputs {
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

// Everything the provider does at deploy time lives inside this object: Pulumi serializes it
// into the state, so it must not capture module-level values other than Node built-ins.
const dockerCliImageProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: ProviderOutputs, news: ProviderInputs): Promise<pulumi.dynamic.DiffResult> {
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

    async create(inputs: ProviderInputs): Promise<pulumi.dynamic.CreateResult> {
        const outs = await buildAndPush(inputs);
        return { id: inputs.imageName, outs };
    },

    async update(_id: string, _olds: ProviderOutputs, news: ProviderInputs): Promise<pulumi.dynamic.UpdateResult> {
        return { outs: await buildAndPush(news) };
    },

    async delete(): Promise<void> {
        // Keep the tag in the registry: pods pinned to its digest may still run it.
    },
};

async function buildAndPush(inputs: ProviderInputs): Promise<ProviderOutputs> {
    const childProcess = require("child_process") as typeof import("child_process");
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const path = require("path") as typeof import("path");

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

export class DockerCliImage extends pulumi.dynamic.Resource {
    // `declare`: the base constructor assigns these; a class field would reset them to undefined.
    declare public readonly imageName: pulumi.Output<string>;
    declare public readonly digest: pulumi.Output<string>;
    declare public readonly repoDigest: pulumi.Output<string>;

    constructor(name: string, args: DockerCliImageInputs, opts?: pulumi.CustomResourceOptions) {
        super(dockerCliImageProvider, name, { ...args, digest: undefined, repoDigest: undefined }, opts, "sts-canary", "DockerCliImage");
    }
}
