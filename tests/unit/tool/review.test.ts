import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    PreviewEvent, PreviewInput, PreviewReport, cliErrorLines, collectPreview, errorOf, outputChanges, podRows, policyOf, resourceChanges, withoutDebug,
} from "../../../tool/review/preview";
import { COMMENT_LIMIT, codeBlock, cutAtLineEnd, inline, markerOf, renderComment } from "../../../tool/review/render";

/** Recorded from real previews on the local platform by scripts/record-previews.ts (stack fixture-review, 3 replicas). */
const FIXTURES = path.join(__dirname, "../fixtures/previews");

function recorded(name: "step" | "same" | "bad", stack = "dev"): PreviewInput {
    const read = (file: string) => fs.readFileSync(path.join(FIXTURES, file), "utf8");
    const error = fs.existsSync(path.join(FIXTURES, `${name}.error.txt`)) ? read(`${name}.error.txt`) : undefined;
    return { stack, project: "sts-canary", events: JSON.parse(read(`${name}.events.json`)) as PreviewEvent[], diff: read(`${name}.diff.txt`), error };
}

const comment = (input: PreviewInput, secrets: string[] = []) => renderComment(collectPreview(input), { secrets });

/** A successful report of 3 pods, partition 3 -> 2, template v1 -> v2. */
function report(overrides: Partial<PreviewReport> = {}): PreviewReport {
    return {
        stack: "dev", project: "sts-canary", ok: true, step: "pods web-2: v1 -> v2; web-0..web-1 stay on v1", stepChanged: true,
        partition: { before: 3, after: 2 }, replicas: { before: 3, after: 3 }, version: { before: "v1", after: "v2" },
        pods: [{ name: "web-0", ordinal: 0, now: "v1", after: "v1" }, { name: "web-1", ordinal: 1, now: "v1", after: "v1" }, { name: "web-2", ordinal: 2, now: "v1", after: "v2" }],
        gates: "bake 2s, then judge; at most 0 restart(s) per canary pod",
        policy: { packs: [{ name: "sts-canary-guardrails", version: "0.1.0" }], violations: [], passed: 8 },
        resources: [{ op: "update", type: "kubernetes:apps/v1:StatefulSet", name: "web" }],
        outputs: [{ name: "partition", before: "3", after: "2" }],
        diff: "Previewing update (dev):\n  ~ kubernetes:apps/v1:StatefulSet: (update)\n",
        ...overrides,
    };
}

/** Everything of a comment above the folded parts: what must survive any cut. */
const summaryOf = (markdown: string) => markdown.split("\n\n<details>")[0].split("\n\n> ✂️")[0];

describe("review: a preview as a report (recorded previews)", () => {
    it("step: the step in words, the facts before and after, every pod, the gates, the policy pack", () => {
        const r = collectPreview(recorded("step"));
        assert.strictEqual(r.ok, true);
        assert.strictEqual(r.step, "pods web-2: v1 -> v2; web-0..web-1 stay on v1");
        assert.strictEqual(r.stepChanged, true);
        assert.deepStrictEqual([r.partition, r.replicas, r.version], [{ before: 0, after: 2 }, { before: 3, after: 3 }, { before: "v1", after: "v2" }]);
        assert.deepStrictEqual(r.pods.map((p) => [p.name, p.now, p.after]), [["web-0", "v1", "v1"], ["web-1", "v1", "v1"], ["web-2", "v1", "v2"]]);
        assert.match(r.gates ?? "", /^bake \d+s, then judge; at most 0 restart\(s\) per canary pod; every canary pod answers GET :80\/version\.html with 200 and a body matching \/This is V2\/$/);
        assert.deepStrictEqual(r.policy.packs.map((p) => p.name), ["sts-canary-guardrails"]);
        assert.deepStrictEqual(r.policy.violations, []);
        assert.ok(r.resources.some((c) => c.type === "kubernetes:apps/v1:StatefulSet" && c.name === "web-sts" && c.op === "update"), JSON.stringify(r.resources));
        assert.deepStrictEqual(r.outputs.filter((o) => o.name === "partition"), [{ name: "partition", before: "0", after: "2" }]);
        assert.match(r.diff, /StatefulSet/);
    });

    it("same: nothing changes", () => {
        const r = collectPreview(recorded("same", "prod"));
        assert.strictEqual(r.ok, true);
        assert.deepStrictEqual([r.resources, r.outputs, r.gates], [[], [], undefined]);
        assert.ok(r.pods.every((p) => p.now === p.after));
    });

    it("bad: the program's validation error, without stack frames or CLI noise", () => {
        const r = collectPreview(recorded("bad"));
        assert.strictEqual(r.ok, false);
        assert.match(r.error ?? "", /partition: 9 is out of range; allowed 0\.\.3/);
        assert.doesNotMatch(r.error ?? "", /^\s+at /m);
        assert.doesNotMatch(r.error ?? "", /code: \d+|stdout:|stderr:/);
    });

    it("bad, without its diagnostic: the CLI's error lines, once, without the Automation API's wrapper", () => {
        const input = recorded("bad");
        const r = collectPreview({ ...input, events: input.events.filter((e) => !e.diagnosticEvent) });
        assert.strictEqual(r.error, "invalid stack configuration (nothing was changed):\n  - partition: 9 is out of range; allowed 0..3");
    });

    it("no fixture holds a debug diagnostic", () => {
        for (const name of ["step", "same", "bad"] as const) {
            assert.ok(!recorded(name).events.some((e) => e.diagnosticEvent?.severity === "debug"), name);
        }
    });
});

describe("review: the comment of a recorded preview", () => {
    it("step: marker, the step as the headline, the pod table with the change in bold, gates, policy", () => {
        const md = comment(recorded("step"));
        const lines = md.split("\n");
        assert.strictEqual(lines[0], "<!-- sts-canary:preview sts-canary/dev -->");
        assert.ok(lines.includes("### `dev`: pods web-2: v1 -&gt; v2; web-0..web-1 stay on v1"), md);
        assert.match(md, /^\*\*Step\*\*: partition 0 → \*\*2\*\* · replicas 3 · template v1 → \*\*v2\*\*$/m);
        for (const row of ["| pod | now | after this step |", "| web-0 | v1 | v1 |", "| web-1 | v1 | v1 |", "| web-2 | v1 | **v2** |"]) assert.ok(lines.includes(row), row);
        assert.match(md, /^\*\*Gates\*\* .*: bake \d+s, then judge; .*matching \/This is V2\/$/m);
        assert.match(md, /^\*\*Policy\*\*: ✅ sts-canary-guardrails .*: (\d+ policies passed|no violations)$/m);
        assert.match(md, /^- update kubernetes:apps\/v1:StatefulSet web-sts$/m);
        assert.match(md, /<details><summary>Stack outputs that change \(\d+\)<\/summary>/);
        assert.match(md, /<details><summary>Full <code>pulumi preview --diff<\/code><\/summary>\n\n```\n/);
    });

    it("step: names and values declared secret appear nowhere (table, headline, outputs, diff)", () => {
        const md = comment(recorded("step"), ["fixture-review", "web-1"]);
        assert.ok(!md.includes("fixture-review") && !md.includes("web-1"), md);
        assert.ok(md.includes("| \\[secret\\] | v1 | v1 |"), md);
    });

    it("same: no change", () => {
        const md = comment(recorded("same", "prod"));
        assert.ok(md.split("\n").includes("### `prod`: no change"), md);
        assert.doesNotMatch(md, /\*\*v\d\*\*|\*\*Gates\*\*/);
        assert.match(md, /^\*\*Step\*\*: partition 0 · replicas 3 · template v1$/m);
    });

    it("bad: the failure, its error in a code block, what to do; no stack trace", () => {
        const md = comment(recorded("bad"));
        assert.ok(md.split("\n").includes("### ❌ `dev`: the preview failed, nothing would be deployed"), md);
        assert.match(md, /```\n(.*\n)*.*partition: 9 is out of range; allowed 0\.\.3\n(.*\n)*```/);
        assert.match(md, /^Fix it and push/m);
        assert.doesNotMatch(md, /^\s+at /m);
    });
});

describe("review: what the report reads from engine events", () => {
    const stackEvent = (old: Record<string, unknown>, news: Record<string, unknown>): PreviewEvent => ({
        sequence: 1, timestamp: 0,
        resourcePreEvent: { metadata: { op: "same", urn: "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev", type: "pulumi:pulumi:Stack", provider: "",
            old: { type: "pulumi:pulumi:Stack", urn: "", id: "", parent: "", provider: "", inputs: {}, outputs: old },
            new: { type: "pulumi:pulumi:Stack", urn: "", id: "", parent: "", provider: "", inputs: {}, outputs: news } } },
    });
    const pre = (op: string, urn: string): PreviewEvent => ({ sequence: 1, timestamp: 0, resourcePreEvent: { metadata: { op: op as never, urn, type: urn.split("::")[2].split("$").pop()!, provider: "" } } });
    const diagnostic = (severity: string, message: string): PreviewEvent => ({ sequence: 1, timestamp: 0, diagnosticEvent: { severity, message, color: "never" } });

    it("drops debug diagnostics, which can hold raw state", () => {
        const events = [diagnostic("debug", "RegisterResource inputs: {\"password\":\"hunter2-raw\"}"), diagnostic("info", "hello")];
        assert.deepStrictEqual(withoutDebug(events).map((e) => e.diagnosticEvent?.severity), ["info"]);
        const r = collectPreview({ stack: "dev", project: "p", events: [...events, diagnostic("error", "boom")], diff: "", error: "code: 255" });
        assert.doesNotMatch(JSON.stringify(r), /hunter2-raw/);
        assert.strictEqual(r.error, "boom");
    });

    it("pods from ordinalVersions before and after, named after the StatefulSet in the contract", () => {
        const r = collectPreview({
            stack: "dev", project: "p", diff: "",
            events: [stackEvent({ ordinalVersions: { 0: "v1", 1: "v1", 2: "v1" }, stsCanary: { statefulSetName: "db" } },
                { ordinalVersions: { 0: "v1", 1: "v2" }, stsCanary: { statefulSetName: "db" } })],
        });
        assert.deepStrictEqual(r.pods, [
            { name: "db-0", ordinal: 0, now: "v1", after: "v1" }, { name: "db-1", ordinal: 1, now: "v1", after: "v2" }, { name: "db-2", ordinal: 2, now: "v1", after: undefined },
        ]);
    });

    it("facts from the contract when the program exports no partition / replicas / imageTag of its own", () => {
        const r = collectPreview({ stack: "dev", project: "p", diff: "", events: [stackEvent(
            { stsCanary: { partition: 5, replicas: 5, templateVersion: "v1" } }, { stsCanary: { partition: 4, replicas: 5, templateVersion: "v2" } })] });
        assert.deepStrictEqual([r.partition, r.replicas, r.version], [{ before: 5, after: 4 }, { before: 5, after: 5 }, { before: "v1", after: "v2" }]);
    });

    const cases: { name: string; run: () => unknown; expected: unknown }[] = [
        {
            name: "pod rows: a new pod has no version now, a removed one none after",
            run: () => podRows("web", { 0: "v1", 2: "v1" }, { 0: "v1", 1: "v2" }),
            expected: [{ name: "web-0", ordinal: 0, now: "v1", after: "v1" }, { name: "web-1", ordinal: 1, now: undefined, after: "v2" }, { name: "web-2", ordinal: 2, now: "v1", after: undefined }],
        },
        {
            name: "resource changes: same and reads left out, a replacement's steps as one replace",
            run: () => resourceChanges([
                pre("same", "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"),
                pre("create-replacement", "urn:pulumi:dev::p::sts-canary:index:StatefulSetCanary$kubernetes:core/v1:Service::web"),
                pre("replace", "urn:pulumi:dev::p::sts-canary:index:StatefulSetCanary$kubernetes:core/v1:Service::web"),
                pre("delete-replaced", "urn:pulumi:dev::p::sts-canary:index:StatefulSetCanary$kubernetes:core/v1:Service::web"),
                pre("read", "urn:pulumi:dev::p::kubernetes:core/v1:Namespace::ns"),
                pre("update", "urn:pulumi:dev::p::kubernetes:apps/v1:StatefulSet::web"),
            ]),
            expected: [{ op: "replace", type: "kubernetes:core/v1:Service", name: "web" }, { op: "update", type: "kubernetes:apps/v1:StatefulSet", name: "web" }],
        },
        {
            name: "output changes: secrets and unknowns masked, new and gone outputs",
            run: () => outputChanges(
                { partition: 0, password: "[secret]", gone: "x", same: { a: 1 } },
                { partition: 2, password: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "p" }, added: "04da6b54-80e4-46f7-96ec-b56ff0331ba9", same: { a: 1 } }),
            expected: [
                { name: "added", before: undefined, after: "(known after up)" }, { name: "gone", before: "x", after: undefined },
                { name: "partition", before: "0", after: "2" }, { name: "password", before: "[secret]", after: "[secret]" },
            ],
        },
        {
            name: "policy: packs from the summary, passed policies from the analyze summaries, violations with their resource",
            run: () => policyOf([
                { sequence: 1, timestamp: 0, policyAnalyzeSummaryEvent: { policyPackName: "guard", policyPackVersion: "0.1.0", passed: ["a", "b", "c"] } },
                { sequence: 2, timestamp: 0, policyAnalyzeSummaryEvent: { policyPackName: "guard", policyPackVersion: "0.1.0", passed: ["a", "b"], failed: ["c"] } },
                { sequence: 3, timestamp: 0, policyEvent: { resourceUrn: "urn:pulumi:dev::p::x$kubernetes:apps/v1:StatefulSet::web", message: "too high", color: "never",
                    policyName: "c", policyPackName: "guard", policyPackVersion: "0.1.0", policyPackVersionTag: "0.1.0", enforcementLevel: "mandatory" } },
                { sequence: 4, timestamp: 0, summaryEvent: { PolicyPacks: { guard: "0.1.0" } } },
            ]),
            expected: {
                packs: [{ name: "guard", version: "0.1.0" }], passed: 2,
                violations: [{ pack: "guard", policy: "c", level: "mandatory", message: "too high", resource: "kubernetes:apps/v1:StatefulSet web" }],
            },
        },
        {
            name: "policy: no analyze summary, no count",
            run: () => policyOf([{ sequence: 1, timestamp: 0, summaryEvent: { PolicyPacks: { guard: "v0.1.0" } } }]).passed,
            expected: undefined,
        },
        {
            name: "error: the program's diagnostics, not the CLI's closing line nor stack frames",
            run: () => errorOf([
                diagnostic("error", "error: invalid stack configuration (nothing was changed):\n  - partition: 9 is out of range; allowed 0..3\n    at load (/work/main/dist/index.js:19:19)\n    at Object.<anonymous> (/work/main/dist/index.js:26:28)\n"),
                diagnostic("error", "preview failed"),
            ], "code: 255\n stdout: \n stderr: error: preview failed\n"),
            expected: "invalid stack configuration (nothing was changed):\n  - partition: 9 is out of range; allowed 0..3",
        },
        {
            name: "error: without a diagnostic, the CLI's error lines",
            run: () => errorOf([], "code: 255\n stdout: Previewing update (dev):\n\n stderr: error: could not load plugin: no such file\n  while loading\n err?: Error: exit 255\n    at x (/a.js:1:2)\n"),
            expected: "could not load plugin: no such file\n  while loading",
        },
        { name: "CLI error lines: colors removed", run: () => cliErrorLines("\x1b[31merror: \x1b[0mstack 'x' not found\n"), expected: "stack 'x' not found" },
    ];
    for (const c of cases) it(c.name, () => assert.deepStrictEqual(c.run(), c.expected));
});

describe("review: rendering safely", () => {
    it("marks the comment with project and stack", () => {
        assert.strictEqual(markerOf("sts-canary", "dev"), "<!-- sts-canary:preview sts-canary/dev -->");
        assert.strictEqual(markerOf("p", "org/x-->y"), "<!-- sts-canary:preview p/org/x--_y -->");
    });

    const escapes: [string, string][] = [
        ["pods web-4: v1 -> v2", "pods web-4: v1 -&gt; v2"],
        ["<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"],
        ["a | b", "a \\| b"],
        ["[click](https://evil) *bold* `code` & more", "\\[click\\](https://evil) \\*bold\\* \\`code\\` &amp; more"],
        ["two\nlines", "two lines"],
    ];
    for (const [text, expected] of escapes) it(`escapes ${JSON.stringify(text)}`, () => assert.strictEqual(inline(text), expected));

    it("fences code with more backticks than any run inside", () => {
        assert.strictEqual(codeBlock("plain", ""), "```\nplain\n```");
        assert.strictEqual(codeBlock("a ``` b\n````", "diff"), "`````diff\na ``` b\n````\n`````");
    });

    it("a diff holding ``` runs stays inside its block", () => {
        const diff = "line 1\n```\n</details>\n<script>alert(1)</script>\n````\nend";
        const md = renderComment(report({ diff }), { secrets: [] });
        assert.ok(md.includes("`````\nline 1\n```\n</details>\n<script>alert(1)</script>\n````\nend\n`````\n\n</details>"), md);
    });

    it("keeps stack text out of HTML and table structure", () => {
        const md = renderComment(report({
            step: "pods <b>web-2</b>: v1 -> v2", pods: [{ name: "web-0", ordinal: 0, now: "v1|x", after: "<i>v2</i>" }],
            policy: { packs: [{ name: "p", version: "1" }], passed: 0, violations: [{ pack: "p", policy: "q", level: "mandatory", message: "bad | <a href=x>", resource: "t n" }] },
        }), { secrets: [] });
        const prose = md.split("<details>")[0];
        assert.doesNotMatch(prose.split("\n").slice(1).join("\n"), /<(?!!--)/);
        assert.ok(md.includes("| web-0 | v1\\|x | **&lt;i&gt;v2&lt;/i&gt;** |"), md);
        assert.ok(md.includes("| mandatory | p | q | t n | bad \\| &lt;a href=x&gt; |"), md);
    });

    it("never shows a known secret: step, table, gates, policy, outputs, diff, error (one with a `|`)", () => {
        const secrets = ["hunter2-pass", "pa|ss\"word"];
        const r = report({
            step: "pods web-2: v1 -> hunter2-pass", gates: "GET :80/?token=pa|ss\"word",
            pods: [{ name: "web-0", ordinal: 0, now: "pa|ss\"word", after: "hunter2-pass" }],
            outputs: [{ name: "url", before: JSON.stringify({ password: "pa|ss\"word" }), after: "https://u:hunter2-pass@h" }],
            resources: [{ op: "update", type: "t", name: "hunter2-pass" }],
            policy: { packs: [{ name: "p", version: "1" }], passed: 0, violations: [{ pack: "p", policy: "q", level: "advisory", message: "saw pa|ss\"word", resource: undefined }] },
            diff: "  ~ password: \"hunter2-pass\"\n  + note: pa|ss\"word\n",
        });
        const md = renderComment(r, { secrets });
        for (const secret of [...secrets, "pa\\|ss", "hunter2"]) assert.ok(!md.includes(secret), `${secret} in:\n${md}`);
        assert.match(md, /\[secret\]/);
        const failed = renderComment(report({ ok: false, error: "bad password pa|ss\"word for hunter2-pass" }), { secrets });
        for (const secret of secrets) assert.ok(!failed.includes(secret), failed);
    });

    const headlines: [string, Partial<PreviewReport>, string][] = [
        ["a new step", {}, "### `dev`: pods web-2: v1 -&gt; v2; web-0..web-1 stay on v1"],
        ["a change that moves no pod", { stepChanged: false, pods: [{ name: "web-0", ordinal: 0, now: "v1", after: "v1" }] }, "### `dev`: no pod moves; 1 resource(s) change"],
        ["only outputs change", { stepChanged: false, pods: [], resources: [] }, "### `dev`: no pod moves; stack outputs change"],
        ["nothing changes", { resources: [], outputs: [] }, "### `dev`: no change"],
        ["a failure", { ok: false, error: "boom" }, "### ❌ `dev`: the preview failed, nothing would be deployed"],
    ];
    for (const [name, overrides, headline] of headlines) {
        it(`headline: ${name}`, () => assert.strictEqual(renderComment(report(overrides), { secrets: [] }).split("\n")[2], headline));
    }

    it("groups a long pod table into ranges", () => {
        const pods = Array.from({ length: 12 }, (_, i) => ({ name: `web-${i}`, ordinal: i, now: "v1", after: i >= 10 ? "v2" : "v1" }));
        const md = renderComment(report({ pods }), { secrets: [] });
        assert.ok(md.includes("| web-0..web-9 | v1 | v1 |\n| web-10..web-11 | v1 | **v2** |"), md);
    });
});

describe("review: the comment's length", () => {
    const longDiff = Array.from({ length: 5000 }, (_, i) => `    ~ line ${i}: ${"x".repeat(40)}`).join("\n");

    it("a 5000-line diff: cut at a line end under the limit, a note, the summary whole", () => {
        const r = report({ diff: longDiff });
        const md = renderComment(r, { secrets: [] });
        assert.ok(md.length < COMMENT_LIMIT, String(md.length));
        assert.match(md, /^> ✂️ The diff was cut to fit a GitHub comment \(\d+ of 5000 diff lines shown\); see it all with `pulumi preview --diff --stack dev`\.$/m);
        assert.strictEqual(summaryOf(md), summaryOf(renderComment(report(), { secrets: [] })));
        assert.match(md, /~ line \d+: x{40}\n`{3,}\n\n<\/details>\n$/);
        assert.match(md, /<details><summary>Stack outputs that change/);
    });

    it("under a small budget: the outputs go too, the summary stays", () => {
        const outputs = [{ name: "images", before: "x".repeat(1200), after: "y".repeat(1200) }];
        const full = renderComment(report({ outputs }), { secrets: [] });
        const md = renderComment(report({ outputs, diff: longDiff }), { secrets: [], limit: 2500 });
        assert.ok(md.length < 2500, String(md.length));
        assert.match(md, /The stack outputs and the diff were cut/);
        assert.strictEqual(summaryOf(md), summaryOf(full));
    });

    it("a summary longer than the limit by itself is cut at a line end, with the note", () => {
        const md = renderComment(report({ diff: longDiff }), { secrets: [], limit: 300 });
        assert.ok(md.length < 300, String(md.length));
        assert.match(md, /This comment was cut to fit a GitHub comment; see it all with `pulumi preview --diff --stack dev`\.\n$/);
    });

    it("cuts lines whole", () => {
        assert.deepStrictEqual(cutAtLineEnd(["abc", "de", "f"], 6), ["abc", "de"]);
        assert.deepStrictEqual(cutAtLineEnd(["abc", "de", "f"], 5), ["abc"]);
        assert.deepStrictEqual(cutAtLineEnd(["abc"], 2), []);
    });
});
