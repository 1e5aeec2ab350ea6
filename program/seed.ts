/**
 * The seed's app (the blog post's nginx version pages) on the general component: stack settings
 * to StatefulSetCanary arguments with the version-page preset.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CanaryArgs } from "sts-canary/args";
import { VERSION_PAGE_CONTAINER, versionPageGate, versionPagePodSpec, versionPageService } from "sts-canary/presets";
import type { CanarySettings } from "./settings";

/** The seed's app on the general component: the nginx version-page preset, every setting from stack config. */
export function seedCanaryArgs(s: CanarySettings, password: pulumi.Input<string>): CanaryArgs {
    const images: CanaryArgs["images"] = {};
    for (const version of s.versions) images[version] = { versionPage: { baseImage: s.baseImage } };
    // A pinned version (e.g. the digest verified in another stack) is never rebuilt here.
    for (const [version, ref] of Object.entries(s.pinnedImages)) images[version] = { ref };
    return {
        version: s.imageTag,
        partition: s.partition,
        replicas: s.replicas,
        images,
        registry: { server: s.registryServer, repository: `${s.registryProject}/${s.repository}`, username: s.registryUsername, password },
        imageBuilder: s.imageBuilder,
        name: s.appName,
        namespace: s.namespace,
        podSpec: versionPagePodSpec({
            nodeSelector: Object.keys(s.nodeSelector).length > 0 ? s.nodeSelector : undefined,
            tolerations: s.tolerations.length > 0 ? s.tolerations : undefined,
        }),
        container: VERSION_PAGE_CONTAINER,
        service: versionPageService(s.appName, s.nodePort),
        stableVersion: s.stableTag,
        deleteNamespace: s.deleteNamespace,
        readyTimeoutSeconds: s.readyTimeoutSeconds,
        transientGraceSeconds: s.transientGraceSeconds,
        crashLoopRestarts: s.crashLoopRestarts,
        rolloutTimeoutSeconds: s.rolloutTimeoutSeconds,
        replaceStuckPods: s.replaceStuckPods,
        gates: {
            bakeSeconds: s.bakeSeconds,
            maxRestarts: s.maxRestarts,
            // Pinned versions are nginx version pages too: every canary pod must say its version.
            http: s.checkVersionPage ? versionPageGate(s.imageTag) : undefined,
            checkVersionPage: s.checkVersionPage,
            metric: s.metric,
        },
    };
}

