/**
 * Arguments of StatefulSetCanary: one family. `StatefulSetCanaryArgs` is what every language sees
 * (the package schema is inferred from it): the Kubernetes structures (pod spec, claims, Service
 * ports) are objects in Kubernetes' own shape. `CanaryArgs` narrows those to Kubernetes' input
 * types for TypeScript programs that want them checked at compile time; it is assignable to the
 * former, so the one class takes both. Values that decide what runs where (versions, partition,
 * replicas, names, sources) are plain, so they are validated once, before any resource is
 * registered. Defaults and ranges live in options.ts.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

/** A Docker build context of your own, built and pushed to the registry as `<repository>:<version>`. */
export interface DockerBuildArgs {
    /** Directory of the build context. */
    context: string;
    /** Dockerfile, relative to the context (default `Dockerfile`). */
    dockerfile?: string;
    /** Build arguments. */
    args?: Record<string, string>;
    /** Build stage to stop at. */
    target?: string;
}

/** The built-in nginx version page (the seed's app): `<h1>This is V<n></h1>` at `/` and `/version.html`. */
export interface VersionPageArgs {
    /** nginx base image (default `nginx:latest`). */
    baseImage?: string;
}

/** Where one version's image comes from: exactly one of `build`, `ref`, `versionPage`. */
export interface ImageSourceArgs {
    /** Build this context and push it (rebuilt only when its files change). */
    build?: DockerBuildArgs;
    /** An image built elsewhere (CI, another stack), `<repo>[:<tag>]@sha256:<64 hex>`: deployed as it is, never built. */
    ref?: string;
    /** The built-in nginx version page. */
    versionPage?: VersionPageArgs;
}

/** Where built images are pushed, with the pushing account: used by the builds only, never stored in the cluster. */
export interface RegistryArgs {
    /** Registry host[:port], without scheme, e.g. harbor.example.com. */
    server: string;
    /** Repository path under the server, e.g. `library/version-test`. */
    repository: string;
    /** The pushing account (builds only). */
    username: string;
    /** Its password; pass a secret. */
    password: pulumi.Input<string>;
}

/** How the pods pull their images: a pull-only account (a Harbor robot account) or existing Secrets; never the pushing account. */
export interface ImagePullArgs {
    /** Registry host[:port] the account is for (default: `registry.server`). */
    server?: string;
    /** A pull-only account, e.g. Harbor's robot account `robot$library+puller`. */
    username?: string;
    /** Its password or token; pass a secret. */
    password?: pulumi.Input<string>;
    /** Image pull Secrets (kubernetes.io/dockerconfigjson) that already exist in the namespace. */
    secretNames?: string[];
}

/** cosign signatures: what this stack pushes is signed; what the template runs must be signed by one of `publicKeys`. */
export interface SignatureArgs {
    /** The encrypted private key (the contents of `cosign.key`); pass a secret. Every image this stack builds is signed with it. */
    privateKey?: pulumi.Input<string>;
    /** Its password; pass a secret. */
    password?: pulumi.Input<string>;
    /** Public keys (PEM, the contents of `cosign.pub`): the template's image must be signed by one of them. */
    publicKeys?: string[];
    /** Verify before the template moves (default: true when publicKeys are given); false turns it off explicitly. */
    verify?: boolean;
}

/** Stack config keys of the program (in its project's namespace, without the prefix), for tools: the contract carries them. */
export interface ConfigKeys {
    /** Sets `version`, e.g. `imageTag`. */
    version: string;
    /** Sets `partition`. */
    partition: string;
    /** Sets `replicas`, if the program reads it from config. */
    replicas?: string;
    /**
     * A list of `version=<repo>[:<tag>]@sha256:<digest>` passed as `pinnedImages`: what
     * `promote-env` writes. Absent: the program cannot deploy a digest verified elsewhere.
     */
    pinnedImages?: string;
}

/** A Kubernetes object in its own shape (camelCase fields), e.g. a PodSpec or a PersistentVolumeClaim. */
export type KubernetesObject = { [key: string]: any };

/** A Service in front of the pods, besides the headless one every StatefulSet has. */
export interface ServiceArgs {
    /** ClusterIP, NodePort or LoadBalancer. */
    type: string;
    /** Kubernetes ServicePorts (default: every named container port of the canary container). */
    ports?: KubernetesObject[];
    /** Name (default: the StatefulSet's). */
    name?: string;
}

/** The StatefulSet's persistentVolumeClaimRetentionPolicy. */
export interface ClaimRetentionPolicy {
    /** Retain (default) or Delete: what happens to the claims when the StatefulSet is deleted. */
    whenDeleted?: pulumi.Input<string>;
    /** Retain (default) or Delete: what happens to the claims of pods removed by scaling down. */
    whenScaled?: pulumi.Input<string>;
}

export interface HttpGateArgs {
    /** Container port (number) the check is sent to, through the API server's pod proxy. */
    port: number;
    /** Path, e.g. /healthz. */
    path: string;
    /** Status every canary pod must answer (default 200). */
    expectStatus?: number;
    /** Regular expression the body must match. */
    bodyPattern?: string;
}

export interface MetricGateArgs {
    /** URL returning a number: plain text, or a Prometheus instant query. */
    url: string;
    threshold: number;
    /** "<=" (default) or ">=". */
    comparison?: string;
}

/** One analysis metric: a ready-made `template` or your own `query` (PromQL with placeholders). */
export interface AnalysisMetricArgs {
    name: string;
    /** success-rate, error-rate, latency-p95, latency-p99, latency-mean (components/analysis/templates.ts). */
    template?: string;
    /** PromQL, one value per series (e.g. per canary pod); placeholders such as {{canaryPods}} (README, Analysis). */
    query?: string;
    /** e.g. `result >= 0.99` (default: the template's). */
    successCondition?: string;
    /** e.g. `result < 0.95`. */
    failureCondition?: string;
    /** Failed measurements tolerated (default 0: the first fails the metric). */
    failureLimit?: number;
    /** Inconclusive measurements tolerated (default 0). */
    inconclusiveLimit?: number;
    /** Consecutive measurements that could not be taken, tolerated (default 4). */
    consecutiveErrorLimit?: number;
}

/** One metric the baseline-vs-canary judge compares: a template or a query over `{{pods}}`. */
export interface JudgeMetricArgs {
    name: string;
    template?: string;
    query?: string;
    /** increase (default for errors and latency), decrease, either: which change is bad. */
    direction?: string;
    /** A critical metric that fails fails the judge (default false). */
    critical?: boolean;
}

/** Baseline-vs-canary judge (Mann-Whitney U, like Kayenta's). */
export interface JudgeArgs {
    metrics: JudgeMetricArgs[];
    /** Percent confidence of the test (default 98). */
    confidencePercent?: number;
    /** A difference counts only outside ± this percent of the baseline (default 25). */
    tolerancePercent?: number;
    /** Samples per group and metric, below which the metric has no data (default 20). */
    minSamples?: number;
    /** Overall score for pass (default 95) and marginal (default 75). */
    passScore?: number;
    marginalScore?: number;
}

/** Requests sent to every canary and baseline pod during the bake, through the pod proxy. */
export interface LoadArgs {
    /** Container port number (default 80). */
    port?: number;
    /** Path (default /). */
    path?: string;
    /** Per pod (default 5). */
    requestsPerSecond?: number;
}

/** The label names the placeholders and templates use, as your Prometheus' scrape config gives them. */
export interface AnalysisLabelsArgs {
    /** Label holding the namespace (default namespace). */
    namespace?: string;
    /** Label holding the pod name (default pod). */
    pod?: string;
    /** Label holding the pod's controller-revision-hash (default controller_revision_hash). */
    revision?: string;
}

/** Metric analysis during the bake, against Prometheus. */
export interface AnalysisArgs {
    /** Prometheus base URL, e.g. http://prometheus.monitoring:9090. */
    prometheus: string;
    /** Seconds into the bake before the first interval starts (default 0), like Argo Rollouts' initialDelay. */
    initialDelaySeconds?: number;
    /** Seconds between measurements (default 10). */
    intervalSeconds?: number;
    /** Measurements per metric (default: as many intervals as fit in the bake). */
    count?: number;
    /** Range of rate() windows, {{window}} (default 30). */
    windowSeconds?: number;
    /** Label names in your Prometheus (defaults: namespace, pod, controller_revision_hash). */
    labels?: AnalysisLabelsArgs;
    metrics?: AnalysisMetricArgs[];
    judge?: JudgeArgs;
    load?: LoadArgs;
}

export interface GateArgs {
    /** Seconds the canary runs, watched, before it is judged (default 0). */
    bakeSeconds?: number;
    /** Container restarts (or replacements) tolerated per canary pod during the bake (default 0). */
    maxRestarts?: number;
    /** HTTP check of every canary pod (default: the version page for `versionPage` images, else none). */
    http?: HttpGateArgs;
    /** For `versionPage` images without `http`: check the version page (default true). */
    checkVersionPage?: boolean;
    /** Optional metric. */
    metric?: MetricGateArgs;
    /** Metric analysis against Prometheus during the bake: measurements, limits, a judge. */
    analysis?: AnalysisArgs;
}

/** The cluster to deploy to and check, when it is not this stack's default Kubernetes provider. */
export interface ClusterAccessArgs {
    /** A kubeconfig path or the kubeconfig itself; pass a secret. */
    kubeconfig?: pulumi.Input<string>;
    /** Context of the kubeconfig to use. */
    context?: string;
    /** Cluster of the kubeconfig to use instead of the context's. */
    cluster?: string;
}

/** StatefulSetCanary's arguments, as every language passes them. */
export interface StatefulSetCanaryArgs {
    /** Version the template runs: pods with ordinal >= partition. One of `images`. */
    version: string;
    /** Pods with ordinal >= partition run `version`; pods below keep what they run. 0..replicas. */
    partition: number;
    /** Number of pods, 1..1000. */
    replicas: number;
    /** Every version this stack can deploy, and where its image comes from (exactly one of build, ref, versionPage). */
    images: Record<string, ImageSourceArgs>;
    /**
     * Versions built elsewhere (verified in another stack, built by CI), as `version=<repo>[:<tag>]@sha256:<digest>`:
     * deployed as they are, never built; a pin replaces an image of the same version. What `sts-canary promote-env` writes.
     */
    pinnedImages?: string[];
    /** The stack config keys the program reads `version`, `partition`, `replicas` and `pinnedImages` from (for the sts-canary tool). */
    configKeys?: Partial<ConfigKeys>;
    /** Registry built images are pushed to, with the pushing account (required when a version is built); never stored in the cluster. */
    registry?: RegistryArgs;
    /** The pods' pull credentials: a pull-only account (its own image pull Secret) and/or existing Secrets. */
    imagePull?: ImagePullArgs;
    /** Refuse, instead of a warning, when images are pushed to `registry` but the pods get no pull credentials (default false; set it in production). */
    requirePullCredentials?: boolean;
    /** Sign what this stack pushes, verify what the template runs (cosign). */
    signatures?: SignatureArgs;
    /** "pulumi-docker" (default, the @pulumi/docker provider) or "docker-cli" (the local Docker CLI). */
    imageBuilder?: string;
    /** Where version-page build contexts are written (default `.build/images`). */
    buildDirectory?: string;

    /** StatefulSet name; pods are `<name>-<ordinal>` (default: the resource name). */
    name?: string;
    /** Namespace of everything. */
    namespace: string;
    /** Create the namespace (default true), or use an existing one. */
    createNamespace?: boolean;
    /**
     * Delete the created namespace, and with it every PersistentVolumeClaim in it, on `pulumi destroy`
     * or when `namespace` changes (default false: the namespace is left in place, retainOnDelete).
     */
    deleteNamespace?: boolean;
    /** Extra labels on every object (and the pods). */
    labels?: Record<string, string>;
    /** Extra annotations on every object. */
    annotations?: Record<string, string>;

    /** The container that runs the canary image (default: the only container). */
    container?: string;
    /** Extra pod labels. */
    podLabels?: Record<string, string>;
    /** Extra pod annotations. */
    podAnnotations?: Record<string, string>;
    /** OrderedReady (default) or Parallel. */
    podManagementPolicy?: string;
    /** Seconds a new pod must be Ready before it counts as available (default 0). */
    minReadySeconds?: number;

    /** Expected version of the pods below the partition; a step whose lower pods run another fails. */
    stableVersion?: string;
    /** A pod unready this long during a step fails `up` (default 120, 10..3600). */
    readyTimeoutSeconds?: number;
    /**
     * Seconds a cause that can heal by itself may last before it fails the step (default 30, 0..3600):
     * ErrImagePull/ImagePullBackOff other than "not found"/"unauthorized", CreateContainerConfigError,
     * CreateContainerError, RunContainerError.
     */
    transientGraceSeconds?: number;
    /** Restarts a crash-looping container may reach before it fails the step (default 2, 0..100; 0 fails on the first CrashLoopBackOff). */
    crashLoopRestarts?: number;
    /** Outer bound of a step in seconds (default 600, 30..7200). */
    rolloutTimeoutSeconds?: number;
    /** Delete pods stuck on a revision other than the template's at or above the partition (default true). */
    replaceStuckPods?: boolean;
    /** Bake, restarts, HTTP and metric gates. */
    gates?: GateArgs;
    /** The cluster, when not the stack's `kubernetes:` config; the component then builds its own provider. */
    cluster?: ClusterAccessArgs;
    /** The pod template's spec, a Kubernetes PodSpec; leave the canary container's image out (it comes from `images`). */
    podSpec: KubernetesObject;
    /** Kubernetes PersistentVolumeClaims, one volume per pod each. */
    volumeClaimTemplates?: KubernetesObject[];
    /** What happens to the claims on delete and scale-down. */
    persistentVolumeClaimRetentionPolicy?: ClaimRetentionPolicy;
    /** A Service besides the headless one (default: none). */
    service?: ServiceArgs;
}

/** The same arguments for TypeScript programs, with Kubernetes' input types for the Kubernetes structures. */
export interface CanaryArgs extends StatefulSetCanaryArgs {
    podSpec: k8s.types.input.core.v1.PodSpec;
    volumeClaimTemplates?: pulumi.Input<k8s.types.input.core.v1.PersistentVolumeClaim>[];
    service?: TypedServiceArgs;
}

/** ServiceArgs with Kubernetes' ServicePort type. */
export interface TypedServiceArgs extends ServiceArgs {
    ports?: pulumi.Input<k8s.types.input.core.v1.ServicePort>[];
}
