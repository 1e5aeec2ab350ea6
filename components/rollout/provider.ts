/**
 * The RolloutCheck's dynamic provider, run by Pulumi's Node.js dynamic-provider host (compiled to
 * dist/rollout/provider.js and loaded by absolute path, see ../dynamic.ts):
 *   check   describes the step in words from the live cluster (shown by `pulumi preview --diff`);
 *   diff    says whether the step changed (the computed description never counts);
 *   create/update run the rollout check (runner.ts) against the stack's cluster and fail the
 *           update with the cause, so a failed step keeps the old inputs and the next `up` checks again.
 */
import type { ClusterAccess } from "../cluster";
import { DesiredStep, LiveVersions, describeStep } from "./describe";
import type { RolloutInputs } from "./inputs";
import { describeAnalysis } from "../analysis/report";
import { RolloutFailure, RolloutReport, realClock, runRollout } from "./runner";

/** Inputs of the check as the component sends them. */
export interface CheckInputs extends RolloutInputs {
    /** The stack's cluster (secret: it may hold a kubeconfig). */
    cluster: ClusterAccess;
    /** This resource's URN, to show progress next to it ("urn" itself is reserved). */
    progressUrn?: string;
}

/** Computed by check() for the preview: not part of what the user asked for. */
export interface StepPreview {
    step: string;
    ordinalVersions: Record<string, string>;
    stableVersion: string;
}

/** Inputs that are not part of the step: where to reach the cluster, where to show progress, what check() computed. */
const NOT_THE_STEP: ReadonlySet<string> = new Set(["cluster", "progressUrn", "step", "ordinalVersions", "stableVersion", "__provider"]);

/** The engine's placeholder for values not known during a preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function same(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Inputs of the step that differ (every field the component sends counts; the old state also
 * holds the check's outputs, which are not compared); unknown values count as changed.
 */
export function changedKeys(olds: object, news: object): string[] {
    const before = new Map<string, unknown>(Object.entries(olds));
    const after = new Map<string, unknown>(Object.entries(news));
    const keys = [...after.keys()].filter((key) => !NOT_THE_STEP.has(key));
    return keys.filter((key) => after.get(key) === UNKNOWN || !same(before.get(key), after.get(key)));
}

export type LiveReader = (inputs: CheckInputs) => Promise<LiveVersions>;

/** What every ordinal runs now, from the stack's cluster (nothing when the StatefulSet does not exist). */
export async function readLive(inputs: CheckInputs): Promise<LiveVersions> {
    const { loadKubeConfig } = await import("./kube");
    const live = await import("./live");
    const state = await live.readLive(loadKubeConfig(inputs.cluster), { namespace: inputs.namespace, statefulSetName: inputs.name, container: inputs.container });
    return {
        currentVersion: live.versionOfRevision(state, state.statefulSet?.currentRevision),
        updateVersion: live.versionOfRevision(state, state.statefulSet?.updateRevision),
        pods: Object.fromEntries(state.pods.map((p) => [p.ordinal, p.version])),
    };
}

/**
 * Adds the step's description. It reads the cluster only when the step changed, so a run that
 * changes nothing makes no call; a cluster it cannot read leaves a description without live data.
 */
export async function check(olds: Partial<CheckInputs & StepPreview>, news: CheckInputs & Partial<StepPreview>,
    read: LiveReader = readLive): Promise<{ inputs: CheckInputs & StepPreview }> {
    const desired: DesiredStep = { name: news.name, replicas: news.replicas, partition: news.partition, version: news.version };
    if (olds.step !== undefined && olds.ordinalVersions !== undefined && olds.stableVersion !== undefined && changedKeys(olds, news).length === 0) {
        return { inputs: { ...news, step: olds.step, ordinalVersions: olds.ordinalVersions, stableVersion: olds.stableVersion } };
    }
    let live: LiveVersions = { pods: {} };
    let note = "";
    try {
        live = await withTimeout(read(news), 15_000, "reading the live StatefulSet");
    } catch (err) {
        note = ` (live state not readable: ${(err as Error).message.split("\n")[0].slice(0, 160)})`;
    }
    const described = describeStep(desired, live);
    const analysis = describeAnalysis(news.gates?.analysis);
    return { inputs: { ...news, step: described.text + note + (analysis ? `; then ${analysis}` : ""), ordinalVersions: described.ordinalVersions, stableVersion: described.stableVersion } };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000}s`)), ms); });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function diff(olds: Partial<CheckInputs>, news: CheckInputs): { changes: boolean; replaces: string[] } {
    return { changes: changedKeys(olds, news).length > 0, replaces: [] };
}

/** Outputs: the inputs minus the cluster credentials, plus what the check found. */
export function outputsOf(inputs: CheckInputs & Partial<StepPreview>, report: RolloutReport): Record<string, unknown> {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { cluster, ...rest } = inputs;
    return {
        ...rest,
        ordinalVersions: report.ordinalVersions,
        stableVersion: report.stableVersion,
        currentRevision: report.currentRevision,
        updateRevision: report.updateRevision,
        replacedPods: report.replaced,
        staysUpdated: report.staysUpdated,
        gateResults: report.gates,
        summary: report.summary,
        durationSeconds: report.durationSeconds,
    };
}

async function run(inputs: CheckInputs & Partial<StepPreview>): Promise<Record<string, unknown>> {
    const { KubeRolloutCluster, loadKubeConfig } = await import("./kube");
    const { engineProgress, exitWithEngine } = await import("./progress");
    exitWithEngine();
    const progress = engineProgress(inputs.progressUrn);
    const kc = loadKubeConfig(inputs.cluster);
    const cluster = new KubeRolloutCluster(kc, inputs.namespace, inputs.name, inputs.container);
    try {
        const report = await runRollout(cluster, inputs, realClock, (line) => progress(line, line.startsWith("replaced") ? "info" : "status"));
        progress(report.summary, "status");
        await progress.flush();
        return outputsOf(inputs, report);
    } catch (err) {
        await progress.flush();
        // A plain Error (no resource id): the engine keeps the previous state, so the next `up` checks again.
        if (err instanceof RolloutFailure) throw new Error(err.message);
        throw err;
    }
}

export async function create(inputs: CheckInputs & Partial<StepPreview>): Promise<{ id: string; outs: Record<string, unknown> }> {
    return { id: `${inputs.namespace}/${inputs.name}`, outs: await run(inputs) };
}

export async function update(_id: string, _olds: unknown, news: CheckInputs & Partial<StepPreview>): Promise<{ outs: Record<string, unknown> }> {
    return { outs: await run(news) };
}

/** What the dynamic-provider host calls (see ../dynamic.ts). */
export const provider = {
    check: (olds: Partial<CheckInputs & StepPreview>, news: CheckInputs & Partial<StepPreview>) => check(olds, news),
    diff: async (_id: string, olds: Partial<CheckInputs>, news: CheckInputs) => diff(olds, news),
    create,
    update,
    // The check only observes; deleting it leaves the StatefulSet and its pods alone.
    delete: async (): Promise<void> => undefined,
};
