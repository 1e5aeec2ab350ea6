/**
 * Every tunable argument of StatefulSetCanary, once: its default, its range or allowed values, and
 * what it does. The validator checks against it, the component applies its defaults from it, and
 * the tests hold Pulumi.yaml (the seed program's config schema), the README and the policy pack
 * against it. A new option is one entry here.
 */

/** Values of `imageBuilder`. */
export const IMAGE_BUILDERS = ["pulumi-docker", "docker-cli"] as const;
/** Values of `podManagementPolicy`. */
export const POD_MANAGEMENT_POLICIES = ["OrderedReady", "Parallel"] as const;
/** Values of `service.type`. */
export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;

export interface OptionSpec {
    /** Dotted path of the argument, e.g. `gates.bakeSeconds`. */
    path: string;
    /** Applied when the argument is not given; absent for required arguments and bare ranges. */
    default?: number | boolean | string;
    /** Inclusive integer range. */
    min?: number;
    max?: number;
    allowed?: readonly string[];
    description: string;
}

export const OPTIONS = {
    replicas: { path: "replicas", min: 1, max: 1000, description: "Number of pods, `<name>-0 .. <name>-(replicas-1)`." },
    imageBuilder: {
        path: "imageBuilder", default: "pulumi-docker", allowed: IMAGE_BUILDERS,
        description: "`pulumi-docker` (the @pulumi/docker provider) or `docker-cli` (the local Docker CLI, where the docker provider plugin is unavailable).",
    },
    requirePullCredentials: {
        path: "requirePullCredentials", default: false,
        description: "Refuse (instead of a warning) when images are pushed to `registry` but the pods get no pull credentials "
            + "(`imagePull`, or imagePullSecrets of the pod spec); the pushing account never reaches the cluster. Set it in production.",
    },
    createNamespace: { path: "createNamespace", default: true, description: "Create the namespace, or use an existing one." },
    deleteNamespace: {
        path: "deleteNamespace", default: false,
        description: "Delete the created namespace, and every PersistentVolumeClaim in it, on `pulumi destroy` or when `namespace` changes; "
            + "by default it is left in place (retainOnDelete).",
    },
    podManagementPolicy: { path: "podManagementPolicy", default: "OrderedReady", allowed: POD_MANAGEMENT_POLICIES, description: "OrderedReady or Parallel." },
    minReadySeconds: { path: "minReadySeconds", default: 0, min: 0, max: 3600, description: "Seconds a new pod must be Ready before it counts as available." },
    readyTimeoutSeconds: {
        path: "readyTimeoutSeconds", default: 120, min: 10, max: 3600,
        description: "A pod not Ready this long (by its own timestamps) fails `up`, naming the pod, its reason, events and log.",
    },
    transientGraceSeconds: {
        path: "transientGraceSeconds", default: 30, min: 0, max: 3600,
        description: "How long a cause that can heal may last before it fails `up`: ErrImagePull/ImagePullBackOff other than not found or "
            + "unauthorized, CreateContainerConfigError, CreateContainerError, RunContainerError.",
    },
    crashLoopRestarts: {
        path: "crashLoopRestarts", default: 2, min: 0, max: 100,
        description: "Restarts a crash-looping container may reach before it fails `up` (0: the first CrashLoopBackOff).",
    },
    rolloutTimeoutSeconds: {
        path: "rolloutTimeoutSeconds", default: 600, min: 30, max: 7200,
        description: "Outer bound of a step in `pulumi up`, bake included; then it fails with what it was waiting for.",
    },
    replaceStuckPods: {
        path: "replaceStuckPods", default: true,
        description: "Delete a pod that is not Ready on another revision than the controller would recreate it with (kubernetes#67250).",
    },
    bakeSeconds: {
        path: "gates.bakeSeconds", default: 0, min: 0, max: 86400,
        description: "Gate: seconds the canary runs, watched, before it is judged; shorter than rolloutTimeoutSeconds.",
    },
    maxRestarts: { path: "gates.maxRestarts", default: 0, min: 0, max: 1000, description: "Gate: restarts (or replacements) tolerated per canary pod during the bake." },
    checkVersionPage: {
        path: "gates.checkVersionPage", default: true,
        description: "Gate: for version-page images without `http`, every canary pod must answer /version.html with its version.",
    },
    expectStatus: { path: "gates.http.expectStatus", default: 200, min: 100, max: 599, description: "Gate: the HTTP status every canary pod must answer." },
    httpPort: { path: "gates.http.port", min: 1, max: 65535, description: "Gate: the container port the HTTP check is sent to." },
    analysisInitialDelay: {
        path: "gates.analysis.initialDelaySeconds", default: 0, min: 0, max: 3600,
        description: "Analysis: seconds into the bake before the first interval (new pods need a few scrapes before rate() has data).",
    },
    analysisInterval: { path: "gates.analysis.intervalSeconds", default: 10, min: 1, max: 3600, description: "Analysis: seconds between measurements; the first is one interval into the bake." },
    analysisCount: { path: "gates.analysis.count", min: 1, max: 1000, description: "Analysis: measurements per metric (default: as many intervals as fit in the bake)." },
    analysisWindow: { path: "gates.analysis.windowSeconds", default: 30, min: 1, max: 86400, description: "Analysis: range of the templates' rate() windows ({{window}})." },
    failureLimit: { path: "gates.analysis.metrics[].failureLimit", default: 0, min: 0, max: 1000, description: "Analysis: failed measurements tolerated; one more fails the metric (Argo Rollouts' semantics)." },
    inconclusiveLimit: { path: "gates.analysis.metrics[].inconclusiveLimit", default: 0, min: 0, max: 1000, description: "Analysis: inconclusive measurements tolerated; one more makes the run Inconclusive." },
    consecutiveErrorLimit: {
        path: "gates.analysis.metrics[].consecutiveErrorLimit", default: 4, min: 0, max: 1000,
        description: "Analysis: consecutive measurements that could not be taken (Prometheus down, query error) tolerated; one more is Error.",
    },
    judgeConfidence: { path: "gates.analysis.judge.confidencePercent", default: 98, min: 50, max: 99, description: "Judge: confidence of the Mann-Whitney U test, percent." },
    judgeTolerance: { path: "gates.analysis.judge.tolerancePercent", default: 25, min: 0, max: 1000, description: "Judge: a difference counts only outside ± this percent of the baseline." },
    judgeMinSamples: { path: "gates.analysis.judge.minSamples", default: 20, min: 3, max: 100000, description: "Judge: samples per group and metric needed; fewer is no data." },
    judgePassScore: { path: "gates.analysis.judge.passScore", default: 95, min: 0, max: 100, description: "Judge: overall score (percent of metrics passing) for pass." },
    judgeMarginalScore: { path: "gates.analysis.judge.marginalScore", default: 75, min: 0, max: 100, description: "Judge: overall score for marginal (fails `up`, says so); below it: fail." },
    loadRate: { path: "gates.analysis.load.requestsPerSecond", default: 5, min: 1, max: 50, description: "Load: requests per second to each canary and baseline pod during the bake, through the pod proxy." },
    versionPageBaseImage: { path: "images.*.versionPage.baseImage", default: "nginx:latest", description: "nginx base image of the built-in version page." },
    nodePort: { path: "service.ports[].nodePort", min: 30000, max: 32767, description: "Node port of a NodePort Service (the default Kubernetes range)." },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

type WithDefault = { [K in OptionName]: (typeof OPTIONS)[K] extends { default: unknown } ? K : never }[OptionName];
type Widen<T> = T extends boolean ? boolean : T extends number ? number : T extends string ? string : T;
type WithRange = { [K in OptionName]: (typeof OPTIONS)[K] extends { min: number } ? K : never }[OptionName];

/** The default of every option that has one. */
export const DEFAULTS = Object.fromEntries(Object.entries(OPTIONS).flatMap(([name, spec]) => ("default" in spec ? [[name, spec.default]] : []))) as
    { readonly [K in WithDefault]: Widen<(typeof OPTIONS)[K]["default"]> };

/** The range of every option that has one. */
export const LIMITS = Object.fromEntries(Object.entries(OPTIONS).flatMap(([name, spec]) => ("min" in spec ? [[name, { min: spec.min, max: spec.max }]] : []))) as
    { readonly [K in WithRange]: { min: number; max: number } };

/** The README's table of options (a unit test holds the README to it; `npm run docs` writes it). */
export function optionsTable(): string {
    const rows = (Object.values(OPTIONS) as OptionSpec[]).map((o) => {
        const range = o.allowed ? o.allowed.join(", ") : o.min !== undefined ? `${o.min}..${o.max}` : "";
        const value = o.default === undefined ? "(required or per item)" : `\`${String(o.default)}\``;
        return `| \`${o.path}\` | ${value} | ${range} | ${o.description} |`;
    });
    return ["| option | default | allowed | meaning |", "|---|---|---|---|", ...rows].join("\n");
}
