/**
 * Image tags that move: a rollout pinned to one of them is not reproducible, so the program, the
 * component and the policy pack all reject them (one list).
 */
export const MUTABLE_TAGS: ReadonlySet<string> = new Set(["latest", "stable", "main", "master", "dev", "edge", "nightly"]);
