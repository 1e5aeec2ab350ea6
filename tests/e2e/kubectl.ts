/**
 * kubectl for the tests and the benchmark: an independent check of what the tool and the rollout
 * check (both on @kubernetes/client-node) report; every read is one a user can run by hand.
 * KUBECONFIG and KUBECTL (binary path) come from the environment.
 */
import { execFile } from "child_process";

export interface PodInfo {
    name: string;
    ordinal: number;
    uid: string;
    /** `status.podIP`, empty until scheduled. */
    ip: string;
    /** Image of the first container as in the pod spec, e.g. `<repo>:v2@sha256:...`. */
    image: string;
    /** Image ID the runtime resolved (digest). */
    imageID: string;
    /** StatefulSet revision (`controller-revision-hash` label). */
    revision: string;
    ready: boolean;
    restarts: number;
    phase: string;
    startTime?: string;
    creationTimestamp: string;
    terminating: boolean;
    /** Waiting reason of the container, e.g. CrashLoopBackOff, ImagePullBackOff. */
    waitingReason?: string;
}

export interface StatefulSetInfo {
    name: string;
    generation: number;
    observedGeneration: number;
    replicas: number;
    partition: number;
    templateImage: string;
    currentRevision: string;
    updateRevision: string;
    readyReplicas: number;
    updatedReplicas: number;
    currentReplicas: number;
    annotations: Record<string, string>;
}

export function kubectl(args: string[], timeoutMs = 60_000): Promise<string> {
    const binary = process.env.KUBECTL || "kubectl";
    return new Promise((resolve, reject) => {
        execFile(binary, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || err.message}`));
            else resolve(stdout);
        });
    });
}

export async function kubectlJson<T = any>(args: string[]): Promise<T> {
    return JSON.parse(await kubectl([...args, "-o", "json"])) as T;
}

/** Ordinal of a StatefulSet pod from its name (`<sts>-<ordinal>`). */
export function ordinalOf(podName: string, statefulSetName: string): number | undefined {
    const prefix = `${statefulSetName}-`;
    if (!podName.startsWith(prefix)) return undefined;
    const rest = podName.slice(prefix.length);
    return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

export function podInfoFrom(pod: any, statefulSetName: string): PodInfo | undefined {
    const ordinal = ordinalOf(pod.metadata.name, statefulSetName);
    if (ordinal === undefined) return undefined;
    const status = pod.status?.containerStatuses?.[0];
    const readyCondition = (pod.status?.conditions ?? []).find((c: any) => c.type === "Ready");
    return {
        name: pod.metadata.name,
        ordinal,
        uid: pod.metadata.uid,
        ip: pod.status?.podIP ?? "",
        image: pod.spec.containers[0].image,
        imageID: status?.imageID ?? "",
        revision: pod.metadata.labels?.["controller-revision-hash"] ?? "",
        ready: readyCondition?.status === "True",
        restarts: status?.restartCount ?? 0,
        phase: pod.status?.phase ?? "Unknown",
        startTime: pod.status?.startTime,
        creationTimestamp: pod.metadata.creationTimestamp,
        terminating: Boolean(pod.metadata.deletionTimestamp),
        waitingReason: status?.state?.waiting?.reason,
    };
}

/** Pods of a StatefulSet, sorted by ordinal. */
export async function getPods(namespace: string, statefulSetName: string): Promise<PodInfo[]> {
    const list = await kubectlJson<{ items: any[] }>(["get", "pods", "-n", namespace]);
    return list.items
        .map((pod) => podInfoFrom(pod, statefulSetName))
        .filter((p): p is PodInfo => p !== undefined)
        .sort((a, b) => a.ordinal - b.ordinal);
}

export function statefulSetInfoFrom(sts: any): StatefulSetInfo {
    return {
        name: sts.metadata.name,
        generation: sts.metadata.generation ?? 0,
        observedGeneration: sts.status?.observedGeneration ?? 0,
        replicas: sts.spec.replicas ?? 1,
        partition: sts.spec.updateStrategy?.rollingUpdate?.partition ?? 0,
        templateImage: sts.spec.template.spec.containers[0].image,
        currentRevision: sts.status?.currentRevision ?? "",
        updateRevision: sts.status?.updateRevision ?? "",
        readyReplicas: sts.status?.readyReplicas ?? 0,
        updatedReplicas: sts.status?.updatedReplicas ?? 0,
        currentReplicas: sts.status?.currentReplicas ?? 0,
        annotations: sts.metadata.annotations ?? {},
    };
}

export async function getStatefulSet(namespace: string, name: string): Promise<StatefulSetInfo | undefined> {
    try {
        return statefulSetInfoFrom(await kubectlJson(["get", "statefulset", name, "-n", namespace]));
    } catch (err) {
        if (/NotFound|not found/.test(String(err))) return undefined;
        throw err;
    }
}

/** Image of each ControllerRevision of a StatefulSet, keyed by revision name. */
export async function getRevisionImages(namespace: string, statefulSetName: string): Promise<Record<string, string>> {
    const list = await kubectlJson<{ items: any[] }>(["get", "controllerrevisions", "-n", namespace]);
    const images: Record<string, string> = {};
    for (const rev of list.items) {
        const owner = (rev.metadata.ownerReferences ?? []).find((o: any) => o.kind === "StatefulSet");
        if (owner?.name !== statefulSetName) continue;
        const image = rev.data?.spec?.template?.spec?.containers?.[0]?.image;
        if (image) images[rev.metadata.name] = image;
    }
    return images;
}

/** `<repo>:v2@sha256:...` -> `v2`; undefined when the reference has no tag. */
export function tagOf(image: string): string | undefined {
    const withoutDigest = image.split("@")[0];
    const match = /:([^:/]+)$/.exec(withoutDigest);
    return match ? match[1] : undefined;
}

/** The sts-canary tool's objects next to a StatefulSet (its Lease and ConfigMap), read with kubectl. */
export async function operationObjects(namespace: string, statefulSetName: string): Promise<{
    lease?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
    record?: any;
    timeline: { time: string; by: string; event: string; message: string }[];
}> {
    const name = `${statefulSetName}-sts-canary`;
    const get = async (kind: string) => {
        try {
            return await kubectlJson(["get", kind, name, "-n", namespace]);
        } catch (err) {
            if (/NotFound|not found/.test(String(err))) return undefined;
            throw err;
        }
    };
    const [lease, cm] = await Promise.all([get("leases.coordination.k8s.io"), get("configmap")]);
    const timeline = String(cm?.data?.timeline ?? "").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
    return { lease: lease?.spec, record: cm?.data?.operation ? JSON.parse(cm.data.operation) : undefined, timeline };
}
