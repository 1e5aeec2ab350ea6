import * as assert from "assert";
import { MUTABLE_TAGS } from "../../components/tags";
import { DEFAULT_PROD_STACK_PATTERN, noMutableTagsInProd } from "../../policy/rules";
import { ConfigError, seedArgs } from "../../program/config";
import { projectDefaults } from "./mocks";

const validate = (raw: Record<string, string>) => seedArgs({ ...projectDefaults(), registryServer: "127.0.0.1:5443", ...raw }, { registryPassword: "pw" });

const DIGEST = "sha256:" + "e".repeat(64);

// One list of mutable tags (components/tags.ts): the program refuses to deploy them anywhere, the
// policy pack refuses them in prod stacks. A tag one of them forgets is what this catches.
describe("mutable tags (one list for the program and the policy pack)", () => {
    for (const tag of MUTABLE_TAGS) {
        it(`"${tag}" is refused by the program's validation and by the prod policy`, () => {
            assert.throws(() => validate({ versions: JSON.stringify(["v1", "v2", tag]) }),
                (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith(`versions: "${tag}" is a mutable tag`)));
            assert.throws(() => validate({ imageTag: tag }),
                (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith(`imageTag: "${tag}" is a mutable tag and is never allowed`)));
            const violations = noMutableTagsInProd({ spec: { template: { spec: { containers: [{ name: "app", image: `h.example.com/r:${tag}@${DIGEST}` }] } } } },
                { stack: "prod", prodStackPattern: DEFAULT_PROD_STACK_PATTERN });
            assert.strictEqual(violations.length, 1, `the policy let ${tag} through`);
        });
    }

    it("holds the tags that move in practice, and no version tag", () => {
        for (const tag of ["latest", "stable", "main", "master", "dev", "edge", "nightly"]) assert.ok(MUTABLE_TAGS.has(tag), tag);
        for (const tag of ["v1", "1.2.3", "stable-1.2", "main-4f2c9a1"]) assert.ok(!MUTABLE_TAGS.has(tag), tag);
    });
});
