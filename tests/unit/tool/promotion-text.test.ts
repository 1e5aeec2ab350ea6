/** The promotion pull request's title and body (tool/environments.ts promotionText). */
import * as assert from "assert";
import { PromotionChange, promotionText } from "../../../tool/environments";

const REF = "127.0.0.1:5443/library/version-test:v2@sha256:2f0d0b84475b0aac0088d0a76e7d6c4d9f36601aed65fa91d1ffa9b2bd151d59";

function change(over: Partial<PromotionChange> = {}): PromotionChange {
    return {
        from: "dev", to: "prod", version: "v2", ref: REF, start: 4,
        keys: [
            { key: "sts-canary:pinnedImages", before: undefined, after: `["v2=${REF}"]` },
            { key: "sts-canary:imageTag", before: "v1", after: "v2" },
            { key: "sts-canary:partition", before: "0", after: "4" },
        ],
        sourceSummary: "web-0..web-4 on v2, all Ready; stable v2; gates: restarts ok, http ok",
        ...over,
    };
}

describe("promotion pull request text", () => {
    it("names version, stacks, the digest and the start partition in the title", () => {
        assert.strictEqual(promotionText(change()).title, "Promote v2 from dev to prod (pinned sha256:2f0d0b84475b, partition 4)");
    });

    it("lists the image, every key's change (unset shown as such) and the source's evidence", () => {
        const { body } = promotionText(change());
        assert.ok(body.includes(`**Image**: \`${REF}\``));
        assert.match(body, /\| `sts-canary:pinnedImages` \| \(unset\) \| `\["v2=.*"\]` \|/);
        assert.match(body, /\| `sts-canary:imageTag` \| `v1` \| `v2` \|/);
        assert.match(body, /\| `sts-canary:partition` \| `0` \| `4` \|/);
        assert.match(body, /```\nweb-0\.\.web-4 on v2, all Ready; stable v2; gates: restarts ok, http ok\n```/);
        assert.match(body, /sts-canary deploy prod/);
    });

    it("keeps backticks in values and fences in the evidence from breaking the Markdown", () => {
        const { body } = promotionText(change({
            keys: [{ key: "sts-canary:imageTag", before: "a`b", after: "v2" }],
            sourceSummary: "evil ``` fence\n<script>",
        }));
        assert.match(body, /`` a`b ``/);
        assert.strictEqual(body.split("```").length - 1, 2, "only the evidence block's own fences");
    });

    it("says when the source exported no summary", () => {
        assert.match(promotionText(change({ sourceSummary: "" })).body, /\(no rolloutSummary output\)/);
    });
});
