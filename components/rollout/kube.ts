/**
 * The RolloutCluster of the rollout check on @kubernetes/client-node: the stack's cluster
 * (cluster.ts), a list+watch of one StatefulSet and its pods, and the few calls the check makes.
 * Loaded only where a step runs (the dynamic provider process, the tool), never by a program run.
 */
import * as https from "https";
import * as k8s from "@kubernetes/client-node";
import { ClusterAccess, describeAccess, kubeconfigSource } from "../cluster";
import type { PodView, StatefulSetView } from "./decide";
import type { HttpProbe } from "./gates";
import { httpGet } from "./http";
import { Informer } from "./informer";
import type { PodEvidence, RolloutCluster, SyncState } from "./runner";
import { listRevisionVersions, podViews } from "./live";
import { labelSelector, podView, statefulSetView } from "./views";

/** A KubeConfig for the stack's cluster, or an error that says which one could not be used. */
export function loadKubeConfig(access: ClusterAccess, env: NodeJS.ProcessEnv = process.env): k8s.KubeConfig {
    const source = kubeconfigSource(access, env);
    const kc = new k8s.KubeConfig();
    try {
        if (source.kind === "contents") kc.loadFromString(source.contents);
        else if (source.kind === "in-cluster") kc.loadFromCluster();
        else {
            kc.loadFromFile(source.files[0]);
            for (const file of source.files.slice(1)) {
                const more = new k8s.KubeConfig();
                more.loadFromFile(file);
                kc.mergeConfig(more, true);
            }
        }
    } catch (err) {
        throw new Error(`cannot load the kubeconfig of ${describeAccess(access, source)}: ${(err as Error).message}`);
    }
    if (access.context) {
        if (!kc.getContextObject(access.context)) {
            throw new Error(`kubernetes:context "${access.context}" is not in the kubeconfig of ${source.origin} `
                + `(contexts: ${kc.getContexts().map((c) => c.name).join(", ") || "none"})`);
        }
        kc.setCurrentContext(access.context);
    }
    if (access.cluster) {
        if (!kc.getCluster(access.cluster)) {
            throw new Error(`kubernetes:cluster "${access.cluster}" is not in the kubeconfig of ${source.origin} `
                + `(clusters: ${kc.getClusters().map((c) => c.name).join(", ") || "none"})`);
        }
        const current = kc.getContextObject(kc.getCurrentContext());
        const name = `${current?.name ?? "sts-canary"}@${access.cluster}`;
        kc.addContext({ name, cluster: access.cluster, user: current?.user ?? "", namespace: current?.namespace });
        kc.setCurrentContext(name);
    }
    if (!kc.getCurrentCluster()) throw new Error(`the kubeconfig of ${describeAccess(access, source)} names no cluster`);
    return kc;
}

/** "https://127.0.0.1:6443 (context local)": where requests go, for messages. */
export function clusterName(kc: k8s.KubeConfig): string {
    return `${kc.getCurrentCluster()?.server ?? "?"} (context ${kc.getCurrentContext()})`;
}

/** The status code and body of a failed client-node call. */
export function apiError(err: unknown): { code: number; body: string; message: string } {
    const e = err as { code?: number; body?: unknown; message?: string };
    const body = typeof e.body === "string" ? e.body : e.body !== undefined ? JSON.stringify(e.body) : "";
    let message = e.message ?? String(err);
    try {
        const parsed = JSON.parse(body);
        if (parsed?.message) message = parsed.message;
    } catch { /* not JSON */ }
    return { code: typeof e.code === "number" ? e.code : 0, body, message };
}

/** Bound of one list call: an API server that accepts but never answers must not stall the loop. */
const LIST_TIMEOUT_MS = 15_000;

/** The promise, or an error after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s`)), ms); });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function serverDate(headers: Record<string, string> | undefined): number | undefined {
    const date = Date.parse(headers?.["date"] ?? headers?.["Date"] ?? "");
    return Number.isFinite(date) ? date : undefined;
}

export class KubeRolloutCluster implements RolloutCluster {
    private readonly core: k8s.CoreV1Api;
    private readonly apps: k8s.AppsV1Api;
    private stsInformer?: Informer<k8s.V1StatefulSet>;
    private podInformer?: Informer<k8s.V1Pod>;
    private selector = "";
    private onChange: () => void = () => undefined;

    constructor(private readonly kc: k8s.KubeConfig, readonly namespace: string, readonly name: string, readonly container?: string) {
        this.core = kc.makeApiClient(k8s.CoreV1Api);
        this.apps = kc.makeApiClient(k8s.AppsV1Api);
    }

    /** Starts the StatefulSet's informer, and its pods' once the selector is known; waits up to 10 s for a first view. */
    async start(onChange: () => void): Promise<void> {
        const { namespace, name } = this;
        this.onChange = () => {
            this.startPods();
            onChange();
        };
        this.stsInformer = new Informer<k8s.V1StatefulSet>({
            kc: this.kc, path: `/apis/apps/v1/namespaces/${namespace}/statefulsets`, fieldSelector: `metadata.name=${name}`,
            what: `StatefulSet ${namespace}/${name} on ${clusterName(this.kc)}`, onChange: this.onChange,
            list: async () => {
                const answer = await withTimeout(this.apps.listNamespacedStatefulSetWithHttpInfo({ namespace, fieldSelector: `metadata.name=${name}` }),
                    LIST_TIMEOUT_MS, `listing StatefulSet ${namespace}/${name}`);
                return { items: answer.data.items, resourceVersion: answer.data.metadata?.resourceVersion ?? "", serverDate: serverDate(answer.headers) };
            },
        });
        this.stsInformer.start();
        await this.stsInformer.firstSync(10_000);
        await this.podInformer?.firstSync(10_000);
    }

    /** The pods' informer, once the StatefulSet (and so its immutable selector) is known. */
    private startPods(): void {
        const sts = this.stsInformer?.items()[0];
        if (this.podInformer || !sts) return;
        const { namespace, name } = this;
        this.selector = labelSelector(sts.spec?.selector?.matchLabels ?? {});
        const selector = this.selector;
        this.podInformer = new Informer<k8s.V1Pod>({
            kc: this.kc, path: `/api/v1/namespaces/${namespace}/pods`, labelSelector: selector,
            what: `pods of ${namespace}/${name} on ${clusterName(this.kc)}`, onChange: this.onChange,
            list: async () => {
                const answer = await withTimeout(this.core.listNamespacedPodWithHttpInfo({ namespace, labelSelector: selector }),
                    LIST_TIMEOUT_MS, `listing the pods of ${namespace}/${name}`);
                return { items: answer.data.items, resourceVersion: answer.data.metadata?.resourceVersion ?? "", serverDate: serverDate(answer.headers) };
            },
        });
        this.podInformer.start();
    }

    stop(): void {
        this.stsInformer?.stop();
        this.podInformer?.stop();
    }

    sync(): SyncState {
        const sts = this.stsInformer?.sync() ?? { synced: false, since: Date.now() };
        if (!sts.synced) return sts;
        if (!this.stsInformer?.items().length) return sts;
        return this.podInformer?.sync() ?? { synced: false, since: Date.now(), error: "the pods are not listed yet" };
    }

    serverOffset(): number {
        return this.podInformer?.offset ?? this.stsInformer?.offset ?? 0;
    }

    statefulSet(): StatefulSetView | undefined {
        const sts = this.stsInformer?.items().find((s) => s.metadata?.name === this.name);
        return sts ? statefulSetView(sts, this.container) : undefined;
    }

    pods(): PodView[] {
        return podViews(this.podInformer?.items() ?? [], { namespace: this.namespace, statefulSetName: this.name, container: this.container });
    }

    revisionVersions(): Promise<Record<string, string>> {
        return listRevisionVersions(this.apps, { namespace: this.namespace, statefulSetName: this.name, container: this.container }, this.selector);
    }

    /**
     * Reads the pod fresh (the cache may lag) and deletes it only if it is still the same pod, still
     * not Ready, unchanged since that read (preconditions on uid and resourceVersion).
     */
    async deletePod(pod: PodView): Promise<"deleted" | "gone" | "ready"> {
        const { namespace } = this;
        let live: k8s.V1Pod;
        try {
            live = await withTimeout(this.core.readNamespacedPod({ name: pod.name, namespace }), LIST_TIMEOUT_MS, `reading pod ${namespace}/${pod.name}`);
        } catch (err) {
            if (apiError(err).code === 404) return "gone";
            throw new Error(`cannot read pod ${namespace}/${pod.name}: ${apiError(err).message}`);
        }
        const view = podView(live, this.name, this.container);
        if (!view || view.uid !== pod.uid || view.terminating) return "gone";
        if (view.ready) return "ready";
        try {
            await this.core.deleteNamespacedPod({
                name: pod.name, namespace, body: { preconditions: { uid: pod.uid, resourceVersion: live.metadata?.resourceVersion } },
            });
            return "deleted";
        } catch (err) {
            const e = apiError(err);
            if (e.code === 404) return "gone";
            // 409: it changed since the read; the next look decides again on the new state.
            throw new Error(`cannot delete pod ${namespace}/${pod.name}: ${e.code ? `${e.code} ` : ""}${e.message}`);
        }
    }

    async evidence(pod: PodView): Promise<PodEvidence> {
        const events = await this.core.listNamespacedEvent({ namespace: this.namespace, fieldSelector: `involvedObject.name=${pod.name}` })
            .then((list) => list.items
                .filter((e) => e.type === "Warning" && (!e.involvedObject?.uid || e.involvedObject.uid === pod.uid))
                .sort((a, b) => eventTime(a) - eventTime(b))
                .slice(-5)
                .map((e) => `${e.reason}: ${(e.message ?? "").trim().slice(0, 300)}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ""}`),
            (err) => [`(could not list events: ${apiError(err).message})`]);
        const container = pod.waiting?.container ?? this.container;
        const readLog = (previous: boolean) => this.core.readNamespacedPodLog({
            name: pod.name, namespace: this.namespace, container, tailLines: 15, previous, limitBytes: 16_000,
        });
        let logPrevious = pod.restarts > 0;
        let log = await readLog(logPrevious).catch(() => undefined);
        if (log === undefined && logPrevious) {
            logPrevious = false;
            log = await readLog(false).catch(() => undefined);
        }
        const logTail = (log ?? "").split("\n").map((l) => l.trimEnd().slice(0, 300)).filter((l) => l !== "").slice(-15);
        return { events, logContainer: container, logPrevious, logTail };
    }

    /** GET through the API server's pod proxy, with the stack's credentials; the pod's own status and body. */
    async probe(pod: PodView, port: number | string, path: string): Promise<HttpProbe> {
        const server = this.kc.getCurrentCluster()?.server ?? "";
        const url = `${server}/api/v1/namespaces/${this.namespace}/pods/${pod.name}:${port}/proxy/${path.replace(/^\//, "")}`;
        try {
            const options: https.RequestOptions = {};
            await this.kc.applyToHTTPSOptions(options);
            const { status, body } = await httpGet(url, 10_000, options);
            return { pod: pod.name, status, body };
        } catch (err) {
            return { pod: pod.name, status: 0, body: "", error: (err as Error).message.split("\n")[0].slice(0, 200) };
        }
    }

    fetch(url: string): Promise<{ status: number; body: string }> {
        return httpGet(url);
    }
}

function eventTime(e: k8s.CoreV1Event): number {
    const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
    return t ? new Date(t as unknown as string).getTime() : 0;
}
