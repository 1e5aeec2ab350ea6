import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { compiledModule, packageRoot, providerSource } from "../../components/dynamic";

/** Evaluates a `__provider` source the way Pulumi's dynamic-provider host does (a module from a string). */
function load(source: string): { handler(): Record<string, (...args: unknown[]) => Promise<unknown>> } {
    const module = { exports: {} as any };
    new Function("exports", "require", "module", source)(module.exports, require, module);
    return module.exports;
}

describe("dynamic providers loaded by path (components/dynamic.ts)", () => {
    it("hands the host the module's provider", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-dyn-"));
        const file = path.join(dir, "provider.js");
        fs.writeFileSync(file, "exports.provider = { diff: async () => ({ changes: true }), marker: 42 };\n");
        const provider = load(providerSource(file)).handler();
        assert.strictEqual((provider as unknown as { marker: number }).marker, 42);
        assert.deepStrictEqual(await provider.diff(), { changes: true });
    });

    it("still deletes, and names the missing file otherwise, when the module is gone", async () => {
        const missing = path.join(os.tmpdir(), "sts-canary-no-such-dir", "provider.js");
        const provider = load(providerSource(missing)).handler();
        assert.strictEqual(await provider.delete(), undefined);
        await assert.rejects(provider.update(), new RegExp(`provider module ${missing.replace(/[.]/g, "\\.")} is missing: run \`npm run build\``));
    });

    it("finds the module in the package installed for the program when the state's checkout path is gone (refresh from another clone)", async () => {
        const gone = path.join(os.tmpdir(), "sts-canary-other-checkout", "components", "dist", "rollout", "provider.js");
        const provider = load(providerSource(gone, "rollout/provider")).handler();
        // The compiled module of the installed package (not the missing-module stub, which has `read`).
        assert.deepStrictEqual(Object.keys(provider).sort(), ["check", "create", "delete", "diff", "update"]);
        assert.strictEqual(await provider.delete(), undefined);
    });

    it("refreshes without the module: read returns the state as it is", async () => {
        const gone = path.join(os.tmpdir(), "sts-canary-no-such-dir", "provider.js");
        const provider = load(providerSource(gone, "no/such/module")).handler();
        assert.deepStrictEqual(await provider.read("ns/web", { step: "x" }), { id: "ns/web", props: { step: "x" } });
    });

    it("finds the package root and its compiled provider modules", () => {
        assert.ok(fs.existsSync(path.join(packageRoot(), "PulumiPlugin.yaml")));
        assert.match(compiledModule("rollout/provider"), /components\/dist\/rollout\/provider\.js$/);
        assert.throws(() => compiledModule("no/such"), /dist\/no\/such\.js is missing: dynamic providers run the compiled package; run `npm run build`/);
    });
});
