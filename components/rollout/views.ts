/**
 * Kubernetes objects (as the API returns them) to the views decide() works on. Pure functions,
 * shared by the rollout check and the sts-canary tool.
 */
import { tagOf } from "../images/reference";
import type { PodView, StatefulSetView } from "./decide";

/** Pod and template label carrying the version name (set by the component on the pod template). */
export const VERSION_LABEL = "app.kubernetes.io/version";
export const REVISION_LABEL = "controller-revision-hash";

/** Ordinal of a StatefulSet pod from its name (`<sts>-<ordinal>`). */
export function ordinalOf(podName: string, statefulSetName: string): number | undefined {
    const prefix = `${statefulSetName}-`;
    if (!podName.startsWith(prefix)) return undefined;
    const rest = podName.slice(prefix.length);
    return /^\d+$/.test(rest) ? Number(rest) : undefined;
}


const time = (value: unknown): number | undefined => {
    if (value === undefined || value === null) return undefined;
    const ms = value instanceof Date ? value.getTime() : Date.parse(String(value));
    return Number.isFinite(ms) ? ms : undefined;
};

/** The pod as decide() sees it; undefined for pods that are not ordinals of this StatefulSet. */
export function podView(pod: any, statefulSetName: string, container?: string): PodView | undefined {
    const name: string = pod?.metadata?.name ?? "";
    const ordinal = ordinalOf(name, statefulSetName);
    if (ordinal === undefined) return undefined;
    const owners: any[] = pod.metadata.ownerReferences ?? [];
    if (owners.length > 0 && !owners.some((o) => o.kind === "StatefulSet" && o.name === statefulSetName)) return undefined;
    const containers: any[] = pod.spec?.containers ?? [];
    const canary = containers.find((c) => c.name === container) ?? containers[0];
    const statuses: any[] = pod.status?.containerStatuses ?? [];
    const initStatuses: any[] = pod.status?.initContainerStatuses ?? [];
    const conditions: any[] = pod.status?.conditions ?? [];
    const readyCondition = conditions.find((c) => c.type === "Ready");
    const scheduled = conditions.find((c) => c.type === "PodScheduled");
    // Init containers first: a pod whose init container crash-loops never starts the others.
    const waitingStatus = [...initStatuses, ...statuses].find((s) => s.state?.waiting?.reason && s.state.waiting.reason !== "PodInitializing")
        ?? [...initStatuses, ...statuses].find((s) => s.state?.waiting?.reason);
    const terminated = waitingStatus?.lastState?.terminated ?? statuses.find((s) => s.lastState?.terminated)?.lastState?.terminated;
    const image: string = canary?.image ?? "";
    return {
        name,
        ordinal,
        uid: pod.metadata.uid ?? "",
        revision: pod.metadata.labels?.[REVISION_LABEL] ?? "",
        version: pod.metadata.labels?.[VERSION_LABEL] ?? tagOf(image),
        image,
        ready: readyCondition?.status === "True",
        readyChangedAt: time(readyCondition?.lastTransitionTime),
        createdAt: time(pod.metadata.creationTimestamp) ?? 0,
        terminating: Boolean(pod.metadata.deletionTimestamp),
        phase: pod.status?.phase ?? "Pending",
        restarts: [...statuses, ...initStatuses].reduce((sum, s) => sum + (s.restartCount ?? 0), 0),
        waiting: waitingStatus ? {
            container: waitingStatus.name,
            reason: waitingStatus.state.waiting.reason,
            message: waitingStatus.state.waiting.message || undefined,
        } : undefined,
        lastTermination: terminated ? { reason: terminated.reason, exitCode: terminated.exitCode, message: terminated.message || undefined } : undefined,
        unschedulable: scheduled?.status === "False" ? [scheduled.reason, scheduled.message].filter(Boolean).join(": ") : undefined,
    };
}

export function statefulSetView(sts: any, container?: string): StatefulSetView {
    const containers: any[] = sts.spec?.template?.spec?.containers ?? [];
    return {
        uid: sts.metadata?.uid,
        generation: sts.metadata?.generation ?? 0,
        observedGeneration: sts.status?.observedGeneration ?? 0,
        replicas: sts.spec?.replicas ?? 1,
        partition: sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0,
        currentRevision: sts.status?.currentRevision ?? "",
        updateRevision: sts.status?.updateRevision ?? "",
        minReadySeconds: sts.spec?.minReadySeconds ?? 0,
        templateImage: (containers.find((c) => c.name === container) ?? containers[0])?.image,
    };
}

/** Version of a ControllerRevision of the StatefulSet (its template's version label or image tag). */
export function revisionVersion(revision: any, container?: string): string | undefined {
    const template = revision?.data?.spec?.template;
    const label = template?.metadata?.labels?.[VERSION_LABEL];
    if (label) return label;
    const containers: any[] = template?.spec?.containers ?? [];
    const image = (containers.find((c) => c.name === container) ?? containers[0])?.image;
    return image ? tagOf(image) : undefined;
}

/**
 * Version of a revision: from a pod on it (its label), else from the ControllerRevision's
 * template (`revisionVersions`, as listRevisionVersions reads them). The one place for it.
 */
export function versionOfRevision(live: { pods: PodView[]; revisionVersions: Record<string, string> }, revision: string | undefined): string | undefined {
    if (!revision) return undefined;
    return live.pods.find((p) => p.revision === revision && p.version)?.version ?? live.revisionVersions[revision];
}

/** `a=b,c=d` from matchLabels. */
export function labelSelector(matchLabels: Record<string, string>): string {
    return Object.entries(matchLabels).map(([k, v]) => `${k}=${v}`).join(",");
}
