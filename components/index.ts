// Entry point of the sts-canary component package (PulumiPlugin.yaml, runtime nodejs): the host
// infers the schema from the classes exported here.
export { StatefulSetCanary, StatefulSetCanaryArgs } from "./canary";
export { AppImage, AppImageArgs } from "./app-image";
export { CanaryWorkload, CanaryWorkloadArgs } from "./workload";
