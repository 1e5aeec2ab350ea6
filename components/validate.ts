/**
 * StatefulSetCanary's arguments, checked once before any resource is registered: every problem
 * at once, each with the property it is about and what is allowed. Values that are still Outputs
 * (from other resources) are not judged here.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { CANARY_DEFAULTS, CanaryArgs } from "./args";
import { VERSION_LABEL } from "./rollout/views";
import { selectorLabels } from "./workload";
import {
    dnsLabelProblem, labelsProblem, oneOfProblem, pinnedRefProblem, rangeProblem, registryProblem, repositoryProblem, reservedLabelsProblem,
    urlProblem, versionChoiceProblem, versionNameProblem,
} from "./checks";

export interface Problem {
    propertyPath: string;
    reason: string;
}

/** Set by the component on every object and the pods: the selector and the version label. */
export const RESERVED_LABELS = [...Object.keys(selectorLabels("x")), VERSION_LABEL] as const;

export const IMAGE_BUILDERS = ["pulumi-docker", "docker-cli"] as const;
export const POD_MANAGEMENT_POLICIES = ["OrderedReady", "Parallel"] as const;
export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;

export const LIMITS = {
    replicas: { min: 1, max: 1000 },
    readyTimeoutSeconds: { min: 10, max: 3600 },
    transientGraceSeconds: { min: 0, max: 3600 },
    crashLoopRestarts: { min: 0, max: 100 },
    rolloutTimeoutSeconds: { min: 30, max: 7200 },
    bakeSeconds: { min: 0, max: 86400 },
    maxRestarts: { min: 0, max: 1000 },
    minReadySeconds: { min: 0, max: 3600 },
    nodePort: { min: 30000, max: 32767 },
} as const;

const known = <T>(value: T | pulumi.Output<unknown> | Promise<unknown>): value is T =>
    !pulumi.Output.isInstance(value) && !(value instanceof Promise);

interface Container { name?: unknown; image?: unknown }

/** The container that runs the canary image: the named one, or the only one. */
export function canaryContainerName(args: Pick<CanaryArgs, "podSpec" | "container">): string | undefined {
    if (args.container) return args.container;
    const containers = args.podSpec?.containers;
    if (!known(containers) || !Array.isArray(containers) || containers.length !== 1) return undefined;
    const only = containers[0] as Container;
    return known(only) && typeof only.name === "string" ? only.name : undefined;
}

/** Every problem of the arguments; empty when they are valid. */
export function validateCanaryArgs(args: CanaryArgs, isDirectory: (p: string) => boolean = isDir): Problem[] {
    const problems: Problem[] = [];
    const add = (propertyPath: string, reason: string | undefined) => { if (reason) problems.push({ propertyPath, reason }); };
    const range = (propertyPath: string, value: number | undefined, limits: { min: number; max: number }) => {
        if (value !== undefined) add(propertyPath, rangeProblem(value, limits.min, limits.max));
    };

    const images = args.images ?? {};
    const versions = Object.keys(images);
    if (versions.length === 0) add("images", "at least one version is required, e.g. {\"v1\": {\"ref\": \"<repo>@sha256:...\"}}");
    const built: string[] = [];
    for (const [version, source] of Object.entries(images)) {
        add(`images.${version}`, versionNameProblem(version));
        const given = (["build", "ref", "versionPage"] as const).filter((k) => source?.[k] !== undefined);
        if (given.length !== 1) {
            add(`images.${version}`, `give exactly one of build, ref, versionPage (got ${given.length === 0 ? "none" : given.join(", ")})`);
            continue;
        }
        if (source.ref !== undefined) add(`images.${version}.ref`, pinnedRefProblem(source.ref));
        if (source.build !== undefined) {
            built.push(version);
            const context = source.build.context;
            if (typeof context !== "string" || !isDirectory(context)) add(`images.${version}.build.context`, `"${context}" is not a directory`);
            else if (!fs.existsSync(path.join(context, source.build.dockerfile ?? "Dockerfile"))) {
                add(`images.${version}.build.dockerfile`, `"${source.build.dockerfile ?? "Dockerfile"}" does not exist in ${context}`);
            }
        }
        if (source.versionPage !== undefined) built.push(version);
    }
    if (typeof args.version !== "string") add("version", "required: the version the template runs");
    else add("version", versionChoiceProblem(args.version, versions));
    if (args.stableVersion !== undefined) add("stableVersion", versionChoiceProblem(args.stableVersion, versions));

    range("replicas", args.replicas, LIMITS.replicas);
    if (args.partition === undefined) add("partition", "required: pods with ordinal >= partition run the version");
    else if (typeof args.replicas === "number") range("partition", args.partition, { min: 0, max: Math.max(args.replicas, 0) });

    if (args.registry) {
        add("registry.server", registryProblem(args.registry.server));
        add("registry.repository", repositoryProblem(args.registry.repository));
        if (!args.registry.username) add("registry.username", "required");
    } else if (built.length > 0) {
        add("registry", `required: versions ${built.join(", ")} are built and pushed`);
    }
    if (args.imageBuilder !== undefined) add("imageBuilder", oneOfProblem(args.imageBuilder, IMAGE_BUILDERS));

    if (args.name !== undefined) add("name", dnsLabelProblem(args.name, "StatefulSet name", 50));
    add("namespace", typeof args.namespace === "string" ? dnsLabelProblem(args.namespace, "namespace") : "required");
    for (const key of ["labels", "podLabels"] as const) {
        const labels = args[key];
        if (labels && known(labels)) add(key, labelsProblem(labels) ?? reservedLabelsProblem(labels, RESERVED_LABELS));
    }

    const containers = args.podSpec?.containers;
    if (!args.podSpec) add("podSpec", "required: the pod template's spec, with the container that runs the canary image");
    else if (known(containers)) {
        const list = (Array.isArray(containers) ? containers : []) as Container[];
        const names = list.map((c) => (known(c) ? String(c.name) : "?"));
        if (list.length === 0) add("podSpec.containers", "at least one container is required");
        else if (args.container !== undefined && !names.includes(args.container)) {
            add("container", `"${args.container}" is not a container of podSpec; containers: ${names.join(", ")}`);
        } else if (args.container === undefined && list.length > 1) {
            add("container", `required: podSpec has ${list.length} containers (${names.join(", ")}); name the one that runs the canary image`);
        }
        const canary = canaryContainerName(args);
        list.forEach((c, i) => {
            if (known(c) && c.name === canary && c.image !== undefined && c.image !== "") {
                add(`podSpec.containers[${i}].image`, `is set by the component from images.${args.version}; leave it out`);
            }
        });
    }
    if (args.podManagementPolicy !== undefined) add("podManagementPolicy", oneOfProblem(args.podManagementPolicy, POD_MANAGEMENT_POLICIES));
    range("minReadySeconds", args.minReadySeconds, LIMITS.minReadySeconds);

    if (args.service) {
        add("service.type", oneOfProblem(args.service.type, SERVICE_TYPES));
        if (args.service.name !== undefined) add("service.name", dnsLabelProblem(args.service.name, "Service name"));
        (args.service.ports ?? []).forEach((port, i) => {
            const nodePort = known(port) ? (port as { nodePort?: unknown }).nodePort : undefined;
            if (typeof nodePort === "number") range(`service.ports[${i}].nodePort`, nodePort, LIMITS.nodePort);
        });
    }

    range("readyTimeoutSeconds", args.readyTimeoutSeconds, LIMITS.readyTimeoutSeconds);
    range("transientGraceSeconds", args.transientGraceSeconds, LIMITS.transientGraceSeconds);
    range("crashLoopRestarts", args.crashLoopRestarts, LIMITS.crashLoopRestarts);
    range("rolloutTimeoutSeconds", args.rolloutTimeoutSeconds, LIMITS.rolloutTimeoutSeconds);
    const gates = args.gates ?? {};
    range("gates.bakeSeconds", gates.bakeSeconds, LIMITS.bakeSeconds);
    add("gates.bakeSeconds", bakeProblem(gates.bakeSeconds, args.rolloutTimeoutSeconds));
    range("gates.maxRestarts", gates.maxRestarts, LIMITS.maxRestarts);
    if (gates.http) {
        range("gates.http.port", gates.http.port, { min: 1, max: 65535 });
        if (typeof gates.http.path !== "string" || !gates.http.path.startsWith("/")) add("gates.http.path", `"${gates.http.path}" must start with /`);
        range("gates.http.expectStatus", gates.http.expectStatus ?? CANARY_DEFAULTS.expectStatus, { min: 100, max: 599 });
        if (gates.http.bodyPattern !== undefined) {
            try { new RegExp(gates.http.bodyPattern); } catch (err) { add("gates.http.bodyPattern", `not a regular expression: ${(err as Error).message}`); }
        }
    }
    if (gates.metric) {
        add("gates.metric.url", urlProblem(gates.metric.url));
        if (typeof gates.metric.threshold !== "number" || !Number.isFinite(gates.metric.threshold)) add("gates.metric.threshold", "a number is required");
        if (gates.metric.comparison !== undefined) add("gates.metric.comparison", oneOfProblem(gates.metric.comparison, ["<=", ">="]));
    }
    return problems;
}

/** The bake runs inside the step's rolloutTimeoutSeconds: it must leave time for the pods to move first. */
export function bakeProblem(bakeSeconds: number | undefined, rolloutTimeoutSeconds: number | undefined): string | undefined {
    const timeout = rolloutTimeoutSeconds ?? CANARY_DEFAULTS.rolloutTimeoutSeconds;
    if (typeof bakeSeconds !== "number" || bakeSeconds < timeout) return undefined;
    return `${bakeSeconds} is not less than rolloutTimeoutSeconds (${timeout}), which bounds the whole step, bake included: `
        + "raise rolloutTimeoutSeconds or shorten the bake";
}

function isDir(p: string): boolean {
    try { return fs.statSync(p).isDirectory(); } catch { return false; }
}
