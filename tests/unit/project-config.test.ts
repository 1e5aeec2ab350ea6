/**
 * One source of truth: the component's options table (components/options.ts) holds every default
 * and range; Pulumi.yaml (the seed program's config schema), the README and the argument docs are
 * held to it here, and the program reads exactly the keys Pulumi.yaml declares.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { OPTIONS, OptionName, optionsTable } from "../../components/options";
import { CONFIG_KEYS, ConfigError, OPTIONAL_SECRETS, seedArgs } from "../../program/config";
import { projectDefaults } from "./mocks";

const ROOT = path.resolve(__dirname, "../..");
const readYaml = (file: string) => yaml.load(fs.readFileSync(path.join(ROOT, file), "utf8")) as Record<string, any>;
type Entry = { type: string; default?: unknown; description?: string; secret?: boolean };

/** Seed config keys that set a component option (the rest are the seed's own: names, registry, versions...). */
const OPTION_OF_KEY: Partial<Record<string, OptionName>> = {
    imageBuilder: "imageBuilder", createNamespace: "createNamespace", deleteNamespace: "deleteNamespace", readyTimeoutSeconds: "readyTimeoutSeconds",
    transientGraceSeconds: "transientGraceSeconds", crashLoopRestarts: "crashLoopRestarts", rolloutTimeoutSeconds: "rolloutTimeoutSeconds",
    replaceStuckPods: "replaceStuckPods", bakeSeconds: "bakeSeconds", maxRestarts: "maxRestarts", checkVersionPage: "checkVersionPage",
    baseImage: "versionPageBaseImage",
};

describe("Pulumi.yaml config schema", () => {
    const project = readYaml("Pulumi.yaml");
    const schema = project.config as Record<string, Entry>;

    it("declares exactly the keys the program reads (and the secret password)", () => {
        assert.deepStrictEqual(Object.keys(schema).sort(), [...CONFIG_KEYS, "registryPassword"].sort());
    });

    it("declares no optional secret (the CLI would demand it of every stack) and documents each in the README", () => {
        // A declared secret without a default is required by `pulumi preview`; a secret default is refused.
        assert.deepStrictEqual(Object.entries(schema).filter(([, e]) => e.secret).map(([k]) => k), ["registryPassword"]);
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        for (const key of OPTIONAL_SECRETS) {
            assert.ok(!(key in schema), `${key} is declared in Pulumi.yaml`);
            assert.match(readme, new RegExp(`\\| \`${key}\` \\| \\(secret\\)`), `${key} is not in the README's config table`);
        }
    });

    it("gives every component option the component's own default and type", () => {
        for (const [key, option] of Object.entries(OPTION_OF_KEY)) {
            const spec = OPTIONS[option!] as { default?: unknown };
            assert.deepStrictEqual(schema[key].default, spec.default, `default of ${key}`);
            const type = typeof spec.default === "number" ? "integer" : typeof spec.default;
            assert.strictEqual(schema[key].type, type, `type of ${key}`);
        }
    });

    it("holds defaults the component accepts", () => {
        assert.doesNotThrow(() => seedArgs(projectDefaults(), { registryPassword: "pw" }));
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
            const raw: Record<string, string> = {};
            for (const [key, value] of Object.entries(config)) {
                if (!key.startsWith("sts-canary:") || key === "sts-canary:registryPassword") continue;
                raw[key.slice("sts-canary:".length)] = Array.isArray(value) ? JSON.stringify(value) : String(value);
            }
            try {
                seedArgs({ ...projectDefaults(), ...raw }, { registryPassword: "pw", pullPassword: raw.pullUsername ? "pull-pw" : undefined });
            } catch (err) {
                assert.fail(err instanceof ConfigError ? err.message : String(err));
            }
        });

        it("holds no plaintext registry password", () => {
            const password = config["sts-canary:registryPassword"];
            assert.ok(password === undefined || (typeof password === "object" && password !== null && "secure" in password));
        });
    });
}

describe("README", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const schema = readYaml("Pulumi.yaml").config as Record<string, Entry>;
    for (const [key, entry] of Object.entries(schema)) {
        it(`documents ${key} with its default`, () => {
            const row = readme.split("\n").find((line) => line.startsWith(`| \`${key}\``));
            assert.ok(row, `no table row for ${key}`);
            const shown = entry.default === undefined ? (/Required/.test(entry.description ?? "") ? "(required, secret)" : "(secret)")
                : Array.isArray(entry.default) ? `\`${JSON.stringify(entry.default)}\``
                    : entry.default === "" ? "(empty)" : `\`${String(entry.default)}\``;
            assert.ok(row.includes(shown), `row for ${key} does not show default ${shown}: ${row}`);
        });
    }

    it("lists the component's options as the options table says (`npm run docs` writes it)", () => {
        const begin = readme.indexOf("<!-- options:begin -->");
        const end = readme.indexOf("<!-- options:end -->");
        assert.ok(begin >= 0 && end > begin, "README has no options table markers");
        assert.strictEqual(readme.slice(begin + "<!-- options:begin -->".length, end).trim(), optionsTable());
    });
});

describe("argument docs (components/args.ts)", () => {
    const source = fs.readFileSync(path.join(ROOT, "components", "args.ts"), "utf8");
    for (const [name, spec] of Object.entries(OPTIONS) as [string, { path: string; default?: unknown }][]) {
        if (spec.default === undefined) continue;
        it(`${spec.path}: any default its doc comment states is the table's`, () => {
            const property = spec.path.split(".").pop()!;
            const doc = new RegExp(`/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\s*${property}\\?:`).exec(source)?.[1] ?? "";
            const stated = /default:? `?([^,;)`\s]+)/.exec(doc)?.[1]?.replace(/:$/, "");
            if (stated !== undefined) assert.strictEqual(stated, String(spec.default), `${name}: "${doc.trim()}"`);
        });
    }
});
