/**
 * Promotion between stacks (dev -> prod), pure parts: when the source may be promoted from, and
 * the config change that starts the verified version in the target.
 */
import { withPin } from "sts-canary/api";
import { RefusedError } from "./errors";
import { ConfigEntry, StackConfig } from "./ports";
import { inlineCode } from "./review/render";
import { CanaryStatus } from "./status";

/** Why the source stack cannot be promoted from; empty when it can. */
export function promotionBlockers(source: CanaryStatus): string[] {
    const name = source.stack;
    if (!source.contract) return [`stack ${name} has never been deployed (no stsCanary output)`];
    if (!source.statefulSet) return [`StatefulSet ${source.contract.namespace}/${source.contract.statefulSetName} of stack ${name} is not in its cluster`];
    const problems: string[] = [];
    if (source.operation.running || source.operation.interrupted) problems.push(`stack ${name}: ${source.operation.summary ?? "an operation holds it"}`);
    if (source.contract.partition !== 0 || source.canaryVersion !== undefined) {
        problems.push(`stack ${name} is mid-canary (partition ${source.statefulSet.partition}, ${source.templateVersion} over ${source.stableVersion}); finish or roll back first`);
    }
    if (source.pendingConfig.length > 0) problems.push(`stack ${name} has config that is not deployed: ${source.pendingConfig.join(", ")}`);
    const replicas = source.statefulSet.replicas;
    if (source.ready !== replicas) problems.push(`only ${source.ready}/${replicas} pods of ${name} are Ready`);
    if (source.updated !== replicas) problems.push(`only ${source.updated}/${replicas} pods of ${name} run the current template`);
    const off = source.pods.filter((p) => p.version !== source.stableVersion);
    if (off.length > 0) problems.push(`pods ${off.map((p) => `${p.name} (${p.version ?? "?"})`).join(", ")} of ${name} do not run ${source.stableVersion}`);
    const unhealthy = source.pods.filter((p) => !["Running", "Terminating"].includes(p.state));
    if (unhealthy.length > 0) problems.push(`pods ${unhealthy.map((p) => `${p.name} (${p.state})`).join(", ")} of ${name} are not healthy`);
    return problems;
}

/** Registry host of a reference (`host[:port]/repo...`). */
export function registryOf(ref: string): string {
    return ref.split("/")[0];
}

/** `version=ref` entries with `version` replaced (or added). */
export function withPinned(entries: string[], version: string, ref: string): string[] {
    return [...entries.filter((e) => !e.startsWith(`${version}=`)), `${version}=${ref}`];
}

/** Default first partition in the target: one canary pod (0 only with one replica). */
export function safeStartPartition(replicas: number): number {
    return Math.max(replicas - 1, 0);
}

/** The list a `pinnedImages` entry holds (structured list, or JSON/comma text); [] when absent. */
export function pinnedList(entry: ConfigEntry | undefined): string[] {
    if (!entry) return [];
    if (Array.isArray(entry.objectValue)) return entry.objectValue.map(String);
    const text = entry.value.trim();
    if (text === "") return [];
    try {
        const parsed = JSON.parse(text);
        if (Array.isArray(parsed)) return parsed.map(String);
    } catch { /* comma list */ }
    return text.split(",").map((e) => e.trim()).filter((e) => e !== "");
}

/**
 * The keys a promotion sets in the target, from the target's config as it is: `version=ref`
 * added to (or replacing in) its pinned list, the version, the first partition. Refused when any
 * of them is a secret (`secretRefusal` ends the message: where the values would be copied).
 */
export function promotionConfig(config: StackConfig, keys: { pinnedImages: string; version: string; partition: string },
    pin: { version: string; ref: string; start: number }, secretRefusal: string): StackConfig {
    const secret = [keys.pinnedImages, keys.version, keys.partition].filter((key) => config[key]?.secret);
    if (secret.length > 0) throw new RefusedError(`${secret.join(", ")} ${secretRefusal}`);
    const pins = withPin(pinnedList(config[keys.pinnedImages]), pin.version, pin.ref);
    return {
        [keys.pinnedImages]: { value: JSON.stringify(pins), objectValue: pins, secret: false },
        [keys.version]: { value: pin.version, secret: false },
        [keys.partition]: { value: String(pin.start), secret: false },
    };
}

/** Exactly the given keys as they are now: the entry, or null when the key is absent. */
export function snapshot(config: StackConfig, keys: string[]): Record<string, ConfigEntry | null> {
    return Object.fromEntries(keys.map((k) => [k, config[k] ? { ...config[k] } : null]));
}

/** What puts a snapshot back: keys to set (exact entries) and keys to remove (absent before). */
export function restoreOf(previous: Record<string, ConfigEntry | null>): { set: StackConfig; remove: string[] } {
    const set: StackConfig = {};
    const remove: string[] = [];
    for (const [key, entry] of Object.entries(previous)) {
        if (entry === null) remove.push(key);
        else set[key] = entry;
    }
    return { set, remove };
}

/** What a promotion pull request changes, and the evidence it carries. */
export interface PromotionChange {
    from: string;
    to: string;
    version: string;
    /** The pinned reference verified in `from`. */
    ref: string;
    start: number;
    keys: { key: string; before?: string; after: string }[];
    /** The source stack's `rolloutSummary` output (pods, gates, analysis of its last step). */
    sourceSummary: string;
}

/** Title and Markdown body of a promotion pull request: the image and digest, each key's change, the source's evidence. */
export function promotionText(change: PromotionChange): { title: string; body: string } {
    const digest = change.ref.split("@")[1] ?? change.ref;
    const title = `Promote ${change.version} from ${change.from} to ${change.to} (pinned ${digest.slice(0, 19)}, partition ${change.start})`;
    const rows = change.keys.map((k) => `| ${inlineCode(k.key)} | ${k.before === undefined ? "(unset)" : inlineCode(k.before)} | ${inlineCode(k.after)} |`);
    const body = [
        `Promotes **${change.version}** verified in stack \`${change.from}\` to \`${change.to}\`, pinned by digest, as a canary from partition ${change.start}.`,
        "",
        `**Image**: ${inlineCode(change.ref)}`,
        "",
        `| key in Pulumi.${change.to}.yaml | before | after |`, "|---|---|---|", ...rows,
        "",
        `**Evidence from \`${change.from}\`** (its last rollout check: pods, gates, analysis):`,
        "", "```", change.sourceSummary.replace(/```/g, "'''") || "(no rolloutSummary output)", "```",
        "",
        `Merging deploys \`${change.to}\` through CI (\`sts-canary deploy ${change.to}\`): every gate runs inside \`pulumi up\`; `
        + `continue with \`sts-canary --stack ${change.to} promote\` or further pull requests that lower the partition.`,
        "",
        "<sub>opened by `sts-canary promote-env --pr`</sub>",
    ].join("\n");
    return { title, body };
}
