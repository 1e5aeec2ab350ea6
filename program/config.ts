/**
 * The seed program's stack config, mapped to StatefulSetCanary's arguments: nothing more. The
 * program parses its own formats (numbers and booleans from strings, lists, `key=value` and
 * toleration entries, the repository from two keys); the component validates the values, and its
 * problems are reported under the stack config key the user typed. Defaults live in Pulumi.yaml
 * (the CLI applies them) and in the component's options table. Pure functions.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CanaryArgs } from "sts-canary/args";
import { LABEL_KEY, LABEL_VALUE, pathComponentProblem } from "sts-canary/checks";
import { publicKeyBlocks } from "sts-canary/images/cosign";
import { VERSION_PAGE_CONTAINER, versionPageGate, versionPagePodSpec, versionPageService } from "sts-canary/presets";
import { Problem, validateCanaryArgs } from "sts-canary/validate";

/** The stack config keys of the seed program (values as `pulumi config get` shows them; undefined = not set). */
export const CONFIG_KEYS = [
    "imageTag", "partition", "replicas", "namespace", "createNamespace", "deleteNamespace", "appName", "versions", "pinnedImages", "registryServer",
    "registryProject", "repository", "registryUsername", "pullUsername", "pullSecretNames", "requirePullCredentials", "cosignPublicKey", "verifySignatures", "nodePort", "nodeAddress", "baseImage", "imageBuilder", "rolloutTimeoutSeconds",
    "nodeSelector", "tolerations", "stableTag", "readyTimeoutSeconds", "transientGraceSeconds", "crashLoopRestarts", "replaceStuckPods",
    "bakeSeconds", "maxRestarts", "checkVersionPage", "metricUrl", "metricThreshold", "metricComparison",
    "analysis",
] as const;

export type ConfigKey = (typeof CONFIG_KEYS)[number];
export type RawConfig = { [K in ConfigKey]?: string };

/** The seed's own keys that are not the component's (the rest map to an argument of the same name, see keyOfPath). */
const PATH_KEYS: [RegExp, string][] = [
    [/^version$/, "imageTag"], [/^stableVersion$/, "stableTag"], [/^name$/, "appName"], [/^pinnedImages/, "pinnedImages"],
    [/^registry\.server$/, "registryServer"], [/^registry\.username$/, "registryUsername"], [/^registry\.repository$/, "repository"],
    [/^imagePull\.server$/, "registryServer"], [/^imagePull\.password$/, "pullPassword"], [/^imagePull\.secretNames/, "pullSecretNames"],
    [/^imagePull(\.username)?$/, "pullUsername"], [/^signatures\.privateKey$/, "cosignPrivateKey"], [/^signatures\.password$/, "cosignPassword"],
    [/^signatures\.publicKeys/, "cosignPublicKey"], [/^signatures\.verify$/, "verifySignatures"],
    [/^service\.ports\[\d+\]\.nodePort$/, "nodePort"], [/^podSpec\.nodeSelector/, "nodeSelector"], [/^podSpec\.tolerations/, "tolerations"],
    [/^gates\.metric\.url$/, "metricUrl"], [/^gates\.metric\.threshold$/, "metricThreshold"], [/^gates\.metric\.comparison$/, "metricComparison"],
    [/^gates\.http\./, "checkVersionPage"], [/^gates\.analysis/, "analysis"],
];

/** The stack config key behind a component property path (the last segment for gates and options). */
export function keyOfPath(path: string, pinned: string[]): string {
    const images = /^images\.([^.]+)/.exec(path);
    if (images) return pinned.includes(images[1]) ? "pinnedImages" : "versions";
    return PATH_KEYS.find(([pattern]) => pattern.test(path))?.[1] ?? path.split(".").pop()!;
}

/** Keys whose values the component judges from another key's parsed value. */
const DERIVED: Record<string, string[]> = {
    versions: ["imageTag", "stableTag", "versions", "images"],
    pinnedImages: ["imageTag", "stableTag", "pinnedImages", "images"],
    replicas: ["partition"],
    registryProject: ["repository"],
};

export interface Toleration {
    key: string;
    operator: "Equal" | "Exists";
    value?: string;
    effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

const TOLERATION = /^([^=:\s]+)(?:=([^:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/;

/** Parses a list setting: a JSON array (`["v1","v2"]`, as Pulumi stores array config) or a comma list. */
export function parseList(raw: string): string[] | undefined {
    const text = raw.trim();
    if (!text.startsWith("[")) return text.split(",").map((v) => v.trim()).filter((v) => v !== "");
    try {
        const parsed: unknown = JSON.parse(text);
        return Array.isArray(parsed) && parsed.every((v) => typeof v === "string") ? parsed.map((v) => v.trim()) : undefined;
    } catch {
        return undefined;
    }
}

/** The seed's arguments and the address the NodePort URL names, or every problem, each naming its config key. */
export interface SeedConfig {
    args: CanaryArgs;
    nodeAddress: string;
}

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration (nothing was changed):\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

/** Reads the raw strings: typed parse problems go to `problems`. */
class Reader {
    readonly problems: string[] = [];

    constructor(private readonly raw: RawConfig) {}

    text(key: ConfigKey): string | undefined {
        const value = this.raw[key]?.trim();
        return value === undefined || value === "" ? undefined : value;
    }

    required(key: ConfigKey): string {
        const value = this.text(key);
        if (value === undefined) this.problems.push(`${key}: not set (Pulumi.yaml declares its default)`);
        return value ?? "";
    }

    integer(key: ConfigKey): number | undefined {
        const text = this.text(key);
        if (text === undefined) return undefined;
        if (/^-?\d+$/.test(text)) return Number(text);
        this.problems.push(`${key}: "${this.raw[key]}" is not an integer`);
        return undefined;
    }

    boolean(key: ConfigKey): boolean | undefined {
        const text = this.text(key);
        if (text === undefined || text === "true" || text === "false") return text === undefined ? undefined : text === "true";
        this.problems.push(`${key}: "${this.raw[key]}" is not a boolean; allowed: true, false`);
        return undefined;
    }

    /** A list setting; `what` says what it must be, e.g. `a list (e.g. ["a=b"])`. */
    list(key: ConfigKey, what: string): string[] {
        const text = this.text(key);
        if (text === undefined) return [];
        const list = parseList(text);
        if (list === undefined) this.problems.push(`${key}: "${this.raw[key]}" is not ${what}`);
        return list ?? [];
    }

    /** Keys that already have a problem. */
    has(key: string): boolean {
        return this.problems.some((p) => p.startsWith(`${key}:`));
    }

    /** A value that did not parse is not judged again, nor what is derived from it. */
    judged(key: string): boolean {
        return this.has(key) || Object.entries(DERIVED).some(([from, keys]) => keys.includes(key) && this.has(from));
    }
}

function versionsOf(read: Reader): string[] {
    const what = 'a non-empty list of tags (e.g. ["v1","v2"])';
    const versions = read.list("versions", what);
    if (versions.length === 0 && !read.has("versions")) read.problems.push(`versions: "${read.text("versions") ?? ""}" is not ${what}`);
    if (new Set(versions).size !== versions.length) read.problems.push(`versions: ${JSON.stringify(versions)} lists a version twice`);
    return versions;
}

function nodeSelectorOf(read: Reader): Record<string, string> | undefined {
    const selector: Record<string, string> = {};
    for (const entry of read.list("nodeSelector", 'a list (e.g. ["pool=web"])')) {
        const [key, value] = [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)];
        if (!entry.includes("=") || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) read.problems.push(`nodeSelector: "${entry}" is not a key=value label selector`);
        else selector[key] = value;
    }
    return Object.keys(selector).length > 0 ? selector : undefined;
}

function tolerationsOf(read: Reader): Toleration[] | undefined {
    const tolerations: Toleration[] = [];
    for (const entry of read.list("tolerations", 'a list (e.g. ["dedicated=web:NoSchedule"])')) {
        const match = TOLERATION.exec(entry);
        if (!match || !LABEL_KEY.test(match[1])) {
            read.problems.push(`tolerations: "${entry}" is not key=value:Effect or key:Effect (Effect: NoSchedule, PreferNoSchedule or NoExecute)`);
            continue;
        }
        const effect = match[3] as Toleration["effect"];
        tolerations.push(match[2] === undefined ? { key: match[1], operator: "Exists", effect } : { key: match[1], operator: "Equal", value: match[2], effect });
    }
    return tolerations.length > 0 ? tolerations : undefined;
}

function metricOf(read: Reader): NonNullable<CanaryArgs["gates"]>["metric"] {
    const url = read.text("metricUrl");
    const threshold = read.text("metricThreshold");
    if (url === undefined) {
        if (threshold !== undefined) read.problems.push("metricThreshold: set, but metricUrl is not; set both or neither");
        return undefined;
    }
    if (threshold === undefined || !Number.isFinite(Number(threshold))) {
        read.problems.push(`metricThreshold: ${threshold === undefined ? "not set" : `"${threshold}" is not a number`}; a number is required when metricUrl is set`);
    }
    return { url, threshold: Number(threshold), comparison: read.text("metricComparison") };
}

/**
 * `analysis`: the component's `gates.analysis` as a JSON object, given with
 * `pulumi config set analysis '{"prometheus": "http://...", ...}'` (JSON text; Pulumi.yaml declares it a string).
 */
function analysisOf(read: Reader): NonNullable<CanaryArgs["gates"]>["analysis"] {
    const text = read.text("analysis");
    if (text === undefined || text.trim() === "") return undefined;
    try {
        const value = JSON.parse(text) as unknown;
        if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as NonNullable<CanaryArgs["gates"]>["analysis"];
    } catch { /* reported below */ }
    read.problems.push(`analysis: not a JSON object (e.g. {"prometheus": "http://...", "metrics": [{"name": "success", "template": "success-rate"}]}): "${text.slice(0, 60)}"`);
    return undefined;
}

/** Secret keys the program reads when set; not declared in Pulumi.yaml, which would require them. */
export const OPTIONAL_SECRETS = ["pullPassword", "cosignPrivateKey", "cosignPassword"] as const;

/** The stack's secrets (`pulumi config set --secret`), read apart from the plain keys. */
export interface SeedSecrets {
    /** The pushing account's password (builds only). */
    registryPassword: pulumi.Input<string>;
    /** The pods' pull-only account's password. */
    pullPassword?: pulumi.Input<string>;
    /** cosign's encrypted private key (cosign.key) and its password: images this stack builds are signed. */
    cosignPrivateKey?: pulumi.Input<string>;
    cosignPassword?: pulumi.Input<string>;
}

/** Signing with the stack's key pair; verification whenever a public key is configured, unless verifySignatures is false. */
function signaturesOf(read: Reader, secrets: SeedSecrets): CanaryArgs["signatures"] {
    const publicKey = read.text("cosignPublicKey");
    const publicKeys = publicKey === undefined ? [] : publicKeyBlocks(publicKey);
    if (publicKey !== undefined && publicKeys.length === 0) read.problems.push("cosignPublicKey: holds no PEM public key (-----BEGIN PUBLIC KEY-----...; the contents of cosign.pub)");
    const verify = read.boolean("verifySignatures");
    if (secrets.cosignPrivateKey === undefined && publicKeys.length === 0) return undefined;
    return { privateKey: secrets.cosignPrivateKey, password: secrets.cosignPassword, publicKeys, verify: verify === false ? false : undefined };
}

/** The pods' pull account and existing pull Secrets, when given. */
function imagePullOf(read: Reader, pullPassword: pulumi.Input<string> | undefined): CanaryArgs["imagePull"] {
    const username = read.text("pullUsername");
    const secretNames = read.list("pullSecretNames", 'a list of Secret names (e.g. ["harbor-pull"])');
    if (username === undefined && pullPassword === undefined && secretNames.length === 0) return undefined;
    return { username, password: pullPassword, secretNames };
}

/** The seed's app on the general component: the nginx version-page preset, every setting from stack config. */
export function seedArgs(raw: RawConfig, secrets: SeedSecrets): SeedConfig {
    const read = new Reader(raw);
    const appName = read.required("appName");
    const project = read.required("registryProject");
    const repository = read.required("repository");
    for (const [key, value, what] of [["registryProject", project, "project name"], ["repository", repository, "repository name"]] as const) {
        const problem = value === "" ? undefined : pathComponentProblem(value, what);
        if (problem) read.problems.push(`${key}: ${problem}`);
    }
    const baseImage = read.text("baseImage");
    const version = read.required("imageTag");
    const checkVersionPage = read.boolean("checkVersionPage");
    const nodePort = read.integer("nodePort");
    const args: CanaryArgs = {
        version,
        partition: read.integer("partition") ?? 0,
        replicas: read.integer("replicas") ?? 1,
        images: Object.fromEntries(versionsOf(read).map((v) => [v, { versionPage: { baseImage } }])),
        pinnedImages: read.list("pinnedImages", "a list of version=reference entries"),
        registry: { server: read.required("registryServer"), repository: `${project}/${repository}`, username: read.required("registryUsername"), password: secrets.registryPassword },
        imagePull: imagePullOf(read, secrets.pullPassword),
        requirePullCredentials: read.boolean("requirePullCredentials"),
        signatures: signaturesOf(read, secrets),
        imageBuilder: read.text("imageBuilder"),
        name: appName,
        namespace: read.required("namespace"),
        createNamespace: read.boolean("createNamespace"),
        deleteNamespace: read.boolean("deleteNamespace"),
        podSpec: versionPagePodSpec({ nodeSelector: nodeSelectorOf(read), tolerations: tolerationsOf(read) }),
        container: VERSION_PAGE_CONTAINER,
        service: versionPageService(nodePort ?? 0),
        stableVersion: read.text("stableTag"),
        readyTimeoutSeconds: read.integer("readyTimeoutSeconds"),
        transientGraceSeconds: read.integer("transientGraceSeconds"),
        crashLoopRestarts: read.integer("crashLoopRestarts"),
        rolloutTimeoutSeconds: read.integer("rolloutTimeoutSeconds"),
        replaceStuckPods: read.boolean("replaceStuckPods"),
        gates: {
            bakeSeconds: read.integer("bakeSeconds"),
            maxRestarts: read.integer("maxRestarts"),
            // Pinned versions are nginx version pages too: every canary pod must say its version.
            http: checkVersionPage !== false ? versionPageGate(version) : undefined,
            checkVersionPage,
            metric: metricOf(read),
            analysis: analysisOf(read),
        },
        // What the sts-canary tool sets: this program's keys.
        configKeys: { version: "imageTag", partition: "partition", replicas: "replicas", pinnedImages: "pinnedImages" },
    };
    const nodeAddress = read.required("nodeAddress");
    const pinned = (args.pinnedImages ?? []).map((e) => e.split("=")[0]);
    const judged = validateCanaryArgs(args).map((p: Problem) => {
        const key = keyOfPath(p.propertyPath, pinned);
        // One key holds the whole analysis object: say where in it.
        return { key, reason: key === "analysis" && p.propertyPath !== "gates.analysis" ? `${p.propertyPath.slice("gates.analysis.".length)}: ${p.reason}` : p.reason };
    });
    const problems = [...read.problems, ...judged.filter((p) => !read.judged(p.key)).map((p) => `${p.key}: ${p.reason}`)];
    if (problems.length > 0) throw new ConfigError(problems);
    return { args, nodeAddress };
}
