/**
 * Rollout decisions for a partitioned StatefulSet: which version every ordinal runs, which
 * version is stable, and the condition `pulumi up` waits for. Pure functions only.
 *
 * StatefulSet semantics (RollingUpdate): pods with ordinal >= partition are moved to the
 * template's revision; pods below keep the revision they have. Raising the partition never
 * moves a pod back; only reverting the template does.
 */

/** Version planned for each ordinal, keyed by ordinal ("0".."replicas-1"). */
export type OrdinalVersions = Record<string, string>;

export interface RolloutInputs {
    replicas: number;
    partition: number;
    /** Version of the StatefulSet template. */
    imageTag: string;
    /** Version of pods below the partition: the last fully rolled-out version. */
    stableTag: string;
}

export function planOrdinalVersions({ replicas, partition, imageTag, stableTag }: RolloutInputs): OrdinalVersions {
    const plan: OrdinalVersions = {};
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
        plan[String(ordinal)] = ordinal >= partition ? imageTag : stableTag;
    }
    return plan;
}

/**
 * Number of pods that must be on the template's revision (`status.updatedReplicas`) when the
 * rollout step is done. When the template is the stable version (first deploy, completed
 * rollout, or a rollback by reverting imageTag), every pod must run it, whatever the partition.
 */
export function expectedUpdatedReplicas({ replicas, partition, imageTag, stableTag }: RolloutInputs): number {
    if (imageTag === stableTag) return replicas;
    return Math.max(replicas - Math.min(partition, replicas), 0);
}

export const WAIT_FOR_ANNOTATION = "pulumi.com/waitFor";
export const TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds";

/**
 * Conditions for the `pulumi.com/waitFor` annotation, replacing Pulumi's default StatefulSet
 * await (which requires currentRevision == updateRevision and so hangs while partition > 0).
 * Done when exactly the expected number of pods runs the template and every pod is Ready, the
 * same rule as `kubectl rollout status` and Helm use for partitioned rollouts. The provider only
 * evaluates them once status.observedGeneration has caught up with the spec.
 */
export function waitForConditions(inputs: RolloutInputs): string[] {
    const { replicas } = inputs;
    const updated = expectedUpdatedReplicas(inputs);
    const conditions: string[] = [];
    if (updated > 0) {
        conditions.push(`jsonpath={.status.updatedReplicas}=${updated}`);
    } else {
        // status.updatedReplicas is omitted when 0, so a staged template (partition == replicas)
        // is recognised by every pod still being on the current revision.
        conditions.push(`jsonpath={.status.currentReplicas}=${replicas}`);
    }
    conditions.push(`jsonpath={.status.readyReplicas}=${replicas}`);
    conditions.push(`jsonpath={.status.replicas}=${replicas}`);
    return conditions;
}

/** The annotation value: a JSON array of the conditions, all of which must hold. */
export function waitForAnnotation(inputs: RolloutInputs): string {
    return JSON.stringify(waitForConditions(inputs));
}

/** What a successful deployment records (as the `rollout` stack output) for the next one. */
export interface RolloutRecord {
    imageTag: string;
    partition: number;
    stableTag: string;
    replicas: number;
}

/**
 * The stable version for this deployment, from the record of the last successful one:
 * a deployment that ended at partition 0 rolled its template out to every pod, so that
 * template is now stable; otherwise the previous stable version still runs below the partition.
 * With no record (first deployment) the template itself is stable.
 */
export function deriveStableTag(previous: Partial<RolloutRecord> | undefined, imageTag: string): string {
    if (!previous || typeof previous.imageTag !== "string" || previous.imageTag === "") return imageTag;
    if (previous.partition === 0) return previous.imageTag;
    return typeof previous.stableTag === "string" && previous.stableTag !== "" ? previous.stableTag : previous.imageTag;
}

/**
 * The stable version once this deployment has succeeded: a rollout that reached partition 0 made
 * its template the version of every pod; otherwise pods below the partition keep the old stable.
 */
export function stableAfter(record: Pick<RolloutRecord, "imageTag" | "partition" | "stableTag">): string {
    return record.partition === 0 ? record.imageTag : record.stableTag;
}
