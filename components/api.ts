/**
 * What tools (the sts-canary tool, tests) use of this package besides the component: the stack's
 * cluster, the live read and the rollout check's views, image references, and the contract
 * programs export. Not loaded by program runs (index.ts is), so it may pull in the Kubernetes client.
 */
export { CONTRACT_VERSION, type CanaryContract, type ConfigKeys } from "./contract";
export { type ClusterAccess, clusterAccessFromConfig, describeAccess, kubeconfigSource } from "./cluster";
export type { PodView, StatefulSetView } from "./rollout/decide";
export { digestOf, isPinned, parsePin, registryOf, tagOf, withPin } from "./images/reference";
export { describeGates } from "./rollout/describe";
export type { GateSettings } from "./rollout/inputs";
export { Informer } from "./rollout/informer";
export { KubeRolloutCluster, apiError, clusterName, loadKubeConfig, withTimeout } from "./rollout/kube";
export { type LiveState, type LiveTarget, readLive, versionOfRevision } from "./rollout/live";
export { type Clock, type SyncState, realClock } from "./rollout/runner";
export { redact } from "./redact";
