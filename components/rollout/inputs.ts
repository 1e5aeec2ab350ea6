/**
 * What a step is and how it is judged: the one type the RolloutCheck resource sends (inputs.ts ->
 * check.ts), its provider receives (provider.ts), and the runner and decide() work from. Adding a
 * field is one edit here, and the value the component passes (canary.ts).
 */
import type { AnalysisSettings } from "../analysis/spec";

export interface RolloutInputs {
    namespace: string;
    /** StatefulSet name. */
    name: string;
    /** metadata.generation of the applied StatefulSet: a new one means a new step to check. */
    generation: number;
    replicas: number;
    partition: number;
    /** Version of the template. */
    version: string;
    /** Image of the canary container in the template (the live template must still have it). */
    image: string;
    /** Name of the canary container. */
    container: string;
    /** A pod not Ready this long (by its own timestamps) is stuck. */
    readyTimeoutSeconds: number;
    /** How long a cause that can heal (pull error other than "not found", config error) may last. */
    transientGraceSeconds: number;
    /** Restarts a crash-looping container may reach before it is stuck. */
    crashLoopRestarts: number;
    /** Outer bound of the whole check, bake included. */
    rolloutTimeoutSeconds: number;
    /** Delete a not-Ready pod on another revision than the controller would recreate it with. */
    replaceStuckPods: boolean;
    /** When not empty, the pods below the partition must run this version. */
    expectedStableVersion: string;
    gates: GateSettings;
}

export interface HttpCheck {
    /** Container port (number or name) the check is sent to, through the API server's pod proxy. */
    port: number | string;
    /** Path, e.g. /version.html. */
    path: string;
    /** HTTP status every canary pod must answer. */
    expectStatus: number;
    /** Regular expression the body must match, e.g. `This is V2`; empty: any body. */
    bodyPattern?: string;
}

export interface MetricCheck {
    /** URL returning a number: plain text, or a Prometheus instant query (`.../api/v1/query?query=...`). */
    url: string;
    threshold: number;
    /** The metric passes when `value <comparison> threshold`. */
    comparison: "<=" | ">=";
}

export interface GateSettings {
    /** Seconds the canary runs before restarts, HTTP and metric are judged (0: judge at once). */
    bakeSeconds: number;
    /** Container restarts (or pod replacements) tolerated per canary pod during the bake. */
    maxRestarts: number;
    http?: HttpCheck;
    metric?: MetricCheck;
    /** Metric analysis against Prometheus during the bake (components/analysis). */
    analysis?: AnalysisSettings;
}
