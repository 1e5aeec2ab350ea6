// Entry point of the sts-canary component package (PulumiPlugin.yaml, runtime nodejs): the plugin
// host infers the schema from the classes exported here and their argument interfaces. The one
// StatefulSetCanary class serves every language; its Kubernetes structures (pod spec, claims,
// Service ports) are objects in Kubernetes' own shape (TypeScript programs may type them with
// CanaryArgs).
export { StatefulSetCanary } from "./canary";
export type { CanaryArgs, StatefulSetCanaryArgs } from "./args";
