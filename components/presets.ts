/**
 * The built-in app as a preset of the general component: the seed's nginx serving its version
 * page (`<h1>This is V<n></h1>`) on port 80, with the pod spec, HTTP gate and Service the root
 * program and the examples use.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { HttpGateArgs, TypedServiceArgs } from "./args";
import { versionLabel } from "./images/version-page";

export const VERSION_PAGE_CONTAINER = "nginx";
export const VERSION_PAGE_PORT = 80;
/** Per-request metrics of the platform's nginx base image (platform/base-image/README.md). */
export const VERSION_PAGE_METRICS_PORT = 9113;

/** Escapes a literal for use in a regular expression. */
export function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface VersionPagePodOptions {
    nodeSelector?: Record<string, string>;
    tolerations?: k8s.types.input.core.v1.Toleration[];
}

/**
 * nginx on port 80 ("web"), Ready once /version.html answers; small requests and limits. Port
 * "metrics" (9113) is where the platform's nginx base image serves per-request metrics; a
 * Prometheus scraping ports of that name (platform/prometheus) feeds `gates.analysis`.
 */
export function versionPagePodSpec(options: VersionPagePodOptions = {}): k8s.types.input.core.v1.PodSpec {
    return {
        nodeSelector: options.nodeSelector,
        tolerations: options.tolerations,
        terminationGracePeriodSeconds: 10,
        containers: [{
            name: VERSION_PAGE_CONTAINER,
            imagePullPolicy: "IfNotPresent",
            ports: [{ name: "web", containerPort: VERSION_PAGE_PORT }, { name: "metrics", containerPort: VERSION_PAGE_METRICS_PORT }],
            readinessProbe: { httpGet: { path: "/version.html", port: "web" }, periodSeconds: 2, failureThreshold: 3 },
            resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "200m", memory: "64Mi" } },
        }],
    };
}

/** Every canary pod must answer /version.html with HTTP 200 saying "This is V<n>" of its version. */
export function versionPageGate(version: string): HttpGateArgs {
    return { port: VERSION_PAGE_PORT, path: "/version.html", expectStatus: 200, bodyPattern: escapeRegExp(`This is ${versionLabel(version)}`) };
}

/** The seed's NodePort Service (named like the StatefulSet, the component's default). */
export function versionPageService(nodePort: number): TypedServiceArgs {
    return { type: "NodePort", ports: [{ name: "web", port: VERSION_PAGE_PORT, targetPort: "web", nodePort }] };
}
