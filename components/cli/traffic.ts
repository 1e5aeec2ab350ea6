// TEMPORARY re-export for tests/e2e/canary.e2e.ts and tests/e2e/rollout.e2e.ts, which still import
// this path: the tool moved to tool/, the test helpers to tests/e2e/traffic.ts. Not part of the
// component package (components/tsconfig.json does not compile cli/); delete with those imports.
export * from "../../tests/e2e/traffic";
