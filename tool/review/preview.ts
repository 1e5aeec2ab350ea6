/**
 * What a `pulumi preview` of a stack would do, as data for a pull-request comment: the step in
 * words, partition / replicas / template version before and after, every pod's version now and
 * after the step, the gates `up` will judge it by, the policy packs' verdict, the resources and
 * stack outputs that change, and the `--diff` text. Pure: it reads the Automation API's engine
 * events (and the CLI's error when the preview failed); rendering is render.ts's job.
 */
import type { EngineEvent, StepEventMetadata, StepEventStateMetadata } from "@pulumi/pulumi/automation";
import { describeGates } from "sts-canary/api";

/** The engine's JSON events carry more than the SDK's types say (policy summaries, `PolicyPacks`). */
export type PreviewEvent = Omit<EngineEvent, "diagnosticEvent" | "summaryEvent"> & {
    diagnosticEvent?: { urn?: string; message: string; severity: string; color?: string; prefix?: string; ephemeral?: boolean };
    summaryEvent?: { resourceChanges?: Record<string, number>; PolicyPacks?: Record<string, string>; policyPacks?: Record<string, string>; result?: string };
    policyAnalyzeSummaryEvent?: PolicySummary;
    policyAnalyzeStackSummaryEvent?: PolicySummary;
    policyRemediateSummaryEvent?: PolicySummary;
};

interface PolicySummary {
    policyPackName: string;
    policyPackVersion?: string;
    passed?: string[];
    failed?: string[];
}

export interface PreviewInput {
    stack: string;
    project: string;
    /** Every event the preview's `onEvent` received, in order. */
    events: PreviewEvent[];
    /** What `pulumi preview --diff` printed (stdout). */
    diff: string;
    /** The CLI's error when the preview failed (e.g. a CommandError's message); absent when it succeeded. */
    error?: string;
}

/** A value before and after the preview's changes; `undefined` where the stack has none. */
export interface Change<T> {
    before?: T;
    after?: T;
}

export interface PodRow {
    name: string;
    ordinal: number;
    /** Version after the last `up` (absent: the pod does not exist yet). */
    now?: string;
    /** Version once the step is done (absent: the pod is removed). */
    after?: string;
}

export interface PolicyViolation {
    pack: string;
    policy: string;
    /** `mandatory` fails the preview; `advisory` / `warning` only report. */
    level: string;
    message: string;
    /** Type and name of the resource, e.g. `kubernetes:apps/v1:StatefulSet web`; absent for stack policies. */
    resource?: string;
}

export interface PolicyReport {
    /** Packs that ran, with their versions. */
    packs: { name: string; version: string }[];
    violations: PolicyViolation[];
    /** Distinct policies that ran and reported nothing, when the engine said which (its analyze summaries). */
    passed?: number;
}

export interface ResourceChange {
    /** The engine's operation: create, update, delete, replace... */
    op: string;
    type: string;
    name: string;
}

export interface OutputChange {
    name: string;
    /** The value as JSON text (strings as they are), `[secret]` for secrets, absent when the output is new / gone. */
    before?: string;
    after?: string;
}

export interface PreviewReport {
    stack: string;
    project: string;
    ok: boolean;
    /** Why the preview failed: the program's error diagnostics, else the CLI's error lines. */
    error?: string;
    /** The step in words (the `step` output after the preview), e.g. `pods web-4: v1 -> v2; web-0..web-3 stay on v1`. */
    step?: string;
    /** Whether the step's description changed (a new step, not the last one described again). */
    stepChanged: boolean;
    partition: Change<number>;
    replicas: Change<number>;
    /** Version of the StatefulSet's template. */
    version: Change<string>;
    pods: PodRow[];
    /** The gates `up` runs after the step (describeGates of the rollout check's inputs); absent when the check does not run. */
    gates?: string;
    policy: PolicyReport;
    /** Resources whose operation is not `same`, once each. */
    resources: ResourceChange[];
    outputs: OutputChange[];
    /** The `--diff` text as printed. */
    diff: string;
}

const STACK_TYPE = "pulumi:pulumi:Stack";
const STATEFUL_SET_TYPE = "kubernetes:apps/v1:StatefulSet";
const ROLLOUT_CHECK_TYPE = "pulumi-nodejs:dynamic/sts-canary:RolloutCheck";
/** The engine's placeholder for a value known only once `up` runs. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Pulumi's marker of a secret value in serialized state. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_TEXT = "[secret]";
const UNKNOWN_TEXT = "(known after up)";

export function collectPreview(input: PreviewInput): PreviewReport {
    const events = withoutDebug(input.events);
    const stack = stackOutputs(events);
    const contract = { before: record(stack.before.stsCanary), after: record(stack.after.stsCanary) };
    const check = latestState(events, ROLLOUT_CHECK_TYPE);
    const failed = input.error !== undefined || events.some((e) => e.summaryEvent?.result === "failed");
    const stepAfter = text(stack.after.step) ?? text(check?.inputs?.step);
    return {
        stack: input.stack,
        project: input.project,
        ok: !failed,
        error: failed ? errorOf(events, input.error) : undefined,
        step: stepAfter,
        stepChanged: stepAfter !== undefined && stepAfter !== text(stack.before.step),
        partition: change(stack, contract, "partition", "partition", num),
        replicas: change(stack, contract, "replicas", "replicas", num),
        version: change(stack, contract, "imageTag", "templateVersion", text),
        pods: podRows(statefulSetName(stack, contract, events), record(stack.before.ordinalVersions), record(stack.after.ordinalVersions)),
        gates: checkRuns(events) && typeof check?.inputs?.gates === "object" ? describeGates(check.inputs.gates) || undefined : undefined,
        policy: policyOf(events),
        resources: resourceChanges(events),
        outputs: outputChanges(stack.before, stack.after),
        diff: input.diff,
    };
}

/** Events without engine debug diagnostics: they can hold raw state (inputs, credentials) and say nothing to a reviewer. */
export function withoutDebug<T extends { diagnosticEvent?: { severity: string } }>(events: T[]): T[] {
    return events.filter((e) => e.diagnosticEvent?.severity !== "debug");
}

/** Text of an engine message without terminal colors or the CLI's color tags (`<{%reset%}>`). */
export function plainText(message: string): string {
    // eslint-disable-next-line no-control-regex
    return message.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/<\{%[^%]*%\}>/g, "");
}

/** Step metadata of every resource event, in order (pre-events and outputs events both carry state). */
function stepMetadata(events: PreviewEvent[]): StepEventMetadata[] {
    return events.flatMap((e) => [e.resourcePreEvent?.metadata, e.resOutputsEvent?.metadata]).filter((m): m is StepEventMetadata => m !== undefined);
}

/**
 * The stack resource's outputs before and after. Its outputs are registered when the program ends,
 * so the last event that carries each side wins.
 */
function stackOutputs(events: PreviewEvent[]): { before: Record<string, unknown>; after: Record<string, unknown> } {
    let before: Record<string, unknown> = {};
    let after: Record<string, unknown> = {};
    for (const m of stepMetadata(events).filter((s) => s.type === STACK_TYPE)) {
        if (m.old?.outputs) before = m.old.outputs;
        if (m.new?.outputs) after = m.new.outputs;
    }
    return { before, after };
}

/** The last new (else old) state of the first resource of a type. */
function latestState(events: PreviewEvent[], type: string): StepEventStateMetadata | undefined {
    const steps = stepMetadata(events).filter((m) => m.type === type);
    const urn = steps[0]?.urn;
    const last = steps.filter((m) => m.urn === urn).pop();
    return last?.new ?? last?.old;
}

/** `up` runs the rollout check (and so its gates) only when the check changes: a new step. */
function checkRuns(events: PreviewEvent[]): boolean {
    return events.some((e) => e.resourcePreEvent?.metadata.type === ROLLOUT_CHECK_TYPE && e.resourcePreEvent.metadata.op !== "same");
}

/** A known, non-secret value as text (JSON for non-strings); `undefined` when absent, unknown or secret. */
function text(value: unknown): string | undefined {
    if (value === undefined || value === null || value === UNKNOWN || isSecret(value)) return undefined;
    return typeof value === "string" ? value : JSON.stringify(value);
}

function num(value: unknown): number | undefined {
    const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
    return Number.isFinite(n) ? n : undefined;
}

function record(value: unknown): Record<string, unknown> {
    return value && typeof value === "object" && !Array.isArray(value) && !isSecret(value) ? value as Record<string, unknown> : {};
}

function isSecret(value: unknown): boolean {
    return value === SECRET_TEXT || (typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] !== undefined);
}

/** A fact of the step, from the program's own output if it exports one, else from the stsCanary contract. */
function change<T>(stack: { before: Record<string, unknown>; after: Record<string, unknown> },
    contract: { before: Record<string, unknown>; after: Record<string, unknown> }, output: string, field: string,
    read: (value: unknown) => T | undefined): Change<T> {
    return {
        before: read(stack.before[output]) ?? read(contract.before[field]),
        after: read(stack.after[output]) ?? read(contract.after[field]),
    };
}

/** Pods are `<StatefulSet name>-<ordinal>`: the name from the contract, else the program's output, else the StatefulSet itself. */
function statefulSetName(stack: { before: Record<string, unknown>; after: Record<string, unknown> },
    contract: { before: Record<string, unknown>; after: Record<string, unknown> }, events: PreviewEvent[]): string {
    const state = latestState(events, STATEFUL_SET_TYPE);
    const candidates = [contract.after.statefulSetName, contract.before.statefulSetName, stack.after.statefulSetName, stack.before.statefulSetName,
        record(state?.outputs?.metadata).name, record(state?.inputs?.metadata).name];
    return candidates.map(text).find((name) => name !== undefined) ?? "pod";
}

/** One row per ordinal that exists before or after, lowest first. */
export function podRows(name: string, before: Record<string, unknown>, after: Record<string, unknown>): PodRow[] {
    const ordinals = [...new Set([...Object.keys(before), ...Object.keys(after)].map(Number).filter(Number.isInteger))].sort((a, b) => a - b);
    return ordinals.map((ordinal) => ({ name: `${name}-${ordinal}`, ordinal, now: text(before[String(ordinal)]), after: text(after[String(ordinal)]) }));
}

/**
 * Why the preview failed: the program's error diagnostics (the message it threw, without a stack
 * trace), else the error lines of the CLI's own output.
 */
export function errorOf(events: PreviewEvent[], cliError: string | undefined): string {
    const diagnostics = events.map((e) => e.diagnosticEvent).filter((d) => d?.severity === "error").map((d) => cleanError(d!.message));
    const fromProgram = [...new Set(diagnostics.filter((m) => m !== "" && !GENERIC_FAILURE.test(m)))];
    if (fromProgram.length > 0) return fromProgram.join("\n");
    const fromCli = cliErrorLines(cliError ?? "");
    return fromCli || diagnostics.find((m) => m !== "") || "the preview failed (no error message)";
}

/** The CLI's closing lines that only say that something failed (the cause is in other diagnostics). */
const GENERIC_FAILURE = /^(preview failed|update failed|an error occurred while advancing the preview|one or more policy violations)\b/i;

/** A diagnostic's text without colors, the `error: ` prefix, stack frames or trailing blank lines. */
function cleanError(message: string): string {
    const lines = plainText(message).replace(/^error: /, "").split("\n");
    return lines.filter((line) => !/^\s+at .+(\(.*\)|:\d+:\d+)$/.test(line)).join("\n").trim();
}

/**
 * `error:` lines of the CLI's output (with the lines that continue them), without the Automation
 * API's wrapper (`code: 255`, `stdout:`, `stderr:`) or stack frames.
 */
export function cliErrorLines(output: string): string {
    const lines = plainText(output).split("\n");
    const kept: string[] = [];
    let inError = false;
    for (const raw of lines) {
        // The wrapper's labels start the first line of each stream: ` stderr: error: ...`.
        const line = raw.replace(/^\s*(code|stdout|stderr|err\?): ?/, "");
        if (/^\s*error: /.test(line)) inError = true;
        else if (line.trim() === "" || /^\S/.test(line) || line !== raw) inError = false;
        if (inError && !/^\s+at .+(\(.*\)|:\d+:\d+)$/.test(line)) kept.push(line.replace(/^\s*error: /, ""));
    }
    return [...new Set(kept)].join("\n").trim();
}

/** The packs that ran (the summary names them), their violations, and how many policies passed. */
export function policyOf(events: PreviewEvent[]): PolicyReport {
    const packs = new Map<string, string>();
    const summaries = events.flatMap((e) => [e.policyAnalyzeSummaryEvent, e.policyAnalyzeStackSummaryEvent, e.policyRemediateSummaryEvent])
        .filter((s): s is PolicySummary => s !== undefined);
    for (const s of summaries) packs.set(s.policyPackName, s.policyPackVersion ?? "");
    for (const e of events) {
        // The summary names a local pack `<name>|local|<path>`: the name is what a reviewer knows.
        for (const [name, version] of Object.entries(e.summaryEvent?.PolicyPacks ?? e.summaryEvent?.policyPacks ?? {})) packs.set(name.split("|")[0], version);
    }
    const violations = events.map((e) => e.policyEvent).filter((p) => p !== undefined).map((p): PolicyViolation => {
        packs.set(p.policyPackName, packs.get(p.policyPackName) || p.policyPackVersion);
        return {
            pack: p.policyPackName, policy: p.policyName, level: p.enforcementLevel, message: plainText(p.message).trim(),
            resource: p.resourceUrn ? resourceOf(p.resourceUrn) : undefined,
        };
    });
    const failed = new Set(summaries.flatMap((s) => (s.failed ?? []).map((p) => `${s.policyPackName}/${p}`)));
    const passed = new Set(summaries.flatMap((s) => (s.passed ?? []).map((p) => `${s.policyPackName}/${p}`)).filter((p) => !failed.has(p)));
    return {
        packs: [...packs.entries()].map(([name, version]) => ({ name, version })).sort((a, b) => a.name.localeCompare(b.name)),
        violations,
        passed: summaries.length > 0 ? passed.size : undefined,
    };
}

/** `urn:pulumi:dev::proj::a$b$kubernetes:apps/v1:StatefulSet::web` -> `kubernetes:apps/v1:StatefulSet web`. */
function resourceOf(urn: string): string {
    const parts = urn.split("::");
    const type = (parts[2] ?? "").split("$").pop() ?? "";
    return `${type} ${parts.slice(3).join("::")}`.trim();
}

/** The operations that do something, by how much they say about the resource (a replacement's steps collapse into `replace`). */
const OP_WEIGHT: Record<string, number> = { "create-replacement": 3, "delete-replaced": 3, replace: 4, create: 2, delete: 2, update: 1 };

/**
 * Resources whose operation is not `same` (nor a read), once each, in the engine's order. Default
 * providers are left out, as `pulumi preview` leaves them out: the program did not declare them.
 */
export function resourceChanges(events: PreviewEvent[]): ResourceChange[] {
    const byUrn = new Map<string, ResourceChange>();
    for (const m of events.map((e) => e.resourcePreEvent?.metadata).filter((s): s is StepEventMetadata => s !== undefined)) {
        if (m.op === "same" || m.op === "read" || m.op === "refresh" || isDefaultProvider(m)) continue;
        const seen = byUrn.get(m.urn);
        const op = m.op === "create-replacement" || m.op === "delete-replaced" ? "replace" : m.op;
        if (!seen || (OP_WEIGHT[m.op] ?? 0) > (OP_WEIGHT[seen.op] ?? 0)) {
            byUrn.set(m.urn, { op, type: m.type, name: m.urn.split("::").slice(3).join("::") });
        }
    }
    return [...byUrn.values()];
}

function isDefaultProvider(m: StepEventMetadata): boolean {
    return m.type.startsWith("pulumi:providers:") && /^default(_|$)/.test(m.urn.split("::").pop() ?? "");
}

/** Outputs whose value differs (by JSON), sorted by name; secrets as `[secret]`, unknowns as `(known after up)`. */
export function outputChanges(before: Record<string, unknown>, after: Record<string, unknown>): OutputChange[] {
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return names.filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]))
        .map((name) => ({ name, before: shown(before[name]), after: shown(after[name]) }));
}

/** An output as a reviewer reads it; nested secrets and unknowns included. */
function shown(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    const masked = mask(value);
    return typeof masked === "string" ? masked : JSON.stringify(masked);
}

function mask(value: unknown): unknown {
    if (isSecret(value)) return SECRET_TEXT;
    if (value === UNKNOWN) return UNKNOWN_TEXT;
    if (Array.isArray(value)) return value.map(mask);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v)]));
    return value;
}
