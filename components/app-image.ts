/**
 * One version of the app image: writes the version's build context, builds it on the nginx base
 * image, pushes it to the registry with the given credentials and exposes the pinned reference
 * (`<repo>:<tag>@sha256:...`) that pods must run.
 */
import * as fs from "fs";
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { BASE_IMAGE_ARG, buildContextFiles, contextHash, digestOf, pinnedImageRef, repositoryRef } from "./app-content";
import { DockerCliImage } from "./docker-cli-image";

export interface AppImageArgs {
    /** Image tag and page version, e.g. "v2". */
    version: string;
    /** nginx base image the page is copied onto. */
    baseImage: pulumi.Input<string>;
    /** Registry host[:port], e.g. harbor.example.com. */
    registryServer: pulumi.Input<string>;
    /** Harbor project, e.g. library. */
    registryProject: pulumi.Input<string>;
    /** Repository inside the project, e.g. version-test. */
    repository: pulumi.Input<string>;
    registryUsername: pulumi.Input<string>;
    /** Registry password; keep it a secret. */
    registryPassword: pulumi.Input<string>;
    /** "pulumi-docker" (the @pulumi/docker provider, default) or "docker-cli" (local Docker CLI). */
    builder?: string;
    /** Where build contexts are written (default `.build/images` under the working directory). */
    buildDirectory?: string;
}

export class AppImage extends pulumi.ComponentResource {
    /** `<registry>/<project>/<repository>:<version>` as pushed. */
    public readonly imageName: pulumi.Output<string>;
    /** `sha256:...` of the pushed manifest. */
    public readonly digest: pulumi.Output<string>;
    /** `<registry>/<project>/<repository>:<version>@sha256:...`: what pods run. */
    public readonly pinnedRef: pulumi.Output<string>;

    constructor(name: string, args: AppImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sts-canary:index:AppImage", name, args, opts);

        const files = buildContextFiles(args.version);
        const hash = contextHash(files);
        const repository = pulumi.all([args.registryServer, args.registryProject, args.repository])
            .apply(([server, project, repo]) => repositoryRef(server, project, repo));
        const imageName = pulumi.interpolate`${repository}:${args.version}`;
        const buildArgs = { [BASE_IMAGE_ARG]: args.baseImage };
        const builder = args.builder ?? "pulumi-docker";

        let repoDigest: pulumi.Output<string>;
        if (builder === "docker-cli") {
            const image = new DockerCliImage(`${name}-build`, {
                imageName,
                files,
                contextHash: hash,
                buildArgs,
                registryServer: args.registryServer,
                registryUsername: args.registryUsername,
                registryPassword: pulumi.secret(args.registryPassword),
            }, { parent: this });
            repoDigest = image.repoDigest;
        } else if (builder === "pulumi-docker") {
            const contextDir = path.resolve(args.buildDirectory ?? path.join(".build", "images"), args.version);
            writeContext(contextDir, files);
            const image = new docker.Image(`${name}-build`, {
                imageName,
                build: { context: contextDir, dockerfile: path.join(contextDir, "Dockerfile"), platform: "linux/amd64", args: buildArgs },
                registry: {
                    server: args.registryServer,
                    username: args.registryUsername,
                    password: pulumi.secret(args.registryPassword),
                },
            }, { parent: this });
            repoDigest = image.repoDigest;
        } else {
            throw new Error(`AppImage ${name}: builder "${builder}" is not supported; use "pulumi-docker" or "docker-cli"`);
        }

        this.imageName = imageName;
        this.digest = repoDigest.apply((ref) => {
            const digest = digestOf(ref ?? "");
            if (!digest) throw new Error(`image ${args.version}: the registry returned no manifest digest (got "${ref}")`);
            return digest;
        });
        this.pinnedRef = pulumi.all([repository, this.digest])
            .apply(([repo, digest]) => pinnedImageRef(repo, args.version, digest));
        this.registerOutputs({ imageName: this.imageName, digest: this.digest, pinnedRef: this.pinnedRef });
    }
}

/** Writes the context only when it differs, so file times stay put for unchanged versions. */
function writeContext(dir: string, files: Record<string, string>): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
        const file = path.join(dir, name);
        if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== content) fs.writeFileSync(file, content);
    }
}
