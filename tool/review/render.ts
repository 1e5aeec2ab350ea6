/**
 * A preview report (preview.ts) as one Markdown pull-request comment per stack, read in ten
 * seconds: the step in words as the headline, partition / replicas / version, a pod table with
 * what changes in bold, the gates, the policy verdict and the resources that change; the stack
 * outputs and the full `--diff` folded away.
 *
 * Safe to post: every known secret is replaced by `[secret]` in every field before anything is
 * escaped or cut; text from the stack never becomes HTML or Markdown structure outside code blocks;
 * code fences are longer than any backtick run they hold; the comment stays under COMMENT_LIMIT,
 * cut at a line end (the diff first, the summary never) with a note saying how to see it all.
 */
import { redact } from "sts-canary/api";
import type { Change, OutputChange, PodRow, PolicyReport, PreviewReport, ResourceChange } from "./preview";
import { SECRET_TEXT } from "./preview";

/** Below GitHub's 65,536 characters per comment, with room for what the poster adds. */
export const COMMENT_LIMIT = 60_000;

export interface RenderOptions {
    /** Secret values (config secrets, registry passwords...) that must never appear in the comment. */
    secrets: string[];
    /** Characters the comment may have (default COMMENT_LIMIT); tests use small ones. */
    limit?: number;
}

/** Pod tables longer than this group consecutive pods with the same versions into ranges. */
const POD_ROWS = 10;

/** The hidden first line by which the poster finds (and updates) this stack's comment. */
export function markerOf(project: string, stack: string): string {
    const safe = (name: string) => name.replace(/[^A-Za-z0-9_.\-/]/g, "_");
    return `<!-- sts-canary:preview ${safe(project)}/${safe(stack)} -->`;
}

export function renderComment(report: PreviewReport, options: RenderOptions): string {
    const r = scrub(report, options.secrets);
    const summary = [markerOf(r.project, r.stack), ...(r.ok ? summaryOf(r) : failureOf(r))].join("\n\n");
    const outputs = r.outputs.length > 0 ? outputsBlock(r.outputs) : "";
    return fit(summary, outputs, r.diff, r.stack, options.limit ?? COMMENT_LIMIT);
}

/** The report with every known secret replaced in every string (and its JSON-escaped form, as outputs print it). */
function scrub<T>(value: T, secrets: string[]): T {
    const forms = secrets.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
    const walk = (v: unknown): unknown => {
        if (typeof v === "string") return redact(v, forms, SECRET_TEXT);
        if (Array.isArray(v)) return v.map(walk);
        if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
        return v;
    };
    return walk(value) as T;
}

function summaryOf(r: PreviewReport): string[] {
    const podsMove = r.pods.some((p) => p.now !== p.after);
    const changes = r.resources.length > 0 || r.outputs.length > 0;
    const headline = !changes
        ? "no change"
        : r.step !== undefined && (r.stepChanged || podsMove)
            ? inline(r.step)
            : `no pod moves; ${r.resources.length > 0 ? `${r.resources.length} resource(s) change` : "stack outputs change"}`;
    return [
        `### \`${r.stack}\`: ${headline}`,
        stepLine(r),
        r.pods.length > 0 ? podTable(r.pods) : "",
        r.gates ? `**Gates** (\`up\` judges the step by them): ${inline(r.gates)}` : "",
        policyBlock(r.policy),
        resourcesBlock(r.resources),
    ].filter((part) => part !== "");
}

function failureOf(r: PreviewReport): string[] {
    return [
        `### ❌ \`${r.stack}\`: the preview failed, nothing would be deployed`,
        codeBlock(r.error ?? "", ""),
        `Fix it and push: this comment is updated by the next preview (or run \`pulumi preview --diff --stack ${r.stack}\`).`,
        // Mandatory policy violations fail a preview too: show which.
        r.policy.violations.length > 0 ? policyBlock(r.policy) : "",
    ].filter((part) => part !== "");
}

/** `**Step**: partition 3 → **2** · replicas 3 · template v1 → **v2**` (only what is known). */
function stepLine(r: PreviewReport): string {
    const parts = [moved("partition", r.partition), moved("replicas", r.replicas), moved("template", r.version)].filter((p) => p !== "");
    return parts.length > 0 ? `**Step**: ${parts.join(" · ")}` : "";
}

function moved(label: string, change: Change<string | number>): string {
    const { before, after } = change;
    if (after === undefined) return before === undefined ? "" : `${label} ${inline(String(before))} → **gone**`;
    if (before === undefined || before === after) return `${label} ${inline(String(after))}${before === undefined ? " (new)" : ""}`;
    return `${label} ${inline(String(before))} → **${inline(String(after))}**`;
}

function podTable(pods: PodRow[]): string {
    const rows = pods.length > POD_ROWS ? grouped(pods) : pods.map((p) => ({ pods: p.name, now: p.now, after: p.after }));
    const lines = rows.map((row) => {
        const now = row.now === undefined ? "—" : inline(row.now);
        const after = row.after === undefined ? "removed" : inline(row.after);
        return `| ${inline(row.pods)} | ${now} | ${row.now === row.after ? after : `**${after}**`} |`;
    });
    return ["| pod | now | after this step |", "| --- | --- | --- |", ...lines].join("\n");
}

/** Consecutive pods with the same versions as one row (`web-0..web-96`). */
function grouped(pods: PodRow[]): { pods: string; now?: string; after?: string }[] {
    const groups: { first: PodRow; last: PodRow }[] = [];
    for (const pod of pods) {
        const open = groups[groups.length - 1];
        if (open && open.last.ordinal === pod.ordinal - 1 && open.last.now === pod.now && open.last.after === pod.after) open.last = pod;
        else groups.push({ first: pod, last: pod });
    }
    return groups.map(({ first, last }) => ({ pods: first === last ? first.name : `${first.name}..${last.name}`, now: first.now, after: first.after }));
}

function policyBlock(policy: PolicyReport): string {
    if (policy.packs.length === 0 && policy.violations.length === 0) return "**Policy**: no policy pack ran";
    const packs = policy.packs.map((p) => `${p.name}${p.version ? ` ${p.version}` : ""}`).map(inline).join(", ");
    if (policy.violations.length === 0) {
        const verdict = policy.passed !== undefined ? `${policy.passed} ${policy.passed === 1 ? "policy" : "policies"} passed` : "no violations";
        return `**Policy**: ✅ ${packs}: ${verdict}`;
    }
    const mandatory = policy.violations.filter((v) => v.level === "mandatory").length;
    const rows = policy.violations.map((v) => `| ${inline(v.level)} | ${inline(v.pack)} | ${inline(v.policy)} | ${inline(v.resource ?? "(stack)")} | ${inline(v.message)} |`);
    return [
        `**Policy**: ❌ ${policy.violations.length} violation(s), ${mandatory} mandatory (${packs})`,
        "",
        "| level | pack | policy | resource | message |",
        "| --- | --- | --- | --- | --- |",
        ...rows,
    ].join("\n");
}

function resourcesBlock(resources: ResourceChange[]): string {
    if (resources.length === 0) return "**Resources**: none change";
    return [`**Resources that change** (${resources.length}):`, ...resources.map((r) => `- ${inline(r.op)} ${inline(r.type)} ${inline(r.name)}`)].join("\n");
}

/** Output changes as a folded `diff` block: `~ name`, `- before`, `+ after`. */
function outputsBlock(outputs: OutputChange[]): string {
    const lines = outputs.flatMap((o) => [
        `~ ${o.name}`,
        ...(o.before === undefined ? [] : o.before.split("\n").map((l) => `- ${l}`)),
        ...(o.after === undefined ? [] : o.after.split("\n").map((l) => `+ ${l}`)),
    ]);
    return folded(`Stack outputs that change (${outputs.length})`, codeBlock(lines.join("\n"), "diff"));
}

function diffBlock(diff: string): string {
    return folded("Full <code>pulumi preview --diff</code>", codeBlock(diff, ""));
}

/** `<details>` with our own summary text (never the stack's): the blank lines let Markdown work inside. */
function folded(summary: string, body: string): string {
    return `<details><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

/** The longest run of backticks in the text: a fence or code span longer than it cannot be closed by the text. */
function longestBacktickRun(text: string): number {
    return Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
}

/** A fenced block whose fence is longer than any backtick run in the text, so the text cannot close it. */
export function codeBlock(text: string, language: string): string {
    const fence = "`".repeat(Math.max(3, longestBacktickRun(text) + 1));
    return `${fence}${language}\n${text.replace(/\n+$/, "")}\n${fence}`;
}

/** An inline code span that survives any backticks in the value (padded with spaces when it holds some). */
export function inlineCode(text: string): string {
    const longest = longestBacktickRun(text);
    const fence = "`".repeat(longest + 1);
    const pad = longest > 0 ? " " : "";
    return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * Stack text in Markdown prose and table cells: no HTML (`<`, `>`, `&` as entities), no Markdown
 * structure (links, emphasis, code spans, a `|` ending a cell), one line.
 */
export function inline(text: string): string {
    return text.replace(/\s*\n\s*/g, " ")
        .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
        .replace(/([\\`*_[\]~|#])/g, "\\$1");
}

/**
 * The comment under `limit` characters: the summary whole; the diff cut at a line end first, then
 * the outputs dropped; a visible note says what was cut and how to see it all. Only a summary
 * longer than the limit by itself is cut (at a line end too).
 */
function fit(summary: string, outputs: string, diff: string, stack: string, limit: number): string {
    const join = (...parts: string[]) => parts.filter((p) => p !== "").join("\n\n") + "\n";
    const whole = join(summary, outputs, diffBlock(diff));
    if (whole.length < limit) return whole;
    const lines = diff.replace(/\n+$/, "").split("\n");
    const see = `see it all with \`pulumi preview --diff --stack ${stack}\``;
    for (const rest of [outputs, ""]) {
        const what = rest === outputs ? "The diff was" : "The stack outputs and the diff were";
        const build = (n: number) => join(summary, `> ✂️ ${what} cut to fit a GitHub comment (${n} of ${lines.length} diff lines shown); ${see}.`,
            rest, n > 0 ? diffBlock(lines.slice(0, n).join("\n")) : "");
        if (build(0).length >= limit) continue;
        // The most diff lines that fit: the length grows with every line.
        let [lo, hi] = [0, lines.length];
        while (lo < hi) {
            const mid = Math.ceil((lo + hi) / 2);
            if (build(mid).length < limit) lo = mid;
            else hi = mid - 1;
        }
        return build(lo);
    }
    const note = `> ✂️ This comment was cut to fit a GitHub comment; ${see}.`;
    return join(cutAtLineEnd(summary.split("\n"), limit - note.length - 4).join("\n"), note);
}

/** The most leading lines whose text (joined by newlines) has at most `budget` characters. */
export function cutAtLineEnd(lines: string[], budget: number): string[] {
    let used = 0;
    let n = 0;
    for (; n < lines.length; n++) {
        const cost = lines[n].length + (n > 0 ? 1 : 0);
        if (used + cost > budget) break;
        used += cost;
    }
    return lines.slice(0, n);
}
