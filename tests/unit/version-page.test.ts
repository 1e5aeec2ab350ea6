import * as assert from "assert";
import { digestOf, pinnedReference } from "../../components/images/reference";
import { buildContextFiles, contextHash, repositoryRef, versionLabel, versionPage } from "../../components/images/version-page";

describe("app content", () => {
    const labels: [string, string][] = [["v1", "V1"], ["v2", "V2"], ["v10.1", "V10.1"], ["rc1", "Rc1"]];
    for (const [version, label] of labels) {
        it(`labels ${version} as ${label}`, () => assert.strictEqual(versionLabel(version), label));
    }

    it("serves the seed's page at / and /version.html", () => {
        const files = buildContextFiles("v2");
        assert.strictEqual(files["index.html"], "<h1>This is V2</h1>\n");
        assert.strictEqual(files["version.html"], versionPage("v2"));
        assert.match(files["Dockerfile"], /^ARG BASE_IMAGE=nginx:latest\nFROM \$\{BASE_IMAGE\}\n/);
        assert.match(files["Dockerfile"], /COPY index.html version.html \/usr\/share\/nginx\/html\//);
    });

    it("hashes a context deterministically and per version", () => {
        assert.strictEqual(contextHash(buildContextFiles("v1")), contextHash(buildContextFiles("v1")));
        assert.notStrictEqual(contextHash(buildContextFiles("v1")), contextHash(buildContextFiles("v2")));
        assert.notStrictEqual(contextHash({ a: "bc" }), contextHash({ ab: "c" }));
    });

    const digest = "sha256:" + "ab".repeat(32);
    const digests: [string, string | undefined][] = [
        [`127.0.0.1:5443/library/version-test@${digest}`, digest],
        [digest, digest],
        ["127.0.0.1:5443/library/version-test:v1", undefined],
        ["<none>@<none>", undefined],
    ];
    for (const [ref, expected] of digests) {
        it(`digestOf(${ref.slice(0, 40)}...) = ${expected ? "digest" : "undefined"}`, () => assert.strictEqual(digestOf(ref), expected));
    }

    it("pins images as repo:tag@digest", () => {
        const repo = repositoryRef("127.0.0.1:5443", "library", "version-test");
        assert.strictEqual(pinnedReference(repo, "v1", digest), `127.0.0.1:5443/library/version-test:v1@${digest}`);
    });
});
