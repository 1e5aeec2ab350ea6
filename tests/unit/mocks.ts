/**
 * The one shared Pulumi mocks module of the unit tests. `setMocks` replaces the previous mocks,
 * so every test file goes through `installMocks()` here and reads what was registered from
 * `registered` (inputs as the program sent them) and `registeredUrns()` (with parent chains).
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import type { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { LiveVersions, describeStep } from "../../components/rollout/describe";

export const PROJECT = "sts-canary";
export const STACK = "unit";
export const FAKE_DIGEST = (version: string): string =>
    "sha256:" + Buffer.from(version).toString("hex").padEnd(64, "0").slice(0, 64);

export interface Registered {
    type: string;
    name: string;
    /** Inputs with secrets unwrapped to their values. */
    inputs: Record<string, any>;
    /** Dotted paths of the inputs that were sent as secrets, e.g. "registry.password". */
    secretPaths: string[];
    custom: boolean;
    /** The retainOnDelete resource option. */
    retainOnDelete: boolean;
}

/** retainOnDelete of each registration by name (MockResourceArgs does not carry resource options). */
const retained = new Map<string, boolean>();

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Replaces secret wrappers by their values, collecting where they were. */
function unwrapSecrets(value: any, at: string, paths: string[]): any {
    if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, paths));
    if (value === null || typeof value !== "object") return value;
    if (value[SIG_KEY] === SECRET_SIG) {
        paths.push(at);
        return unwrapSecrets(value.value, at, paths);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, paths)]));
}

/** Every resource registration, in order. */
export const registered: Registered[] = [];

/**
 * What the mock rollout check "sees" in the cluster, by StatefulSet name (none: a first deploy).
 * The mock answers like the real check() in a preview: the step described from these versions.
 */
export const liveVersions: Record<string, LiveVersions> = {};

let installed = false;

export async function installMocks(): Promise<void> {
    if (installed) return;
    installed = true;
    await pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } {
            const secretPaths: string[] = [];
            const inputs = unwrapSecrets(args.inputs, "", secretPaths);
            registered.push({ type: args.type, name: args.name, inputs, secretPaths, custom: args.custom ?? false, retainOnDelete: retained.get(args.name) ?? false });
            const state: Record<string, any> = { ...args.inputs };
            switch (args.type) {
                case "pulumi-nodejs:dynamic/sts-canary:RolloutCheck": {
                    const step = { name: inputs.name, replicas: inputs.replicas, partition: inputs.partition, version: inputs.version };
                    const described = describeStep(step, liveVersions[inputs.name] ?? { pods: {} });
                    Object.assign(state, { step: described.text, ordinalVersions: described.ordinalVersions, stableVersion: described.stableVersion, summary: "mock" });
                    break;
                }
                case "docker:index/image:Image": {
                    const version = String(args.inputs.imageName).split(":").pop() ?? "";
                    const repository = String(args.inputs.imageName).replace(/:[^:/]+$/, "");
                    state.repoDigest = `${repository}@${FAKE_DIGEST(version)}`;
                    break;
                }
                case "pulumi-nodejs:dynamic/sts-canary:DockerCliImage": {
                    const version = String(args.inputs.imageName).split(":").pop() ?? "";
                    const repository = String(args.inputs.imageName).replace(/:[^:/]+$/, "");
                    state.digest = FAKE_DIGEST(version);
                    state.repoDigest = `${repository}@${state.digest}`;
                    break;
                }
                default:
                    if (args.type.startsWith("kubernetes:")) {
                        state.metadata = { ...(inputs.metadata ?? {}), uid: `uid-${args.name}`, generation: 1 };
                    }
            }
            return { id: `${args.name}-id`, state };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
            return args.inputs;
        },
    }, PROJECT, STACK, false, "organization");
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: any, cb: unknown) => unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        retained.set(req.getName(), req.getRetainondelete());
        return register(req, cb);
    };
}

/** URNs of everything registered so far; their type part carries the parent chain. */
export function registeredUrns(): string[] {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const settings = require("@pulumi/pulumi/runtime/settings");
    const monitor = settings.getMonitor() as MockMonitor;
    return [...monitor.getRegisteredResources().keys()];
}

/** Resolves an Output in a test (apply runs once the value is known). */
export function unwrap<T>(output: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((value) => { resolve(value as T); return value; }));
}

/** Whether an Output is marked secret. */
export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
    return pulumi.isSecret(output);
}

/** Sets the stack config the next program import reads (keys without the project prefix). */
/**
 * The seed program's Pulumi.yaml defaults as strings, the way the CLI hands them to the program
 * when a stack does not set a key (lists as JSON).
 */
export function projectDefaults(): Record<string, string> {
    const project = yaml.load(fs.readFileSync(path.resolve(__dirname, "../../Pulumi.yaml"), "utf8")) as { config: Record<string, { default?: unknown }> };
    return Object.fromEntries(Object.entries(project.config).filter(([, e]) => e.default !== undefined)
        .map(([key, e]) => [key, typeof e.default === "string" ? e.default : JSON.stringify(e.default)]));
}

/** Stack config for a program run: the project's defaults, overridden by `values`. */
export function setConfig(values: Record<string, string>, secretKeys: string[] = []): void {
    const prefixed = Object.fromEntries(Object.entries({ ...projectDefaults(), ...values }).map(([k, v]) => [`${PROJECT}:${k}`, v]));
    pulumi.runtime.setAllConfig(prefixed, secretKeys.map((k) => `${PROJECT}:${k}`));
}

export function byType(type: string, namePrefix = ""): Registered[] {
    return registered.filter((r) => r.type === type && r.name.startsWith(namePrefix));
}
