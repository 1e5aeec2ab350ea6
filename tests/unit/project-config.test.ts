import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { DEFAULTS, RawSettings, keyValueEntries, validateSettings } from "../../program/settings";

const ROOT = path.resolve(__dirname, "../..");
const readYaml = (file: string) => yaml.load(fs.readFileSync(path.join(ROOT, file), "utf8")) as Record<string, any>;

describe("Pulumi.yaml config schema", () => {
    const project = readYaml("Pulumi.yaml");
    const schema = project.config as Record<string, { type: string; default?: unknown; description?: string; secret?: boolean }>;

    it("declares every setting with the program's default", () => {
        for (const [key, defaultValue] of Object.entries(DEFAULTS)) {
            assert.ok(schema[key], `Pulumi.yaml does not declare ${key}`);
            // pinnedImages and nodeSelector are maps in the program and lists of "key=value"
            // entries in stack config (project config has no map type).
            const value = key === "pinnedImages" || key === "nodeSelector"
                ? keyValueEntries(defaultValue as Record<string, string>) : defaultValue;
            assert.deepStrictEqual(schema[key].default, value, `default of ${key}`);
            const expectedType = Array.isArray(value) ? "array" : typeof value === "number" ? "integer" : typeof value === "boolean" ? "boolean" : "string";
            assert.strictEqual(schema[key].type, expectedType, `type of ${key}`);
        }
    });

    it("describes every key and declares the password secret without a default", () => {
        for (const [key, entry] of Object.entries(schema)) assert.ok(entry.description && entry.description.length > 10, key);
        assert.strictEqual(schema.registryPassword.secret, true);
        assert.strictEqual(schema.registryPassword.default, undefined);
    });

    it("runs TypeScript on the nodejs runtime", () => {
        assert.strictEqual(project.name, "sts-canary");
        assert.strictEqual(project.runtime.name, "nodejs");
    });
});

for (const stack of ["dev", "prod"]) {
    describe(`Pulumi.${stack}.yaml`, () => {
        const config = readYaml(`Pulumi.${stack}.yaml`).config as Record<string, unknown>;

        it("holds valid settings", () => {
            const raw: RawSettings = {};
            for (const [key, value] of Object.entries(config)) {
                if (!key.startsWith("sts-canary:")) continue;
                const name = key.slice("sts-canary:".length) as keyof RawSettings;
                raw[name] = Array.isArray(value) ? JSON.stringify(value) : String(value);
            }
            assert.doesNotThrow(() => validateSettings(raw));
        });

        it("holds no plaintext registry password", () => {
            const password = config["sts-canary:registryPassword"];
            assert.ok(password === undefined || (typeof password === "object" && password !== null && "secure" in password));
        });
    });
}

describe("README configuration reference", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const schema = readYaml("Pulumi.yaml").config as Record<string, { default?: unknown }>;
    for (const [key, entry] of Object.entries(schema)) {
        it(`documents ${key} with its default`, () => {
            const row = readme.split("\n").find((line) => line.startsWith(`| \`${key}\``));
            assert.ok(row, `no table row for ${key}`);
            const shown = entry.default === undefined ? "(required, secret)"
                : Array.isArray(entry.default) ? `\`${JSON.stringify(entry.default)}\``
                    : entry.default === "" ? "(empty)" : `\`${String(entry.default)}\``;
            assert.ok(row.includes(shown), `row for ${key} does not show default ${shown}: ${row}`);
        });
    }
});
