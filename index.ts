// The seed program: stack config -> StatefulSetCanary arguments (program/config.ts), nothing else.
// The component validates them; every problem is reported under the stack config key, before
// anything is registered.
import * as pulumi from "@pulumi/pulumi";
import { StatefulSetCanary } from "sts-canary/canary";
import { CONFIG_KEYS, ConfigError, OPTIONAL_SECRETS, RawConfig, SeedConfig, SeedSecrets, seedArgs } from "./program/config";

const config = new pulumi.Config();

function load(): SeedConfig {
    const password = config.getSecret("registryPassword");
    const optional = Object.fromEntries(OPTIONAL_SECRETS.map((key) => [key, config.getSecret(key)])) as Omit<SeedSecrets, "registryPassword">;
    const raw: RawConfig = Object.fromEntries(CONFIG_KEYS.map((key) => [key, config.get(key)]));
    try {
        if (password === undefined) {
            throw new ConfigError(["registryPassword: not set; set it with `pulumi config set --secret registryPassword <password>`"]);
        }
        return seedArgs(raw, { registryPassword: password, ...optional });
    } catch (err) {
        // One message, no stack trace: the keys and what is allowed.
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

const { args, nodeAddress } = load();
const canary = new StatefulSetCanary(args.name!, args);

export const images = canary.images;
export const namespace = canary.namespace;
export const statefulSetName = canary.statefulSetName;
export const serviceName = canary.serviceName;
export const headlessServiceName = canary.headlessServiceName;
export const nodePortUrl = pulumi.interpolate`http://${nodeAddress}:${canary.nodePort}/`;
export const ordinalVersions = canary.ordinalVersions;
export const imageTag = args.version;
export const partition = args.partition;
export const replicas = args.replicas;
// What pods below the partition run, read from the cluster by the rollout check (what
// `sts-canary status` and rollbacks go back to), and the step in words.
export const stable = canary.stableVersion;
export const step = canary.step;
export const rolloutSummary = canary.rolloutSummary;
// The contract the sts-canary tool operates this stack through.
export const stsCanary = canary.contract;
