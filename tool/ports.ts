/**
 * What the tool's core needs of the outside world, as interfaces: the stack (Pulumi Automation
 * API: config, up, preview, outputs) and the stack's cluster (the live StatefulSet, the Lease and
 * the ConfigMap of the operation). The commands wire the real ones (stack.ts, kube.ts); the unit
 * tests wire in-memory fakes (tests/unit/tool/fakes.ts).
 */
import type { LiveState, LiveTarget, SyncState } from "sts-canary/api";

/** One stack config value, as `pulumi config --json` shows it (objectValue for lists and maps). */
export interface ConfigEntry {
    value: string;
    objectValue?: unknown;
    secret: boolean;
}

/** Stack config by full key: `<project>:partition`, `kubernetes:context`, ... */
export type StackConfig = Record<string, ConfigEntry>;

/** The stack's newest successful update (its history): what it runs. */
export interface DeployedUpdate {
    /** The update's message (`pulumi up --message`; a deploy names its commit in it). */
    message: string;
    /** The config it ran with; secrets without their values. */
    config: StackConfig;
}

export interface StackPort {
    readonly name: string;
    /** Project name: the namespace of the keys the tool sets (`<project>:partition`). */
    readonly project: string;
    /** Where the state lives, without credentials (records and messages). */
    readonly backend: string;
    getConfig(): Promise<StackConfig>;
    /** Sets these keys (full keys) exactly as given. */
    setConfig(values: StackConfig): Promise<void>;
    removeConfig(keys: string[]): Promise<void>;
    /** `pulumi up` (with the policy packs and the update's message when given); rejects with UpFailed. */
    up(options: { signal?: AbortSignal; onOutput?: (text: string) => void; message?: string; policyPacks?: string[] }): Promise<{ seconds: number }>;
    /** The newest successful `update` in the stack's history; undefined when there is none (or a destroy came after it). */
    lastDeployedConfig(): Promise<DeployedUpdate | undefined>;
    /** `pulumi preview --diff`: the diff text. */
    preview(): Promise<string>;
    /** Stack outputs (plain values). */
    outputs(): Promise<Record<string, unknown>>;
    /** Refreshes the StatefulSet's state from the cluster (after an `up` that was stopped half-way). */
    refreshWorkload(): Promise<void>;
    /** Removes the state backend's locks on the stack (`pulumi cancel`). */
    cancelBackendLock(): Promise<void>;
}

/** Where the canary lives in its cluster (from the stack's `stsCanary` output). */
export type CanaryTarget = Required<LiveTarget>;

/** A coordination.k8s.io/v1 Lease, as much of it as the lock uses. */
export interface LeaseObject {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    /** RFC 3339 with microseconds. */
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
    /** Set by the API server; required by replace and delete (optimistic concurrency). */
    resourceVersion?: string;
    /**
     * Read only, both on the API server's clock (ms since the epoch, whole seconds): when the lease
     * was last written (its newest managedFields time) and when it was read (the response's Date
     * header). When both are known, expiry is judged from them, so the operators' clocks need not agree.
     */
    serverWrittenAt?: number;
    serverReadAt?: number;
}

/** The ConfigMap's data and version. */
export interface RecordObject {
    data: Record<string, string>;
    resourceVersion?: string;
}



/** A live view that follows changes (watches), for `status --watch`. */
export interface LiveWatch {
    live(): LiveState;
    /** Whether the view is in sync (watches connected); a view out of sync may be stale. */
    sync(): SyncState;
    stop(): void;
}

export interface ClusterPort {
    /** Where requests go and why, e.g. `https://127.0.0.1:6443 (context local) from kubernetes:kubeconfig (/x)`. */
    readonly description: string;
    readLive(target: CanaryTarget): Promise<LiveState>;
    /** Follows the StatefulSet, its pods and the operation's ConfigMap; `onChange` after each change. */
    watch(target: CanaryTarget, objectName: string, onChange: () => void): Promise<LiveWatch>;
    getLease(namespace: string, name: string): Promise<LeaseObject | undefined>;
    /** Conflict when it exists. */
    createLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject>;
    /** Conflict when `lease.resourceVersion` is not the current one. */
    replaceLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject>;
    /** Conflict when `resourceVersion` is not the current one; nothing when it is gone. */
    deleteLease(namespace: string, name: string, resourceVersion: string): Promise<void>;
    getRecord(namespace: string, name: string): Promise<RecordObject | undefined>;
    /** Conflict when it exists. */
    createRecord(namespace: string, name: string, record: RecordObject): Promise<RecordObject>;
    /** Conflict when `record.resourceVersion` is not the current one. */
    replaceRecord(namespace: string, name: string, record: RecordObject): Promise<RecordObject>;
}
