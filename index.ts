// Reads stack config, validates it before anything is registered, and composes the canary.
import * as pulumi from "@pulumi/pulumi";
import { StatefulSetCanary } from "sts-canary/canary";
import { CanarySettings, RENAMED_KEYS, RawSettings, SettingsError, validateSettings } from "./program/settings";
import { seedCanaryArgs } from "./program/seed";

const config = new pulumi.Config();
const SETTING_KEYS: (keyof RawSettings)[] = [
    "imageTag", "partition", "replicas", "namespace", "appName", "versions", "pinnedImages", "registryServer",
    "registryProject", "repository", "registryUsername", "nodePort", "nodeAddress", "baseImage",
    "imageBuilder", "rolloutTimeoutSeconds", "nodeSelector", "tolerations", "stableTag",
    "deleteNamespace", "readyTimeoutSeconds", "transientGraceSeconds", "crashLoopRestarts", "replaceStuckPods", "bakeSeconds", "maxRestarts", "checkVersionPage",
    "metricUrl", "metricThreshold", "metricComparison",
];
const raw: RawSettings = Object.fromEntries(SETTING_KEYS.map((key) => [key, config.get(key)]));

const { settings, registryPassword } = loadSettings();

/** Validated settings, or one RunError (no stack trace) listing every problem before anything is registered. */
function loadSettings(): { settings: CanarySettings; registryPassword: pulumi.Output<string> } {
    const registryPassword = config.getSecret("registryPassword");
    const problems: string[] = [];
    for (const [old, key] of Object.entries(RENAMED_KEYS)) {
        if (config.get(old) !== undefined) {
            problems.push(`${old}: renamed to ${key} (the gates now run inside \`pulumi up\`); run \`pulumi config rm ${old}\` and \`pulumi config set ${key} <value>\``);
        }
    }
    let validated: CanarySettings | undefined;
    try {
        validated = validateSettings(raw);
    } catch (err) {
        if (!(err instanceof SettingsError)) throw err;
        problems.push(...err.problems);
    }
    if (registryPassword === undefined) {
        problems.push("registryPassword: not set; set it with `pulumi config set --secret registryPassword <password>`");
    }
    if (validated === undefined || registryPassword === undefined || problems.length > 0) {
        throw new pulumi.RunError(`invalid stack configuration (nothing was changed):\n  - ${problems.join("\n  - ")}`);
    }
    return { settings: validated, registryPassword };
}

const canary = new StatefulSetCanary(settings.appName, seedCanaryArgs(settings, registryPassword));

export const images = canary.images;
export const namespace = canary.namespace;
export const statefulSetName = canary.statefulSetName;
export const serviceName = canary.serviceName;
export const headlessServiceName = canary.headlessServiceName;
export const nodePortUrl = pulumi.interpolate`http://${settings.nodeAddress}:${canary.nodePort}/`;
export const ordinalVersions = canary.ordinalVersions;
export const imageTag = settings.imageTag;
export const partition = settings.partition;
export const replicas = settings.replicas;
// What pods below the partition run, read from the cluster by the rollout check (what
// `sts-canary status` and rollbacks go back to), and the step in words.
export const stable = canary.stableVersion;
export const step = canary.step;
export const rolloutSummary = canary.rolloutSummary;
// The contract the sts-canary tool operates this stack through.
export const stsCanary = canary.contract;
