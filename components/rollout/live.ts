/**
 * The live StatefulSet, its pods and its revisions, read once from the cluster, and which version
 * a revision runs: the one place for both. The preview (provider check), the rollout check's
 * summary and the sts-canary tool read through here.
 */
import * as k8s from "@kubernetes/client-node";
import type { PodView, StatefulSetView } from "./decide";
import { labelSelector, podView, revisionVersion, statefulSetView } from "./views";

export { versionOfRevision } from "./views";

/** What the cluster shows of one StatefulSet now. */
export interface LiveState {
    statefulSet?: StatefulSetView;
    pods: PodView[];
    /** Version of each ControllerRevision of the StatefulSet, by revision name. */
    revisionVersions: Record<string, string>;
}

export interface LiveTarget {
    namespace: string;
    statefulSetName: string;
    /** The canary container (its image tag names the version when the pod has no version label). */
    container?: string;
}

/** The StatefulSet's ControllerRevisions (owned by it), as revision name -> version. */
export async function listRevisionVersions(apps: k8s.AppsV1Api, target: LiveTarget, selector: string): Promise<Record<string, string>> {
    const list = await apps.listNamespacedControllerRevision({ namespace: target.namespace, labelSelector: selector });
    const versions: Record<string, string> = {};
    for (const rev of list.items) {
        if (!(rev.metadata?.ownerReferences ?? []).some((o) => o.kind === "StatefulSet" && o.name === target.statefulSetName)) continue;
        const version = revisionVersion(rev, target.container);
        if (version && rev.metadata?.name) versions[rev.metadata.name] = version;
    }
    return versions;
}

/** The StatefulSet's pods as decide() sees them, sorted by ordinal. */
export function podViews(pods: k8s.V1Pod[], target: LiveTarget): PodView[] {
    return pods.map((p) => podView(p, target.statefulSetName, target.container))
        .filter((p): p is PodView => p !== undefined)
        .sort((a, b) => a.ordinal - b.ordinal);
}

/**
 * One read of the StatefulSet, its pods and revisions. A StatefulSet that does not exist is an
 * empty state; every other error is thrown as the client raised it (callers say where).
 */
export async function readLive(kc: k8s.KubeConfig, target: LiveTarget): Promise<LiveState> {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    let sts: k8s.V1StatefulSet;
    try {
        sts = await apps.readNamespacedStatefulSet({ name: target.statefulSetName, namespace: target.namespace });
    } catch (err) {
        if ((err as { code?: number }).code === 404) return { pods: [], revisionVersions: {} };
        throw err;
    }
    const selector = labelSelector(sts.spec?.selector?.matchLabels ?? {});
    const [pods, revisionVersions] = await Promise.all([
        core.listNamespacedPod({ namespace: target.namespace, labelSelector: selector }),
        listRevisionVersions(apps, target, selector),
    ]);
    return { statefulSet: statefulSetView(sts, target.container), pods: podViews(pods.items, target), revisionVersions };
}
