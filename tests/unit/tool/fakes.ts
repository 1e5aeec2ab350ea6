/**
 * In-memory fakes of the tool's ports: a clock that moves only when told, a cluster holding one
 * StatefulSet, its pods, the Lease and the ConfigMap (with resourceVersions and 409 conflicts), and
 * a stack whose `up` plays the program plus the rollout check on that cluster.
 */
import type { CanaryContract, Clock, PodView, StatefulSetView } from "sts-canary/api";
import { Holder } from "../../../tool/holder";
import type { LiveState } from "sts-canary/api";
import { BackendLock, ClusterUnavailable, Conflict, UpFailed } from "../../../tool/errors";
import type { ToolContext } from "../../../tool/core";
import { CanaryTarget, ClusterPort, DeployedUpdate, LeaseObject, LiveWatch, RecordObject, StackConfig, StackPort } from "../../../tool/ports";

export const T0 = Date.parse("2026-11-25T12:00:00Z");

export class FakeClock implements Clock {
    private waiters: { until: number; resolve: () => void }[] = [];

    constructor(public time = T0) {}

    now(): number {
        return this.time;
    }

    sleep(ms: number, signal?: AbortSignal): Promise<void> {
        return new Promise((resolve) => {
            if (signal?.aborted) return resolve();
            const waiter = { until: this.time + ms, resolve: () => { signal?.removeEventListener("abort", done); resolve(); } };
            const done = () => {
                this.waiters = this.waiters.filter((w) => w !== waiter);
                waiter.resolve();
            };
            signal?.addEventListener("abort", done, { once: true });
            this.waiters.push(waiter);
        });
    }

    /** Moves time on and wakes the sleepers whose time has come. */
    async advance(ms: number): Promise<void> {
        this.time += ms;
        const due = this.waiters.filter((w) => w.until <= this.time);
        this.waiters = this.waiters.filter((w) => w.until > this.time);
        for (const w of due) w.resolve();
        for (let i = 0; i < 5; i++) await Promise.resolve();
        await new Promise((r) => setImmediate(r));
    }
}

export const digestOf = (version: string) => "sha256:" + Buffer.from(version).toString("hex").padEnd(64, "0").slice(0, 64);
export const refOf = (version: string, registry = "127.0.0.1:5443") => `${registry}/library/version-test:${version}@${digestOf(version)}`;

interface FakePod {
    ordinal: number;
    uid: string;
    version: string;
    ready: boolean;
    restarts: number;
    waiting?: string;
}

/** One StatefulSet in one namespace, the objects of the operation, and call counters. */
export class FakeCluster implements ClusterPort {
    readonly description: string;
    namespace = "shop";
    name = "web";
    partition = 0;
    templateVersion = "v1";
    stableVersion = "v1";
    generation = 1;
    /** The StatefulSet's metadata.uid (a new one when it is deleted and created again). */
    uid = "sts-uid-1";
    pods: FakePod[] = [];
    private uids = 0;
    private version = 100;
    readonly leases = new Map<string, LeaseObject>();
    readonly records = new Map<string, RecordObject>();
    /** When set, every call fails as an unreachable API server does. */
    unreachable = false;
    /** Conflicts to answer to the next ConfigMap writes (someone else wrote first). */
    recordConflicts = 0;
    readonly deletedPods: string[] = [];
    /**
     * The API server's clock, when a test models one: lease writes and reads are then stamped with
     * it in whole seconds (managedFields time, Date header), as a real server does.
     */
    serverClock?: { now(): number };

    constructor(replicas = 5, version = "v1", description = "https://127.0.0.1:6443 (context local) from kubernetes:kubeconfig (/k)") {
        this.description = description;
        this.templateVersion = this.stableVersion = version;
        for (let i = 0; i < replicas; i++) this.pods.push(this.newPod(i, version));
    }

    private newPod(ordinal: number, version: string, ready = true): FakePod {
        return { ordinal, uid: `uid-${++this.uids}`, version, ready, restarts: 0 };
    }

    get replicas(): number {
        return this.pods.length;
    }

    /** What the StatefulSet controller does with a template and a partition (and a broken version). */
    apply(version: string, partition: number, broken: Set<string>): void {
        this.templateVersion = version;
        this.partition = partition;
        this.generation++;
        this.pods = this.pods.map((p) => {
            if (p.ordinal < partition || p.version === version) {
                // A pod stuck on another revision than the controller would give it is replaced by the rollout check:
                // the template's at or above the partition, the stable one below it.
                if (p.ordinal >= partition && !p.ready) return this.newPod(p.ordinal, version, !broken.has(version));
                if (p.ordinal < partition && !p.ready && p.version !== this.stableVersion) return this.newPod(p.ordinal, this.stableVersion, true);
                return p;
            }
            const pod = this.newPod(p.ordinal, version, !broken.has(version));
            if (broken.has(version)) pod.waiting = "CrashLoopBackOff";
            return pod;
        });
        if (partition === 0 && this.pods.every((p) => p.version === version && p.ready)) this.stableVersion = version;
    }

    private check(): void {
        if (this.unreachable) throw new ClusterUnavailable(`cannot reach the stack's cluster ${this.description}: connect ECONNREFUSED`);
    }

    sts(): StatefulSetView {
        return {
            uid: this.uid, generation: this.generation, observedGeneration: this.generation, replicas: this.replicas, partition: this.partition,
            currentRevision: `web-${this.stableVersion}`, updateRevision: `web-${this.templateVersion}`, minReadySeconds: 0,
        };
    }

    podViews(): PodView[] {
        return this.pods.map((p) => ({
            name: `${this.name}-${p.ordinal}`, ordinal: p.ordinal, uid: p.uid, revision: `web-${p.version}`, version: p.version,
            image: refOf(p.version), ready: p.ready, createdAt: T0, terminating: false, phase: p.ready ? "Running" : "Running", restarts: p.restarts,
            waiting: p.waiting ? { container: "nginx", reason: p.waiting } : undefined,
        }));
    }

    async readLive(target: CanaryTarget): Promise<LiveState> {
        this.check();
        if (target.namespace !== this.namespace || target.statefulSetName !== this.name) return { pods: [], revisionVersions: {} };
        return { statefulSet: this.sts(), pods: this.podViews(), revisionVersions: { [`web-${this.stableVersion}`]: this.stableVersion } };
    }

    async watch(target: CanaryTarget): Promise<LiveWatch> {
        const live = await this.readLive(target);
        return { live: () => live, sync: () => ({ synced: true }), stop: () => undefined };
    }

    private key(namespace: string, name: string): string {
        return `${namespace}/${name}`;
    }

    private nextVersion(): string {
        return String(++this.version);
    }

    private serverSecond(): number | undefined {
        return this.serverClock ? Math.floor(this.serverClock.now() / 1000) * 1000 : undefined;
    }

    /** What the server stores of a written lease: never the client's idea of the server times. */
    private stamped(lease: LeaseObject): LeaseObject {
        const rest: LeaseObject = { ...lease };
        delete rest.serverWrittenAt;
        delete rest.serverReadAt;
        return { ...rest, resourceVersion: this.nextVersion(), ...(this.serverClock ? { serverWrittenAt: this.serverSecond() } : {}) };
    }

    async getLease(namespace: string, name: string): Promise<LeaseObject | undefined> {
        this.check();
        const lease = this.leases.get(this.key(namespace, name));
        return lease ? { ...lease, ...(this.serverClock ? { serverReadAt: this.serverSecond() } : {}) } : undefined;
    }

    async createLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject> {
        this.check();
        if (this.leases.has(this.key(namespace, name))) throw new Conflict("leases already exists");
        const stored = this.stamped(lease);
        this.leases.set(this.key(namespace, name), stored);
        return { ...stored };
    }

    async replaceLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject> {
        this.check();
        const current = this.leases.get(this.key(namespace, name));
        if (!current || current.resourceVersion !== lease.resourceVersion) throw new Conflict("the object has been modified");
        const stored = this.stamped(lease);
        this.leases.set(this.key(namespace, name), stored);
        return { ...stored };
    }

    async deleteLease(namespace: string, name: string, resourceVersion: string): Promise<void> {
        this.check();
        const current = this.leases.get(this.key(namespace, name));
        if (!current) return;
        if (current.resourceVersion !== resourceVersion) throw new Conflict("precondition failed");
        this.leases.delete(this.key(namespace, name));
    }

    async getRecord(namespace: string, name: string): Promise<RecordObject | undefined> {
        this.check();
        const record = this.records.get(this.key(namespace, name));
        return record ? { data: { ...record.data }, resourceVersion: record.resourceVersion } : undefined;
    }

    private conflictNow(): boolean {
        if (this.recordConflicts <= 0) return false;
        this.recordConflicts--;
        return true;
    }

    async createRecord(namespace: string, name: string, record: RecordObject): Promise<RecordObject> {
        this.check();
        if (this.records.has(this.key(namespace, name)) || this.conflictNow()) throw new Conflict("configmaps already exists");
        const stored = { data: { ...record.data }, resourceVersion: this.nextVersion() };
        this.records.set(this.key(namespace, name), stored);
        return { data: { ...stored.data }, resourceVersion: stored.resourceVersion };
    }

    async replaceRecord(namespace: string, name: string, record: RecordObject): Promise<RecordObject> {
        this.check();
        const current = this.records.get(this.key(namespace, name));
        if (!current || current.resourceVersion !== record.resourceVersion || this.conflictNow()) throw new Conflict("the object has been modified");
        const stored = { data: { ...record.data }, resourceVersion: this.nextVersion() };
        this.records.set(this.key(namespace, name), stored);
        return { data: { ...stored.data }, resourceVersion: stored.resourceVersion };
    }
}

export const PROJECT = "shop";

/** A stack whose `up` plays the program and the rollout check against a FakeCluster. */
export class FakeStack implements StackPort {
    readonly project = PROJECT;
    readonly backend = "postgres://127.0.0.1:15432/pulumi_state";
    config: StackConfig = {};
    private deployed?: CanaryContract;
    /** Versions whose pods crash-loop: `up` fails with the rollout check's words. */
    readonly broken = new Set<string>();
    readonly calls: string[] = [];
    previewFails = false;
    /** A lock the state backend holds (a killed `pulumi`): `up` and refresh fail until cancelled. */
    backendLock?: BackendLock;
    /** Runs at the start of every `up` (another operator, Ctrl-C...). */
    onUp?: (count: number) => Promise<void> | void;
    private ups = 0;
    /** The stack's successful updates, newest last (each `up` that succeeds adds one, with its message and config, secrets blank). */
    readonly history: DeployedUpdate[] = [];
    /** The message and policy packs of every `up`. */
    readonly upOptions: { message?: string; policyPacks?: string[] }[] = [];

    constructor(readonly name: string, readonly cluster: FakeCluster, readonly versions = ["v1", "v2", "v3"]) {
        this.config = {
            [`${PROJECT}:imageTag`]: { value: cluster.templateVersion, secret: false },
            [`${PROJECT}:partition`]: { value: String(cluster.partition), secret: false },
            [`${PROJECT}:registryServer`]: { value: "127.0.0.1:5443", secret: false },
            [`${PROJECT}:registryPassword`]: { value: "s3cret-registry", secret: true },
            "kubernetes:context": { value: "local", secret: false },
        };
        this.deployed = this.contract();
    }

    private images(): Record<string, string> {
        const images = Object.fromEntries(this.versions.map((v) => [v, refOf(v)]));
        const pinned = this.config[`${PROJECT}:pinnedImages`];
        for (const entry of (pinned?.objectValue as string[] | undefined) ?? []) images[entry.split("=")[0]] = entry.slice(entry.indexOf("=") + 1);
        return images;
    }

    private contract(): CanaryContract {
        const c = this.cluster;
        return {
            contract: 2, namespace: c.namespace, statefulSetName: c.name, container: "nginx", images: this.images(),
            templateVersion: c.templateVersion, partition: c.partition, replicas: c.replicas, stableVersion: c.stableVersion,
            registry: this.get("registryServer"), configKeys: { version: "imageTag", partition: "partition", replicas: "replicas", pinnedImages: "pinnedImages" },
        };
    }

    /** The value of a project key, or undefined when absent. */
    get(key: string): string | undefined {
        return this.config[`${PROJECT}:${key}`]?.value;
    }

    async getConfig(): Promise<StackConfig> {
        this.calls.push("getConfig");
        return JSON.parse(JSON.stringify(this.config)) as StackConfig;
    }

    async setConfig(values: StackConfig): Promise<void> {
        this.calls.push(`setConfig ${Object.keys(values).map((k) => `${k.split(":")[1]}=${values[k].value}`).join(" ")}`);
        for (const [k, v] of Object.entries(values)) this.config[k] = JSON.parse(JSON.stringify(v));
    }

    async removeConfig(keys: string[]): Promise<void> {
        this.calls.push(`removeConfig ${keys.map((k) => k.split(":")[1]).join(" ")}`);
        for (const k of keys) delete this.config[k];
    }

    private lockFailure(): UpFailed | undefined {
        if (!this.backendLock) return undefined;
        const l = this.backendLock;
        return new UpFailed(`the stack is currently locked by 1 lock(s): created by ${l.user}@${l.host} (pid ${l.pid}) at ${l.createdAt}`, [l]);
    }

    async up(options: { signal?: AbortSignal; message?: string; policyPacks?: string[] }): Promise<{ seconds: number }> {
        this.ups++;
        this.calls.push("up");
        this.upOptions.push({ message: options.message, policyPacks: options.policyPacks });
        await this.onUp?.(this.ups);
        const locked = this.lockFailure();
        if (locked) throw locked;
        if (options.signal?.aborted) throw new UpFailed("interrupted", [], true);
        const version = this.get("imageTag") ?? "v1";
        const partition = Number(this.get("partition") ?? "0");
        const images = this.images();
        if (!images[version]) throw new UpFailed(`invalid stack configuration: imageTag: "${version}" is not a built or pinned version`);
        this.cluster.apply(version, partition, this.broken);
        if (this.broken.has(version) && partition < this.cluster.replicas) {
            throw new UpFailed(`rollout of StatefulSet shop/web failed: pod web-${this.cluster.replicas - 1} (ordinal ${this.cluster.replicas - 1}, image ${images[version]}): CrashLoopBackOff`);
        }
        this.deployed = this.contract();
        this.history.push({ message: options.message ?? "", config: this.historyConfig() });
        return { seconds: 3 };
    }

    /** The config as the stack history records it: secrets without their values. */
    private historyConfig(): StackConfig {
        const config = JSON.parse(JSON.stringify(this.config)) as StackConfig;
        for (const entry of Object.values(config)) if (entry.secret) entry.value = "";
        return config;
    }

    async lastDeployedConfig(): Promise<DeployedUpdate | undefined> {
        this.calls.push("history");
        const last = this.history[this.history.length - 1];
        return last ? JSON.parse(JSON.stringify(last)) as DeployedUpdate : undefined;
    }

    async preview(): Promise<string> {
        this.calls.push("preview");
        if (this.previewFails) throw new Error("preview failed: policy violation");
        return `~ imageTag: "${this.deployed?.templateVersion}" => "${this.get("imageTag")}"`;
    }

    async outputs(): Promise<Record<string, unknown>> {
        return this.deployed ? { stsCanary: JSON.parse(JSON.stringify(this.deployed)), rolloutSummary: "all Ready" } : {};
    }

    async refreshWorkload(): Promise<void> {
        this.calls.push("refresh");
        const locked = this.lockFailure();
        if (locked) throw locked;
    }

    async cancelBackendLock(): Promise<void> {
        this.calls.push("cancel");
        this.backendLock = undefined;
    }

    /** Forgets the last deployment (a stack never deployed). */
    undeploy(): void {
        this.deployed = undefined;
    }
}

export const ALICE: Holder = { user: "alice", host: "laptop", pid: 111, checkout: "/home/alice/shop" };
export const BOB: Holder = { user: "bob", host: "ci-runner", pid: 222, checkout: "/builds/shop" };

export function context(stack: FakeStack, cluster: FakeCluster, clock: FakeClock, holder: Holder, extra: Partial<ToolContext> = {}): ToolContext & { lines: string[] } {
    const lines: string[] = [];
    return { stack, cluster, clock, holder, say: (l) => lines.push(l), signal: new AbortController().signal, lines, ...extra };
}
