/**
 * The guardrails as pure functions over a StatefulSet's properties (as the policy engine sees
 * them), so each rule is table-tested without an engine. Unknown values (not computed yet during
 * a preview) are never judged.
 */

import { rangeProblem } from "sts-canary/checks";
import { parseReference } from "sts-canary/images/reference";
import { MUTABLE_TAGS } from "sts-canary/tags";

export interface RuleContext {
    stack: string;
    /** Registry host[:port] images must come from. */
    registry?: string;
    /** Stacks where prod rules apply. */
    prodStackPattern: RegExp;
}

export const DEFAULT_PROD_STACK_PATTERN = /^(prod|production)$|-prod$/;
// What the engine sends for a value that is not known during a preview.
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isProd(context: RuleContext): boolean {
    return context.prodStackPattern.test(context.stack);
}

function known(value: unknown): boolean {
    return value !== undefined && value !== null && value !== UNKNOWN;
}

interface Container { name?: string; image?: string; resources?: { limits?: Record<string, unknown> } }

function containersOf(props: any): Container[] {
    const spec = props?.spec?.template?.spec ?? {};
    return [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
}

export function partitionWithinBounds(props: any): string[] {
    const replicas = props?.spec?.replicas ?? 1;
    const partition = props?.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    if (!known(replicas) || !known(partition)) return [];
    // The component's own range rule (0..replicas), for StatefulSets that did not come through it.
    return rangeProblem(partition, 0, replicas) ? [`partition ${partition} is outside 0..${replicas} (replicas)`] : [];
}

export function noMutableTagsInProd(props: any, context: RuleContext): string[] {
    if (!isProd(context)) return [];
    return containersOf(props).filter((c) => known(c.image)).flatMap((c) => {
        const { tag, digest } = parseReference(String(c.image));
        if (tag === undefined && digest === undefined) return [`container ${c.name}: image ${c.image} has no tag (means latest) in prod stack ${context.stack}`];
        if (tag !== undefined && MUTABLE_TAGS.has(tag)) return [`container ${c.name}: image ${c.image} uses the mutable tag "${tag}" in prod stack ${context.stack}`];
        return [];
    });
}

export function imagesPinnedByDigest(props: any): string[] {
    return containersOf(props).filter((c) => known(c.image)).flatMap((c) => {
        const { digest } = parseReference(String(c.image));
        return digest && /^sha256:[a-f0-9]{64}$/.test(digest) ? [] : [`container ${c.name}: image ${c.image} is not pinned by digest (@sha256:...)`];
    });
}

export function imagesFromConfiguredRegistry(props: any, context: RuleContext): string[] {
    if (!context.registry) return [];
    return containersOf(props).filter((c) => known(c.image)).flatMap((c) => {
        const { registry } = parseReference(String(c.image));
        return registry === context.registry ? [] : [`container ${c.name}: image ${c.image} is not from the configured registry ${context.registry}`];
    });
}

export function resourceLimitsSet(props: any): string[] {
    return containersOf(props).flatMap((c) => {
        const limits = c.resources?.limits ?? {};
        const missing = ["cpu", "memory"].filter((k) => !known(limits[k]));
        return missing.length === 0 ? [] : [`container ${c.name}: no ${missing.join(" and ")} limit`];
    });
}

export function prodReplicasAtLeastTwo(props: any, context: RuleContext): string[] {
    if (!isProd(context)) return [];
    const replicas = props?.spec?.replicas ?? 1;
    if (!known(replicas)) return [];
    return replicas >= 2 ? [] : [`replicas ${replicas} < 2 in prod stack ${context.stack}`];
}
