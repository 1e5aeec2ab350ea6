/**
 * What tools (the sts-canary tool, tests) use of this package besides the components: the
 * stack's cluster, the rollout check's decisions and views, and the contract programs export.
 * Not loaded by program runs (index.ts is), so it may pull in the Kubernetes client.
 */
export type { CanaryContract } from "./canary";
export { ClusterAccess, KubeconfigSource, clusterAccessFromConfig, describeAccess, kubeconfigSource } from "./cluster";
export { PodView, StatefulSetView, PERMANENT_REASONS, TRANSIENT_REASONS, causeKind, Verdict, decide, stuckReason } from "./rollout/decide";
export { DesiredStep, LiveVersions, StepDescription, describeStep, podRanges } from "./rollout/describe";
export { GateResult, GateSettings, HttpCheck, MetricCheck } from "./rollout/gates";
export { httpGet } from "./rollout/http";
export { Informer } from "./rollout/informer";
export { KubeRolloutCluster, apiError, clusterName, loadKubeConfig } from "./rollout/kube";
export type { SyncState } from "./rollout/runner";
export { Clock, realClock } from "./rollout/runner";
export { REVISION_LABEL, VERSION_LABEL, labelSelector, ordinalOf, podView, revisionVersion, statefulSetView, tagOf } from "./rollout/views";
export { versionLabel, versionPage } from "./images/version-page";
export { redact } from "./redact";
