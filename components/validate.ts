/**
 * StatefulSetCanary's arguments, checked once before any resource is registered: every problem
 * at once, each with the property it is about and what is allowed. Ranges, allowed values and
 * defaults come from options.ts. Values that are still Outputs (from other resources) are not
 * judged here.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { ImageSourceArgs, StatefulSetCanaryArgs } from "./args";
import {
    dnsLabelProblem, dnsSubdomainProblem, labelsProblem, oneOfProblem, rangeProblem, registryProblem, repositoryProblem, reservedLabelsProblem,
    urlProblem, versionChoiceProblem, versionNameProblem,
} from "./checks";
import { checkAnalysis } from "./analysis/settings";
import { publicKeyBlocks } from "./images/cosign";
import { isPinned, parsePin, pinnedRefProblem } from "./images/reference";
import { DEFAULTS, LIMITS, OPTIONS, OptionSpec, SERVICE_TYPES } from "./options";
import { VERSION_LABEL } from "./rollout/views";
import { selectorLabels } from "./workload";

export interface Problem {
    propertyPath: string;
    reason: string;
}

type Add = (propertyPath: string, reason: string | undefined) => void;

/** Set by the component on every object and the pods: the selector and the version label. */
export const RESERVED_LABELS = [...Object.keys(selectorLabels("x")), VERSION_LABEL] as const;

const known = <T>(value: T | pulumi.Output<unknown> | Promise<unknown>): value is T =>
    !pulumi.Output.isInstance(value) && !(value instanceof Promise);

interface Container { name?: unknown; image?: unknown }

/** The container that runs the canary image: the named one, or the only one. */
export function canaryContainerName(args: Pick<StatefulSetCanaryArgs, "podSpec" | "container">): string | undefined {
    if (args.container) return args.container;
    const containers = args.podSpec?.containers;
    if (!known(containers) || !Array.isArray(containers) || containers.length !== 1) return undefined;
    const only = containers[0] as Container;
    return known(only) && typeof only.name === "string" ? only.name : undefined;
}

/** `images` with the valid `pinnedImages` entries added (a pin replaces an image of the same version). */
export function imagesOf(args: Pick<StatefulSetCanaryArgs, "images" | "pinnedImages">): Record<string, ImageSourceArgs> {
    const pins = (args.pinnedImages ?? []).map(parsePin).filter((p): p is { version: string; ref: string } => p !== undefined && !versionNameProblem(p.version) && isPinned(p.ref));
    return { ...(args.images ?? {}), ...Object.fromEntries(pins.map((p) => [p.version, { ref: p.ref }])) };
}

/** Every problem of the arguments; empty when they are valid. */
export function validateCanaryArgs(args: StatefulSetCanaryArgs, isDirectory: (p: string) => boolean = isDir): Problem[] {
    const problems: Problem[] = [];
    const add: Add = (propertyPath, reason) => { if (reason) problems.push({ propertyPath, reason }); };
    checkImages(args, add, isDirectory);
    checkPull(args, add);
    checkSignatures(args, add);
    checkOptions(args, add);
    if (args.partition === undefined) add("partition", "required: pods with ordinal >= partition run the version");
    else if (typeof args.replicas === "number") add("partition", rangeProblem(args.partition, 0, Math.max(args.replicas, 0)));
    add("gates.bakeSeconds", bakeProblem(args.gates?.bakeSeconds, args.rolloutTimeoutSeconds));
    checkNames(args, add);
    checkPodSpec(args, add);
    checkService(args, add);
    checkGates(args, add);
    return problems;
}

/** Ranges and allowed values of every option given, from the table. */
function checkOptions(args: StatefulSetCanaryArgs, add: Add): void {
    for (const spec of Object.values(OPTIONS) as OptionSpec[]) {
        if (/[*[]/.test(spec.path)) continue; // per-item options are checked with their items
        const value = spec.path.split(".").reduce<unknown>((obj, key) => (obj as Record<string, unknown> | undefined)?.[key], args);
        if (value === undefined || !known(value)) continue;
        if (spec.min !== undefined && spec.max !== undefined) add(spec.path, rangeProblem(Number(value), spec.min, spec.max));
        if (spec.allowed) add(spec.path, oneOfProblem(String(value), spec.allowed));
    }
}

function checkImages(args: StatefulSetCanaryArgs, add: Add, isDirectory: (p: string) => boolean): void {
    const pinned = new Set<string>();
    (args.pinnedImages ?? []).forEach((entry, i) => {
        const at = `pinnedImages[${i}]`;
        const pin = parsePin(entry);
        if (!pin || versionNameProblem(pin.version)) return add(at, `"${entry}" is not version=reference with an immutable version tag`);
        if (pinnedRefProblem(pin.ref)) return add(at, `"${entry}": the reference must be pinned by digest (<repo>[:<tag>]@sha256:<64 hex>)`);
        if (pinned.has(pin.version)) return add(at, `version "${pin.version}" is pinned twice`);
        pinned.add(pin.version);
    });
    const images = imagesOf(args);
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
    if (args.registry) {
        add("registry.server", registryProblem(args.registry.server));
        add("registry.repository", repositoryProblem(args.registry.repository));
        if (!args.registry.username) add("registry.username", "required");
    } else if (built.length > 0) {
        add("registry", `required: versions ${built.join(", ")} are built and pushed`);
    }
}

/** Pods pull with their own account; the pushing one (`registry`) never reaches the cluster. */
function checkPull(args: StatefulSetCanaryArgs, add: Add): void {
    const pull = args.imagePull;
    if (pull) {
        if (pull.server !== undefined) add("imagePull.server", registryProblem(pull.server));
        else if (pull.username !== undefined && !args.registry?.server) add("imagePull.server", "required: there is no registry.server to default to");
        if (pull.username !== undefined && pull.password === undefined) add("imagePull.password", "required with imagePull.username; pass a secret");
        if (pull.password !== undefined && pull.username === undefined) add("imagePull.username", "required with imagePull.password");
        if (pull.username !== undefined && known(pull.username) && pull.username === "") add("imagePull.username", "must not be empty");
        if (known(pull.username) && pull.username && pull.username === args.registry?.username && (pull.server ?? args.registry.server) === args.registry.server) {
            add("imagePull.username", `"${pull.username}" is the pushing account (registry.username): anyone who can read Secrets in the namespace `
                + "could overwrite every image. Give a pull-only account (in Harbor: a robot account with pull permission on the project)");
        }
        (pull.secretNames ?? []).forEach((name, i) => add(`imagePull.secretNames[${i}]`, dnsSubdomainProblem(name, "Secret name")));
    }
    const missing = missingPullCredentials(args);
    if (missing && args.requirePullCredentials) add("imagePull", `required (requirePullCredentials): ${missing}`);
}

/** A key pair needs its password; verifying needs public keys in PEM. */
function checkSignatures(args: StatefulSetCanaryArgs, add: Add): void {
    const s = args.signatures;
    if (!s) return;
    if (s.privateKey !== undefined && s.password === undefined) add("signatures.password", "required with signatures.privateKey (cosign keys are encrypted; pass a secret)");
    if (s.password !== undefined && s.privateKey === undefined) add("signatures.privateKey", "required with signatures.password");
    (s.publicKeys ?? []).forEach((key, i) => {
        if (typeof key !== "string" || publicKeyBlocks(key).length !== 1) add(`signatures.publicKeys[${i}]`, "is not one PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----, the contents of cosign.pub)");
    });
    if (s.verify === true && (s.publicKeys ?? []).length === 0) add("signatures.publicKeys", "required to verify (signatures.verify is true): the keys whose signatures are accepted");
}

/** Verification is on when public keys are given, unless turned off explicitly. */
export function verifiesSignatures(args: Pick<StatefulSetCanaryArgs, "signatures">): boolean {
    return (args.signatures?.publicKeys?.length ?? 0) > 0 && args.signatures?.verify !== false;
}

/**
 * Why the pods would get no pull credentials although images are pushed to a private registry,
 * or undefined. An error under requirePullCredentials, a warning otherwise.
 */
export function missingPullCredentials(args: Pick<StatefulSetCanaryArgs, "registry" | "imagePull" | "podSpec">): string | undefined {
    if (!args.registry) return undefined;
    const pull = args.imagePull;
    if (pull?.username !== undefined || (pull?.secretNames?.length ?? 0) > 0) return undefined;
    const own = args.podSpec?.imagePullSecrets;
    if (!known(own) || (Array.isArray(own) && own.length > 0)) return undefined;
    return `the pods get no image pull credentials for ${args.registry.server}, and the pushing account (registry.username) is never `
        + "given to the cluster: give a pull-only account as imagePull.username/password (in Harbor: a robot account with pull "
        + "permission), or existing Secrets as imagePull.secretNames";
}

function checkNames(args: StatefulSetCanaryArgs, add: Add): void {
    if (args.name !== undefined) add("name", dnsLabelProblem(args.name, "name", 50));
    add("namespace", typeof args.namespace === "string" ? dnsLabelProblem(args.namespace, "namespace") : "required");
    for (const key of ["labels", "podLabels"] as const) {
        const labels = args[key];
        if (labels && known(labels)) add(key, labelsProblem(labels) ?? reservedLabelsProblem(labels, RESERVED_LABELS));
    }
}

function checkPodSpec(args: StatefulSetCanaryArgs, add: Add): void {
    const containers = args.podSpec?.containers;
    if (!args.podSpec) return add("podSpec", "required: the pod template's spec, with the container that runs the canary image");
    if (!known(containers)) return;
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

function checkService(args: StatefulSetCanaryArgs, add: Add): void {
    if (!args.service) return;
    add("service.type", oneOfProblem(args.service.type, SERVICE_TYPES));
    if (args.service.name !== undefined) add("service.name", dnsLabelProblem(args.service.name, "Service name"));
    (args.service.ports ?? []).forEach((port, i) => {
        const nodePort = known(port) ? (port as { nodePort?: unknown }).nodePort : undefined;
        if (typeof nodePort === "number") add(`service.ports[${i}].nodePort`, rangeProblem(nodePort, LIMITS.nodePort.min, LIMITS.nodePort.max));
    });
}

function checkGates(args: StatefulSetCanaryArgs, add: Add): void {
    const { http, metric, analysis } = args.gates ?? {};
    if (analysis) checkAnalysis(analysis, args.gates?.bakeSeconds, add);
    if (http) {
        if (typeof http.path !== "string" || !http.path.startsWith("/")) add("gates.http.path", `"${http.path}" must start with /`);
        if (http.bodyPattern !== undefined) {
            try { new RegExp(http.bodyPattern); } catch (err) { add("gates.http.bodyPattern", `not a regular expression: ${(err as Error).message}`); }
        }
    }
    if (metric) {
        add("gates.metric.url", urlProblem(metric.url));
        if (typeof metric.threshold !== "number" || !Number.isFinite(metric.threshold)) add("gates.metric.threshold", "a number is required");
        if (metric.comparison !== undefined) add("gates.metric.comparison", oneOfProblem(metric.comparison, ["<=", ">="]));
    }
}

/** The bake runs inside the step's rolloutTimeoutSeconds: it must leave time for the pods to move first. */
export function bakeProblem(bakeSeconds: number | undefined, rolloutTimeoutSeconds: number | undefined): string | undefined {
    const timeout = rolloutTimeoutSeconds ?? DEFAULTS.rolloutTimeoutSeconds;
    if (typeof bakeSeconds !== "number" || bakeSeconds < timeout) return undefined;
    return `${bakeSeconds} is not less than rolloutTimeoutSeconds (${timeout}), which bounds the whole step, bake included: `
        + "raise rolloutTimeoutSeconds or shorten the bake";
}

function isDir(p: string): boolean {
    try { return fs.statSync(p).isDirectory(); } catch { return false; }
}
