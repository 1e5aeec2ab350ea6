/**
 * The app image's build context: a Dockerfile on top of the configurable nginx base image and
 * the version page, served at `/` and at `/version.html` (the seed's page). Pure functions, so
 * the same version always yields byte-identical files and an unchanged version never rebuilds.
 */
import * as crypto from "crypto";

/** "v2" -> "V2", "v2.1.0" -> "V2.1.0": the seed's page says "This is V1". */
export function versionLabel(version: string): string {
    return version.charAt(0).toUpperCase() + version.slice(1);
}

export function versionPage(version: string): string {
    return `<h1>This is ${versionLabel(version)}</h1>\n`;
}

/** Build argument that selects the nginx base image (default in the Dockerfile: nginx:latest). */
export const BASE_IMAGE_ARG = "BASE_IMAGE";

/**
 * File name -> content of the build context for one version. The base image is a build
 * argument, so the files depend on the version alone.
 */
export function buildContextFiles(version: string): Record<string, string> {
    const page = versionPage(version);
    return {
        "Dockerfile": [
            `ARG ${BASE_IMAGE_ARG}=nginx:latest`,
            `FROM \${${BASE_IMAGE_ARG}}`,
            `LABEL org.opencontainers.image.version="${version}"`,
            "COPY index.html version.html /usr/share/nginx/html/",
            "",
        ].join("\n"),
        "index.html": page,
        "version.html": page,
    };
}

/** Stable digest of a build context (sorted names and contents). */
export function contextHash(files: Record<string, string>): string {
    const hash = crypto.createHash("sha256");
    for (const name of Object.keys(files).sort()) {
        hash.update(name).update("\0").update(files[name]).update("\0");
    }
    return hash.digest("hex");
}

/** `<registry>/<project>/<repository>` */
export function repositoryRef(registryServer: string, registryProject: string, repository: string): string {
    return `${registryServer}/${registryProject}/${repository}`;
}

