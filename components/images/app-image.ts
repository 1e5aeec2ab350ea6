/**
 * One version's image, built and pushed: from a Docker build context of the user's, or from the
 * built-in version page. Exposes the pinned reference (`<repo>:<version>@sha256:...`) pods run.
 * Both builders rebuild only when the context (or its settings) changes.
 */
import * as fs from "fs";
import * as path from "path";
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DockerBuildArgs, VersionPageArgs } from "../args";
import { DEFAULTS } from "../options";
import { hashBuildContext } from "./build-context";
import { DockerCliImage } from "./docker-cli-image";
import { digestOf, pinnedReference } from "./reference";
import { BASE_IMAGE_ARG, buildContextFiles, contextHash } from "./version-page";

export interface AppImageArgs {
    /** Image tag and version name, e.g. "v2". */
    version: string;
    /** A build context of the user's, or... */
    build?: DockerBuildArgs;
    /** ...the built-in version page. */
    versionPage?: VersionPageArgs;
    /** `<registry>/<repository path>`, e.g. harbor.example.com/library/version-test. */
    repository: string;
    registryServer: string;
    registryUsername: pulumi.Input<string>;
    /** Registry password; keep it a secret. */
    registryPassword: pulumi.Input<string>;
    /** "pulumi-docker" (the @pulumi/docker provider, default) or "docker-cli" (local Docker CLI). */
    builder?: string;
    /** Where version-page contexts are written for the pulumi-docker builder (default `.build/images`). */
    buildDirectory?: string;
}

interface Context {
    dir?: string;
    files?: Record<string, string>;
    dockerfile: string;
    target?: string;
    args: Record<string, string>;
    hash: string;
}

/** The context to build: the user's directory, or the version page's generated files. */
function contextOf(args: AppImageArgs): Context {
    if (args.build) {
        const dir = path.resolve(args.build.context);
        const settings = { dockerfile: args.build.dockerfile ?? "Dockerfile", target: args.build.target ?? "", args: args.build.args ?? {} };
        return { dir, dockerfile: settings.dockerfile, target: args.build.target, args: settings.args, hash: hashBuildContext(dir, settings) };
    }
    const files = buildContextFiles(args.version);
    return { files, dockerfile: "Dockerfile", args: { [BASE_IMAGE_ARG]: args.versionPage?.baseImage ?? DEFAULTS.versionPageBaseImage }, hash: contextHash(files) };
}

export class AppImage extends pulumi.ComponentResource {
    /** `<registry>/<repository>:<version>` as pushed. */
    public readonly imageName: pulumi.Output<string>;
    /** `sha256:...` of the pushed manifest. */
    public readonly digest: pulumi.Output<string>;
    /** `<registry>/<repository>:<version>@sha256:...`: what pods run. */
    public readonly pinnedRef: pulumi.Output<string>;

    constructor(name: string, args: AppImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sts-canary:index:AppImage", name, {}, opts);
        const context = contextOf(args);
        const imageName = `${args.repository}:${args.version}`;
        const builder = args.builder ?? "pulumi-docker";

        let repoDigest: pulumi.Output<string>;
        if (builder === "docker-cli") {
            const image = new DockerCliImage(`${name}-build`, {
                imageName,
                files: context.files,
                contextDir: context.dir,
                dockerfile: context.dir ? context.dockerfile : undefined,
                target: context.target,
                contextHash: context.hash,
                buildArgs: context.args,
                registryServer: args.registryServer,
                registryUsername: args.registryUsername,
                registryPassword: pulumi.secret(args.registryPassword),
            }, { parent: this });
            repoDigest = image.repoDigest;
        } else {
            // Loaded only for this builder: the docker provider's SDK is large.
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const dockerSdk = require("@pulumi/docker") as typeof docker;
            const dir = context.dir ?? writeContext(path.resolve(args.buildDirectory ?? path.join(".build", "images"), args.version), context.files ?? {});
            const image = new dockerSdk.Image(`${name}-build`, {
                imageName,
                build: {
                    context: dir, dockerfile: path.join(dir, context.dockerfile), platform: "linux/amd64", args: context.args,
                    target: context.target,
                },
                registry: { server: args.registryServer, username: args.registryUsername, password: pulumi.secret(args.registryPassword) },
            }, { parent: this });
            repoDigest = image.repoDigest;
        }

        this.imageName = pulumi.output(imageName);
        this.digest = repoDigest.apply((ref) => {
            const digest = digestOf(ref ?? "");
            if (!digest) throw new Error(`image ${args.version}: the registry returned no manifest digest (got "${ref}")`);
            return digest;
        });
        this.pinnedRef = this.digest.apply((digest) => pinnedReference(args.repository, args.version, digest));
        this.registerOutputs({ imageName: this.imageName, digest: this.digest, pinnedRef: this.pinnedRef });
    }
}

/** Writes the context only when it differs, so file times stay put for unchanged versions. */
function writeContext(dir: string, files: Record<string, string>): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
        const file = path.join(dir, name);
        if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== content) fs.writeFileSync(file, content);
    }
    return dir;
}
