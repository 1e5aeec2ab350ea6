/**
 * Dynamic-provider resources whose provider is a compiled module of this package, loaded by path
 * in Pulumi's Node.js dynamic-provider host. A dynamic resource is a custom resource of type
 * `pulumi-nodejs:dynamic/<module>:<type>` whose `__provider` input is a module's source exporting
 * `handler()`; writing that source ourselves (a `require` of the compiled module) instead of
 * letting the SDK serialize a closure keeps every program run from loading the TypeScript
 * compiler and inspecting functions, and puts only a path in the state.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

/** The resource's arguments for a provider's plain inputs: every field may be an Output. */
export type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** Directory of this package (the one holding PulumiPlugin.yaml), from a source or a dist/ file. */
export function packageRoot(from: string = __dirname): string {
    for (let dir = from, i = 0; i < 5; i++, dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "PulumiPlugin.yaml"))) return dir;
    }
    throw new Error(`sts-canary: cannot find the component package root above ${from}`);
}

/** The compiled module `dist/<relative>.js` of this package, or an error saying how to build it. */
export function compiledModule(relative: string): string {
    const root = packageRoot();
    const file = path.join(root, "dist", `${relative}.js`);
    if (!fs.existsSync(file)) {
        throw new Error(`sts-canary: ${file} is missing: dynamic providers run the compiled package; run \`npm run build\` (or \`npm install\`) in ${root}`);
    }
    return file;
}

/**
 * The `__provider` source: `handler()` returns the module's `provider`. The state keeps the path of
 * the checkout that last updated the stack; run from another checkout (CI, a colleague's clone),
 * that path is gone, so the module is then found as `sts-canary/dist/<relative>.js` installed for
 * the program in the working directory. Only when neither exists do the calls fail, naming the
 * file; read and delete still work (these resources own nothing to refresh or clean up), so
 * `pulumi refresh` and `pulumi destroy` never depend on a checkout.
 */
export function providerSource(file: string, relative?: string): string {
    const where = JSON.stringify(file);
    return [
        "exports.handler = function () {",
        `    if (require("fs").existsSync(${where})) return require(${where}).provider;`,
        ...(relative === undefined ? [] : [
            "    try {",
            `        const installed = require("path").join(require("path").dirname(require.resolve("sts-canary", { paths: [process.cwd()] })), ${JSON.stringify(`${relative}.js`)});`,
            "        if (require(\"fs\").existsSync(installed)) return require(installed).provider;",
            "    } catch (e) { /* not installed next to the program */ }",
        ]),
        `    const missing = async () => { throw new Error("sts-canary: provider module " + ${where} + " is missing: run \`npm run build\` in the component package"); };`,
        "    return { check: missing, diff: missing, create: missing, update: missing, read: async (id, props) => ({ id, props }), delete: async () => undefined };",
        "};",
    ].join("\n");
}

/** A dynamic resource implemented by `dist/<relative>.js` (which exports `provider`). */
export abstract class ModuleProviderResource extends pulumi.CustomResource {
    protected constructor(relative: string, module: string, type: string, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, __provider: providerSource(compiledModule(relative), relative) }, opts);
    }
}
