import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { stackRuleContext } from "../../policy/context";
import { PROJECT, installMocks } from "./mocks";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { _setProject(project: string): string };

/** Runs `fn` as the policy pack does for a stack of `project` with this config. */
function asStackOf<T>(project: string, config: Record<string, string>, fn: () => T): T {
    settings._setProject(project);
    pulumi.runtime.setAllConfig(config);
    try {
        return fn();
    } finally {
        settings._setProject(PROJECT);
        pulumi.runtime.setAllConfig({});
    }
}

describe("policy pack context (the stack being checked)", () => {
    before(async () => { await installMocks(); });

    it("reads registryServer from the stack's own project (the YAML example's sts-canary-yaml)", () => {
        const ctx = asStackOf("sts-canary-yaml", { "sts-canary-yaml:registryServer": "yaml.example.com:5443" }, () => stackRuleContext({}));
        assert.strictEqual(ctx.registry, "yaml.example.com:5443");
    });

    it("reads registryServer of the root program's project", () => {
        const ctx = asStackOf("sts-canary", { "sts-canary:registryServer": "harbor.example.com" }, () => stackRuleContext({}));
        assert.strictEqual(ctx.registry, "harbor.example.com");
    });

    it("never takes another project's key, and the pack's own registry setting wins", () => {
        const config = { "sts-canary:registryServer": "other.example.com" };
        assert.strictEqual(asStackOf("shop", config, () => stackRuleContext({})).registry, undefined);
        assert.strictEqual(asStackOf("shop", config, () => stackRuleContext({ registry: "pack.example.com" })).registry, "pack.example.com");
    });

    it("takes the pushing accounts from the pack's config, else the stack's registryUsername", () => {
        const config = { "sts-canary:registryUsername": "ci-pusher" };
        assert.deepStrictEqual(asStackOf("sts-canary", config, () => stackRuleContext({})).pushAccounts, ["ci-pusher"]);
        assert.deepStrictEqual(asStackOf("sts-canary", config, () => stackRuleContext({ pushAccounts: ["a", "b"] })).pushAccounts, ["a", "b"]);
        assert.deepStrictEqual(asStackOf("shop", {}, () => stackRuleContext({})).pushAccounts, []);
    });

    it("compiles the prod stack pattern from the pack's config", () => {
        const ctx = asStackOf("shop", {}, () => stackRuleContext({ prodStackPattern: "^live$" }));
        assert.ok(ctx.prodStackPattern.test("live") && !ctx.prodStackPattern.test("prod"));
    });
});
