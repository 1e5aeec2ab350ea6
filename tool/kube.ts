/**
 * The ClusterPort on @kubernetes/client-node, for the stack's cluster: resolved from the stack's
 * own config (`kubernetes:kubeconfig`, `kubernetes:context`, `kubernetes:cluster`) and the
 * environment exactly as its Kubernetes provider resolves it (components/cluster.ts through
 * sts-canary/api). Never kubectl, never the environment's current context when the stack names
 * another one.
 */
import * as k8s from "@kubernetes/client-node";
import {
    Informer, KubeRolloutCluster, type LiveState, apiError, clusterAccessFromConfig, clusterName, describeAccess, kubeconfigSource, loadKubeConfig,
    readLive, withTimeout,
} from "sts-canary/api";
import { ClusterError, ClusterUnavailable, Conflict } from "./errors";
import { CanaryTarget, ClusterPort, LeaseObject, LiveWatch, RecordObject, StackConfig } from "./ports";

/** Bound of every API call: an unreachable server must not hang a command. */
const REQUEST_TIMEOUT_MS = 20_000;

/** The stack's cluster, or ClusterUnavailable saying which config could not be used. */
export function resolveCluster(stackName: string, config: StackConfig, env: NodeJS.ProcessEnv = process.env): KubeCluster {
    const access = clusterAccessFromConfig((key) => config[`kubernetes:${key}`]?.value);
    let kc: k8s.KubeConfig;
    try {
        kc = loadKubeConfig(access, env);
    } catch (err) {
        throw new ClusterUnavailable(`cannot resolve the cluster of stack ${stackName}: ${(err as Error).message}`);
    }
    return new KubeCluster(kc, `${clusterName(kc)} from ${describeAccess(access, kubeconfigSource(access, env))}`);
}

export class KubeCluster implements ClusterPort {
    private readonly core: k8s.CoreV1Api;
    private readonly apps: k8s.AppsV1Api;
    private readonly coordination: k8s.CoordinationV1Api;

    constructor(private readonly kc: k8s.KubeConfig, readonly description: string) {
        this.core = kc.makeApiClient(k8s.CoreV1Api);
        this.apps = kc.makeApiClient(k8s.AppsV1Api);
        this.coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    }

    /** One API call: 404 -> undefined, 409 -> Conflict, no answer -> ClusterUnavailable. */
    private async call<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
        try {
            return await withTimeout(run(), REQUEST_TIMEOUT_MS, what);
        } catch (err) {
            const e = apiError(err);
            if (e.code === 404) return undefined;
            if (e.code === 409) throw new Conflict(`${what}: ${e.message}`);
            if (e.code === 0) throw new ClusterUnavailable(`cannot reach the stack's cluster ${this.description}: ${what}: ${e.message}`);
            throw new ClusterError(`${what} on ${this.description}: ${e.code} ${e.message}`, { cause: err });
        }
    }

    readLive(target: CanaryTarget): Promise<LiveState> {
        const what = `reading StatefulSet ${target.namespace}/${target.statefulSetName}, its pods and revisions`;
        return this.call(what, () => readLive(this.kc, target)).then((live) => live ?? { pods: [], revisionVersions: {} });
    }

    /** List+watch of the StatefulSet and its pods (the rollout check's informers) and of the operation's ConfigMap. */
    async watch(target: CanaryTarget, objectName: string, onChange: () => void): Promise<LiveWatch> {
        const { namespace, statefulSetName: name, container } = target;
        const rollout = new KubeRolloutCluster(this.kc, namespace, name, container);
        const records = new Informer<k8s.V1ConfigMap>({
            kc: this.kc, path: `/api/v1/namespaces/${namespace}/configmaps`, fieldSelector: `metadata.name=${objectName}`,
            what: `ConfigMap ${namespace}/${objectName}`, onChange,
            list: async () => {
                const list = await this.core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${objectName}` });
                return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
            },
        });
        records.start();
        await rollout.start(onChange);
        const sync = rollout.sync();
        if (!sync.synced && (sync.permanent || !rollout.statefulSet())) {
            rollout.stop();
            records.stop();
            throw new ClusterUnavailable(`cannot watch ${namespace}/${name} on ${this.description}: ${sync.error ?? "no answer within 10s"}`);
        }
        let revisionVersions: Record<string, string> = {};
        // The revisions only name versions in the view; a failed refresh keeps the last ones and is retried on the next change.
        const refreshRevisions = () => rollout.revisionVersions().then((r) => { revisionVersions = r; }, () => undefined);
        await refreshRevisions();
        return {
            live: () => {
                const statefulSet = rollout.statefulSet();
                if (statefulSet && (!revisionVersions[statefulSet.currentRevision] || !revisionVersions[statefulSet.updateRevision])) void refreshRevisions();
                return { statefulSet, pods: rollout.pods(), revisionVersions };
            },
            sync: () => rollout.sync(),
            stop: () => {
                rollout.stop();
                records.stop();
            },
        };
    }

    async getLease(namespace: string, name: string): Promise<LeaseObject | undefined> {
        const answer = await this.call(`reading Lease ${namespace}/${name}`, () => this.coordination.readNamespacedLeaseWithHttpInfo({ name, namespace }));
        if (!answer) return undefined;
        return { ...leaseObject(answer.data), ...serverTimes(answer.data, answer.headers) };
    }

    private leaseBody(namespace: string, name: string, lease: LeaseObject): k8s.V1Lease {
        return {
            apiVersion: "coordination.k8s.io/v1", kind: "Lease",
            metadata: { name, namespace, resourceVersion: lease.resourceVersion, labels: { "app.kubernetes.io/managed-by": "sts-canary" } },
            // MicroTime strings are sent as they are (six fractional digits, as the API server requires).
            spec: {
                holderIdentity: lease.holderIdentity, leaseDurationSeconds: lease.leaseDurationSeconds, leaseTransitions: lease.leaseTransitions,
                acquireTime: lease.acquireTime as unknown as Date, renewTime: lease.renewTime as unknown as Date,
            },
        };
    }

    async createLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject> {
        const created = await this.call(`creating Lease ${namespace}/${name}`,
            () => this.coordination.createNamespacedLease({ namespace, body: this.leaseBody(namespace, name, { ...lease, resourceVersion: undefined }) }));
        if (!created) throw new Error(`creating Lease ${namespace}/${name}: namespace ${namespace} not found`);
        return leaseObject(created);
    }

    async replaceLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject> {
        const replaced = await this.call(`renewing Lease ${namespace}/${name}`,
            () => this.coordination.replaceNamespacedLease({ name, namespace, body: this.leaseBody(namespace, name, lease) }));
        if (!replaced) throw new Conflict(`Lease ${namespace}/${name} is gone`);
        return leaseObject(replaced);
    }

    async deleteLease(namespace: string, name: string, resourceVersion: string): Promise<void> {
        await this.call(`deleting Lease ${namespace}/${name}`,
            () => this.coordination.deleteNamespacedLease({ name, namespace, body: { preconditions: { resourceVersion } } }));
    }

    async getRecord(namespace: string, name: string): Promise<RecordObject | undefined> {
        const cm = await this.call(`reading ConfigMap ${namespace}/${name}`, () => this.core.readNamespacedConfigMap({ name, namespace }));
        return cm ? { data: cm.data ?? {}, resourceVersion: cm.metadata?.resourceVersion } : undefined;
    }

    private configMapBody(namespace: string, name: string, record: RecordObject): k8s.V1ConfigMap {
        return {
            apiVersion: "v1", kind: "ConfigMap",
            metadata: { name, namespace, resourceVersion: record.resourceVersion, labels: { "app.kubernetes.io/managed-by": "sts-canary" } },
            data: record.data,
        };
    }

    async createRecord(namespace: string, name: string, record: RecordObject): Promise<RecordObject> {
        const created = await this.call(`creating ConfigMap ${namespace}/${name}`,
            () => this.core.createNamespacedConfigMap({ namespace, body: this.configMapBody(namespace, name, { ...record, resourceVersion: undefined }) }));
        if (!created) throw new Error(`creating ConfigMap ${namespace}/${name}: namespace ${namespace} not found`);
        return { data: created.data ?? {}, resourceVersion: created.metadata?.resourceVersion };
    }

    async replaceRecord(namespace: string, name: string, record: RecordObject): Promise<RecordObject> {
        const replaced = await this.call(`writing ConfigMap ${namespace}/${name}`,
            () => this.core.replaceNamespacedConfigMap({ name, namespace, body: this.configMapBody(namespace, name, record) }));
        if (!replaced) throw new Conflict(`ConfigMap ${namespace}/${name} is gone`);
        return { data: replaced.data ?? {}, resourceVersion: replaced.metadata?.resourceVersion };
    }
}

function timeText(value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    return value instanceof Date ? value.toISOString() : String(value);
}

/**
 * When the API server last wrote the lease (the newest time of its managedFields: every write of
 * the tool changes renewTime, which moves that time) and when it answered (the Date header): two
 * readings of the same clock, so the lease's age does not depend on this machine's clock.
 */
export function serverTimes(lease: k8s.V1Lease, headers: Record<string, string>): Pick<LeaseObject, "serverWrittenAt" | "serverReadAt"> {
    const written = (lease.metadata?.managedFields ?? [])
        .map((f) => Date.parse(timeText(f.time) ?? ""))
        .filter((t) => Number.isFinite(t));
    const readAt = Date.parse(headers["date"] ?? headers["Date"] ?? "");
    if (!written.length || !Number.isFinite(readAt)) return {};
    return { serverWrittenAt: Math.max(...written), serverReadAt: readAt };
}

function leaseObject(lease: k8s.V1Lease): LeaseObject {
    return {
        holderIdentity: lease.spec?.holderIdentity ?? undefined,
        leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? undefined,
        acquireTime: timeText(lease.spec?.acquireTime),
        renewTime: timeText(lease.spec?.renewTime),
        leaseTransitions: lease.spec?.leaseTransitions ?? undefined,
        resourceVersion: lease.metadata?.resourceVersion,
    };
}
