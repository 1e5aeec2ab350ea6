/**
 * Stack settings of a canary release: their defaults and the validation that runs before any
 * resource is registered, so a bad value fails `pulumi preview` and nothing is created or changed.
 * Pure functions only; the Pulumi program feeds them the raw strings read from stack config.
 */

import {
    LABEL_KEY, LABEL_VALUE, TAG, dnsLabelProblem, oneOfProblem, pathComponentProblem, pinnedRefProblem, rangeProblem, registryProblem,
    urlProblem, versionChoiceProblem, versionNameProblem,
} from "sts-canary/checks";
import type { MetricCheck } from "sts-canary/api";
import { MUTABLE_TAGS } from "sts-canary/tags";
import { IMAGE_BUILDERS, LIMITS as ARG_LIMITS, bakeProblem } from "sts-canary/validate";

export type ImageBuilder = (typeof IMAGE_BUILDERS)[number];

/** Validated settings of one stack. */
export interface CanarySettings {
    /** Version the StatefulSet template runs (pods with ordinal >= partition). */
    imageTag: string;
    /** Pods with ordinal >= partition run `imageTag`; pods below keep the stable version. */
    partition: number;
    replicas: number;
    namespace: string;
    /** Base name of the StatefulSet (`<appName>`), its pods (`<appName>-<ordinal>`) and Services. */
    appName: string;
    /** Every version that is built and pushed. */
    versions: string[];
    /**
     * Versions built elsewhere (another stack's verified image, a CI pipeline), as version ->
     * pinned reference `<repo>[:<tag>]@sha256:...`. They are deployed as they are, never rebuilt;
     * a version both listed in `versions` and pinned is not built (the pinned digest wins).
     */
    pinnedImages: Record<string, string>;
    /** Registry host[:port], Harbor style, without scheme. */
    registryServer: string;
    /** Harbor project (first path segment of the repository). */
    registryProject: string;
    /** Repository name inside the project. */
    repository: string;
    registryUsername: string;
    nodePort: number;
    /** Host that answers on the NodePort, used only for the exported URL. */
    nodeAddress: string;
    baseImage: string;
    imageBuilder: ImageBuilder;
    rolloutTimeoutSeconds: number;
    /** Pod nodeSelector, as `key=value` entries. */
    nodeSelector: Record<string, string>;
    /** Pod tolerations, as `key=value:Effect` (Equal) or `key:Effect` (Exists) entries. */
    tolerations: Toleration[];
    /** Expected version of the pods below the partition; when set, a step fails if they run another. */
    stableTag?: string;
    /** Seconds a pod may stay unready (by its own timestamps) before the step fails. */
    readyTimeoutSeconds: number;
    /** Seconds a cause that can heal (a pull error other than "not found", a config error) may last before the step fails. */
    transientGraceSeconds: number;
    /** Restarts a crash-looping container may reach before the step fails. */
    crashLoopRestarts: number;
    /** Delete the namespace (and every volume claim in it) on destroy or rename. */
    deleteNamespace: boolean;
    /** Delete pods stuck on a revision other than the template's at or above the partition (kubernetes#67250). */
    replaceStuckPods: boolean;
    /** Seconds the canary runs before restarts, pages and the metric are judged. */
    bakeSeconds: number;
    /** Container restarts (or pod replacements) tolerated per canary pod during the bake. */
    maxRestarts: number;
    /** Every canary pod must serve its version page (`/version.html` saying "This is V<n>"). */
    checkVersionPage: boolean;
    /** Optional metric gate. */
    metric?: MetricCheck;
}

/** How `pinnedImages` entries look in stack config: `version=<repo>[:<tag>]@sha256:<64 hex>`. */

export interface Toleration {
    key: string;
    operator: "Equal" | "Exists";
    value?: string;
    effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/** Defaults, mirrored in Pulumi.yaml's `config:` block (a unit test keeps the two equal). */
export const DEFAULTS: Omit<CanarySettings, "stableTag" | "metric"> = {
    imageTag: "v1",
    partition: 0,
    replicas: 5,
    namespace: "sts",
    appName: "nginx",
    versions: ["v1", "v2"],
    pinnedImages: {},
    registryServer: "harbor.example.com",
    registryProject: "library",
    repository: "version-test",
    registryUsername: "admin",
    nodePort: 30080,
    nodeAddress: "127.0.0.1",
    baseImage: "nginx:latest",
    imageBuilder: "pulumi-docker",
    rolloutTimeoutSeconds: 600,
    nodeSelector: {},
    tolerations: [],
    readyTimeoutSeconds: 120,
    transientGraceSeconds: 30,
    crashLoopRestarts: 2,
    deleteNamespace: false,
    replaceStuckPods: true,
    bakeSeconds: 0,
    maxRestarts: 0,
    checkVersionPage: true,
};

/** The component's limits, for the keys that map to its arguments. */
export const LIMITS = {
    replicas: ARG_LIMITS.replicas,
    nodePort: ARG_LIMITS.nodePort,
    rolloutTimeoutSeconds: ARG_LIMITS.rolloutTimeoutSeconds,
    readyTimeoutSeconds: ARG_LIMITS.readyTimeoutSeconds,
    transientGraceSeconds: ARG_LIMITS.transientGraceSeconds,
    crashLoopRestarts: ARG_LIMITS.crashLoopRestarts,
    bakeSeconds: ARG_LIMITS.bakeSeconds,
    maxRestarts: ARG_LIMITS.maxRestarts,
};

/** Raw stack config values as strings (what `pulumi config get` shows); undefined = not set. */
export type RawSettings = { [K in Exclude<keyof CanarySettings, "metric"> | "metricUrl" | "metricThreshold" | "metricComparison"]?: string };

/** Keys of earlier versions, with what replaces them (a stack that still sets one gets told). */
export const RENAMED_KEYS: Record<string, string> = {
    gateReadyTimeoutSeconds: "readyTimeoutSeconds",
    gateBakeSeconds: "bakeSeconds",
    gateMaxRestarts: "maxRestarts",
    gateCheckPages: "checkVersionPage",
    gateMetricUrl: "metricUrl",
    gateMetricThreshold: "metricThreshold",
    gateMetricComparison: "metricComparison",
};

export class SettingsError extends Error {
    constructor(public readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "SettingsError";
    }
}

const TOLERATION = /^([^=:\s]+)(?:=([^:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/;

function parseInteger(key: string, raw: string | undefined, fallback: number, problems: string[]): number {
    if (raw === undefined || raw.trim() === "") return fallback;
    const text = raw.trim();
    if (!/^-?\d+$/.test(text)) {
        problems.push(`${key}: "${raw}" is not an integer`);
        return fallback;
    }
    return Number(text);
}

function parseBoolean(key: string, raw: string | undefined, fallback: boolean, problems: string[]): boolean {
    if (raw === undefined || raw.trim() === "") return fallback;
    const text = raw.trim();
    if (text === "true" || text === "false") return text === "true";
    problems.push(`${key}: "${raw}" is not a boolean; allowed: true, false`);
    return fallback;
}

/** `key: reason` for a problem the shared checks found. */
function report(key: string, reason: string | undefined, problems: string[]): void {
    if (reason) problems.push(`${key}: ${reason}`);
}

function checkRange(key: string, value: number, min: number, max: number, problems: string[]): void {
    report(key, rangeProblem(value, min, max), problems);
}

/** Parses `versions`: a JSON array (`["v1","v2"]`, as Pulumi stores array config) or a comma list. */
export function parseVersionList(raw: string): string[] | undefined {
    const text = raw.trim();
    if (text.startsWith("[")) {
        try {
            const parsed: unknown = JSON.parse(text);
            if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string")) return parsed.map((v) => v.trim());
        } catch {
            return undefined;
        }
        return undefined;
    }
    return text.split(",").map((v) => v.trim()).filter((v) => v !== "");
}

/** `{k: v}` -> `["k=v"]`: the stack-config form of map settings (pinnedImages, nodeSelector). */
export function keyValueEntries(map: Record<string, string>): string[] {
    return Object.entries(map).map(([key, value]) => `${key}=${value}`);
}

/** A toleration in its stack-config form (`key=value:Effect` or `key:Effect`), as parsed below. */
export function formatToleration(t: Toleration): string {
    return `${t.key}${t.value !== undefined ? `=${t.value}` : ""}:${t.effect}`;
}

/** A list setting (JSON array or comma list); reports and skips an unparseable one. */
function listOf(key: string, raw: string | undefined, problems: string[]): string[] {
    if (raw === undefined || raw.trim() === "") return [];
    const parsed = parseVersionList(raw);
    if (parsed === undefined) problems.push(`${key}: "${raw}" is not a list (e.g. ["a=b"])`);
    return parsed ?? [];
}

/**
 * Validates raw stack config and applies defaults. Collects every problem (each naming its key
 * and the allowed values) and throws one SettingsError, so a user fixes them all in one go.
 */
export function validateSettings(raw: RawSettings): CanarySettings {
    const problems: string[] = [];
    const str = (key: keyof RawSettings, fallback: string): string => {
        const value = raw[key];
        return value === undefined || value.trim() === "" ? fallback : value.trim();
    };

    const replicas = parseInteger("replicas", raw.replicas, DEFAULTS.replicas, problems);
    checkRange("replicas", replicas, LIMITS.replicas.min, LIMITS.replicas.max, problems);

    const partition = parseInteger("partition", raw.partition, DEFAULTS.partition, problems);
    checkRange("partition", partition, 0, Math.max(replicas, 0), problems);

    const nodePort = parseInteger("nodePort", raw.nodePort, DEFAULTS.nodePort, problems);
    checkRange("nodePort", nodePort, LIMITS.nodePort.min, LIMITS.nodePort.max, problems);

    const rolloutTimeoutSeconds = parseInteger(
        "rolloutTimeoutSeconds", raw.rolloutTimeoutSeconds, DEFAULTS.rolloutTimeoutSeconds, problems);
    checkRange("rolloutTimeoutSeconds", rolloutTimeoutSeconds,
        LIMITS.rolloutTimeoutSeconds.min, LIMITS.rolloutTimeoutSeconds.max, problems);

    let versions = DEFAULTS.versions;
    if (raw.versions !== undefined && raw.versions.trim() !== "") {
        const parsed = parseVersionList(raw.versions);
        if (parsed === undefined || parsed.length === 0) {
            problems.push(`versions: "${raw.versions}" is not a non-empty list of tags (e.g. ["v1","v2"])`);
        } else {
            versions = parsed;
        }
    }
    for (const version of versions) report("versions", versionNameProblem(version), problems);
    if (new Set(versions).size !== versions.length) problems.push(`versions: ${JSON.stringify(versions)} lists a version twice`);

    const pinnedImages: Record<string, string> = {};
    if (raw.pinnedImages !== undefined && raw.pinnedImages.trim() !== "") {
        const entries = parseVersionList(raw.pinnedImages);
        if (entries === undefined) problems.push(`pinnedImages: "${raw.pinnedImages}" is not a list of version=reference entries`);
        for (const entry of entries ?? []) {
            const [version, ref] = [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)];
            if (!entry.includes("=") || !TAG.test(version) || MUTABLE_TAGS.has(version)) {
                problems.push(`pinnedImages: "${entry}" is not version=reference with an immutable version tag`);
            } else if (pinnedRefProblem(ref)) {
                problems.push(`pinnedImages: "${entry}": the reference must be pinned by digest (<repo>[:<tag>]@sha256:<64 hex>)`);
            } else if (pinnedImages[version] !== undefined) {
                problems.push(`pinnedImages: version "${version}" is pinned twice`);
            } else {
                pinnedImages[version] = ref;
            }
        }
    }
    const available = [...new Set([...versions, ...Object.keys(pinnedImages)])];
    const tagError = (key: string, tag: string): void => report(key, versionChoiceProblem(tag, available), problems);
    const imageTag = str("imageTag", DEFAULTS.imageTag);
    tagError("imageTag", imageTag);
    const stableTag = raw.stableTag === undefined || raw.stableTag.trim() === "" ? undefined : raw.stableTag.trim();
    if (stableTag !== undefined) tagError("stableTag", stableTag);

    const registryServer = str("registryServer", DEFAULTS.registryServer);
    report("registryServer", registryProblem(registryServer), problems);
    const registryProject = str("registryProject", DEFAULTS.registryProject);
    report("registryProject", pathComponentProblem(registryProject, "project name"), problems);
    const repository = str("repository", DEFAULTS.repository);
    report("repository", pathComponentProblem(repository, "repository name"), problems);

    const namespace = str("namespace", DEFAULTS.namespace);
    report("namespace", dnsLabelProblem(namespace, "namespace"), problems);
    const appName = str("appName", DEFAULTS.appName);
    // The NodePort Service is `<appName>` and the headless one `<appName>-headless`: both must be DNS labels.
    report("appName", dnsLabelProblem(appName, "name", 50), problems);

    const imageBuilder = str("imageBuilder", DEFAULTS.imageBuilder);
    report("imageBuilder", oneOfProblem(imageBuilder, IMAGE_BUILDERS), problems);

    const nodeSelector: Record<string, string> = {};
    for (const entry of listOf("nodeSelector", raw.nodeSelector, problems)) {
        const [key, value] = [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)];
        if (!entry.includes("=") || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
            problems.push(`nodeSelector: "${entry}" is not a key=value label selector`);
        } else {
            nodeSelector[key] = value;
        }
    }
    const tolerations: Toleration[] = [];
    for (const entry of listOf("tolerations", raw.tolerations, problems)) {
        const match = TOLERATION.exec(entry);
        if (!match || !LABEL_KEY.test(match[1])) {
            problems.push(`tolerations: "${entry}" is not key=value:Effect or key:Effect (Effect: NoSchedule, PreferNoSchedule or NoExecute)`);
            continue;
        }
        const effect = match[3] as Toleration["effect"];
        tolerations.push(match[2] === undefined ? { key: match[1], operator: "Exists", effect } : { key: match[1], operator: "Equal", value: match[2], effect });
    }

    const registryUsername = str("registryUsername", DEFAULTS.registryUsername);
    const nodeAddress = str("nodeAddress", DEFAULTS.nodeAddress);
    const baseImage = str("baseImage", DEFAULTS.baseImage);

    const rollout = validateRolloutSettings(raw, problems);
    report("bakeSeconds", bakeProblem(rollout.bakeSeconds, rolloutTimeoutSeconds), problems);
    const deleteNamespace = parseBoolean("deleteNamespace", raw.deleteNamespace, DEFAULTS.deleteNamespace, problems);

    if (problems.length > 0) throw new SettingsError(problems);
    return {
        imageTag, partition, replicas, namespace, appName, versions, pinnedImages, registryServer, registryProject,
        repository, registryUsername, nodePort, nodeAddress, baseImage,
        imageBuilder: imageBuilder as ImageBuilder, rolloutTimeoutSeconds, nodeSelector, tolerations, stableTag, deleteNamespace, ...rollout,
    };
}

/** The rollout check's settings: stuck pods, readiness timeout, gates. Problems are added to `problems`. */
export function validateRolloutSettings(raw: RawSettings, problems: string[]): Pick<CanarySettings,
    "readyTimeoutSeconds" | "transientGraceSeconds" | "crashLoopRestarts" | "replaceStuckPods" | "bakeSeconds" | "maxRestarts" | "checkVersionPage" | "metric"> {
    const int = (key: "readyTimeoutSeconds" | "transientGraceSeconds" | "crashLoopRestarts" | "bakeSeconds" | "maxRestarts") => {
        const value = parseInteger(key, raw[key], DEFAULTS[key], problems);
        checkRange(key, value, LIMITS[key].min, LIMITS[key].max, problems);
        return value;
    };
    const settings: ReturnType<typeof validateRolloutSettings> = {
        readyTimeoutSeconds: int("readyTimeoutSeconds"),
        transientGraceSeconds: int("transientGraceSeconds"),
        crashLoopRestarts: int("crashLoopRestarts"),
        replaceStuckPods: parseBoolean("replaceStuckPods", raw.replaceStuckPods, DEFAULTS.replaceStuckPods, problems),
        bakeSeconds: int("bakeSeconds"),
        maxRestarts: int("maxRestarts"),
        checkVersionPage: parseBoolean("checkVersionPage", raw.checkVersionPage, DEFAULTS.checkVersionPage, problems),
    };
    const url = raw.metricUrl?.trim() ?? "";
    const thresholdText = raw.metricThreshold?.trim() ?? "";
    const comparison = raw.metricComparison?.trim() || "<=";
    report("metricComparison", oneOfProblem(comparison, ["<=", ">="]), problems);
    if (url !== "") {
        report("metricUrl", urlProblem(url), problems);
        const threshold = Number(thresholdText);
        if (thresholdText === "" || !Number.isFinite(threshold)) {
            problems.push(`metricThreshold: ${thresholdText === "" ? "not set" : `"${thresholdText}" is not a number`}; a number is required when metricUrl is set`);
        }
        settings.metric = { url, threshold, comparison: comparison === ">=" ? ">=" : "<=" };
    } else if (thresholdText !== "") {
        problems.push("metricThreshold: set, but metricUrl is not; set both or neither");
    }
    return settings;
}
