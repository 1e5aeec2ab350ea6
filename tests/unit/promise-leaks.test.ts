import * as assert from "assert";

/**
 * A root hook (it runs once, after every unit test file): no registration the tests started with
 * the Pulumi mocks may still be pending. The runtime checks the same at process exit and prints
 * "The Pulumi runtime detected that N promises were still active"; here it fails the suite instead,
 * naming the first ones. (Until the component validated its arguments before registering anything,
 * the invalid-args tests left 1059: every child of a component whose validated settings rejected
 * kept its URN, id and output resolvers pending forever.)
 */
after("no Pulumi promise is left active", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { leakCandidates: Set<{ _debugCtx?: string }> } };
    const leaked = [...state.getStore().leakCandidates];
    assert.strictEqual(leaked.length, 0, `${leaked.length} Pulumi promises still active, e.g. ${leaked.slice(0, 5).map((p) => p._debugCtx).join("; ")}`);
});
