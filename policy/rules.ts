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
    /** Accounts that push images: never in the cluster. */
    pushAccounts?: string[];
}

/** On the component's image pull Secret: the pull account's name (components/workload.ts). */
export const PULL_USER_ANNOTATION = "sts-canary.dev/pull-user";

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

/** Users of a dockerconfigjson Secret: the component's annotation and the readable `auths` entries. */
function pullSecretUsers(props: any): string[] {
    const users = new Set<string>();
    const annotated = props?.metadata?.annotations?.[PULL_USER_ANNOTATION];
    if (known(annotated)) users.add(String(annotated));
    const texts = [props?.stringData?.[".dockerconfigjson"], known(props?.data?.[".dockerconfigjson"]) ? decodeBase64(props.data[".dockerconfigjson"]) : undefined];
    for (const text of texts.filter((t) => typeof t === "string" && known(t))) {
        try {
            for (const entry of Object.values<any>(JSON.parse(text).auths ?? {})) {
                const user = entry?.username ?? (typeof entry?.auth === "string" ? decodeBase64(entry.auth)?.split(":")[0] : undefined);
                if (user) users.add(user);
            }
        } catch {
            // not JSON (or not readable here): the annotation still tells
        }
    }
    return [...users];
}

function decodeBase64(text: string): string | undefined {
    try { return Buffer.from(text, "base64").toString("utf8"); } catch { return undefined; }
}

/** An image pull Secret (kubernetes.io/dockerconfigjson) never holds a pushing account. */
export function pullSecretNotPushAccount(props: any, context: RuleContext): string[] {
    if (props?.type !== "kubernetes.io/dockerconfigjson" || !context.pushAccounts?.length) return [];
    const name = props?.metadata?.name ?? "(unnamed)";
    return pullSecretUsers(props).filter((u) => context.pushAccounts!.includes(u)).map((u) =>
        `image pull Secret ${name} holds the pushing account "${u}": anyone who can read Secrets in the namespace could overwrite `
        + "images; give the cluster a pull-only account (a Harbor robot account with pull permission)");
}

/** Prod pods that pull from the configured (private) registry do so with credentials. */
export function prodPullsWithCredentials(props: any, context: RuleContext): string[] {
    if (!isProd(context) || !context.registry) return [];
    const spec = props?.spec?.template?.spec ?? {};
    // Absent is a violation like empty; only a value not yet known at preview is skipped.
    const secrets = spec.imagePullSecrets;
    if (secrets === UNKNOWN || (Array.isArray(secrets) && secrets.length > 0)) return [];
    const fromRegistry = containersOf(props).some((c) => known(c.image) && parseReference(String(c.image)).registry === context.registry);
    return fromRegistry ? [`pods pull from ${context.registry} without image pull credentials in prod stack ${context.stack} (requirePullCredentials: true refuses this in the component)`] : [];
}

export function prodReplicasAtLeastTwo(props: any, context: RuleContext): string[] {
    if (!isProd(context)) return [];
    const replicas = props?.spec?.replicas ?? 1;
    if (!known(replicas)) return [];
    return replicas >= 2 ? [] : [`replicas ${replicas} < 2 in prod stack ${context.stack}`];
}
