/**
 * A step in words, for `pulumi preview --diff` (and so the pull-request comment), e.g.
 * `pods web-5..web-6: v1 -> v2; web-0..web-4 stay on v1`, and the gates `up` will judge it by.
 * Pure: it takes the desired step and what the cluster runs now.
 */
import { describeAnalysis } from "../analysis/report";
import { redact } from "../redact";
import type { GateSettings } from "./inputs";

export interface DesiredStep {
    /** StatefulSet name; pods are `<name>-<ordinal>`. */
    name: string;
    replicas: number;
    partition: number;
    /** Version of the template (what ordinals >= partition will run). */
    version: string;
}

export interface LiveVersions {
    /** Version of status.currentRevision (what a re-created pod below the partition gets), if any. */
    currentVersion?: string;
    /** Version of status.updateRevision before this step, if any. */
    updateVersion?: string;
    /** Version each existing pod runs, by ordinal. */
    pods: Record<number, string | undefined>;
}

export interface StepDescription {
    text: string;
    /** Version every ordinal runs once the step is done ("0".."replicas-1"). */
    ordinalVersions: Record<string, string>;
    /** Version of pods below the partition after the step (the template's once partition is 0). */
    stableVersion: string;
}

/** `web-0..web-4`, `web-3`, or `web-0..web-1, web-4` for the ordinals given (sorted, distinct). */
export function podRanges(name: string, ordinals: number[]): string {
    const sorted = [...new Set(ordinals)].sort((a, b) => a - b);
    const parts: string[] = [];
    for (let i = 0; i < sorted.length;) {
        let j = i;
        while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
        parts.push(i === j ? `${name}-${sorted[i]}` : `${name}-${sorted[i]}..${name}-${sorted[j]}`);
        i = j + 1;
    }
    return parts.join(", ");
}

/** Groups ordinals by a label, keeping the labels in first-seen order. */
function groupBy(entries: [number, string][]): [string, number[]][] {
    const groups = new Map<string, number[]>();
    for (const [ordinal, label] of entries) groups.set(label, [...(groups.get(label) ?? []), ordinal]);
    return [...groups.entries()];
}

export function describeStep(step: DesiredStep, live: LiveVersions): StepDescription {
    const { name, replicas, partition, version } = step;
    const stayingDefault = live.currentVersion ?? version;
    const ordinalVersions: Record<string, string> = {};
    const moving: [number, string][] = [];
    const unchanged: number[] = [];
    const staying: [number, string][] = [];
    const stayingUpdated: number[] = [];
    for (let ordinal = replicas - 1; ordinal >= 0; ordinal--) {
        const now = live.pods[ordinal];
        if (ordinal >= partition) {
            ordinalVersions[String(ordinal)] = version;
            if (now === version) unchanged.push(ordinal);
            else moving.push([ordinal, now === undefined ? `new on ${version}` : `${now} -> ${version}`]);
        } else {
            const stays = now ?? stayingDefault;
            ordinalVersions[String(ordinal)] = stays;
            // Pods updated by an earlier, lower partition stay updated when it is raised.
            if (now !== undefined && now === version && now !== live.currentVersion && live.currentVersion !== undefined) stayingUpdated.push(ordinal);
            else staying.push([ordinal, now === undefined ? `new on ${stays}` : `on ${stays}`]);
        }
    }
    const removed = Object.keys(live.pods).map(Number).filter((o) => o >= replicas && live.pods[o] !== undefined);

    const parts: string[] = [];
    for (const [label, ordinals] of groupBy(moving)) parts.push(`${podRanges(name, ordinals)}: ${label}`);
    if (unchanged.length > 0) parts.push(`${podRanges(name, unchanged)} already on ${version}`);
    for (const [label, ordinals] of groupBy(staying)) {
        const verb = label.startsWith("new") ? "" : ordinals.length === 1 ? "stays " : "stay ";
        parts.push(`${podRanges(name, ordinals)} ${verb}${label}`);
    }
    if (stayingUpdated.length > 0) {
        parts.push(`${podRanges(name, stayingUpdated)} ${stayingUpdated.length === 1 ? "stays" : "stay"} on ${version} `
            + "(raising the partition does not move pods back; revert the template to do that)");
    }
    if (removed.length > 0) parts.push(`${podRanges(name, removed)} removed`);
    const text = moving.length === 0 && removed.length === 0 && !parts.some((p) => p.includes(" new on "))
        ? `no pod moves: ${parts.join("; ")}`
        : `pods ${parts.join("; ")}`;
    return { text, ordinalVersions, stableVersion: partition === 0 ? version : stayingDefault };
}

/**
 * The gates `up` runs after the step, in words, from the rollout check's `gates` input (as a
 * preview shows it), e.g. `bake 2s, then judge; at most 0 restart(s) per canary pod; every canary
 * pod answers GET :80/version.html with 200 and a body matching /This is V2/`. Fields come from
 * engine events as plain JSON, so each is read defensively: a missing part is left out.
 */
export function describeGates(gates: Partial<GateSettings> | undefined): string {
    if (!gates || typeof gates !== "object") return "";
    const parts: string[] = [];
    const bake = Number(gates.bakeSeconds ?? 0);
    parts.push(bake > 0 ? `bake ${bake}s, then judge` : "no bake, judge at once");
    if (gates.maxRestarts !== undefined) parts.push(`at most ${gates.maxRestarts} restart(s) per canary pod`);
    if (gates.http) {
        const { port, path, expectStatus, bodyPattern } = gates.http;
        parts.push(`every canary pod answers GET :${port}${path} with ${expectStatus}${bodyPattern ? ` and a body matching /${bodyPattern}/` : ""}`);
    }
    if (gates.metric) {
        // The URL may carry a token, as in the metric gate's evidence.
        parts.push(`the metric at ${redact(gates.metric.url)} is ${gates.metric.comparison} ${gates.metric.threshold}`);
    }
    const analysis = describeAnalysis(gates.analysis);
    if (analysis) parts.push(analysis);
    return parts.join("; ");
}
