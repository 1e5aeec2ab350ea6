/**
 * Metric analysis on the local platform's real parts: Prometheus (platform/prometheus.sh) scraping
 * the pods' own per-request metrics (the nginx base image's :9113/metrics), real requests sent by
 * the check's load through the API server's pod proxy. A good v2 passes; a v2 that answers 5xx to
 * about 10% of requests fails on success rate within the bake and a plain revert recovers; a v2
 * 100 ms slower passes a fixed 1 s latency condition but fails the baseline-vs-canary judge;
 * Prometheus stopped during the analysis fails `up` with Error naming Prometheus, never a pass.
 */
import * as assert from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { getPods, getStatefulSet, tagOf } from "./kubectl";
import { preview, setConfig, timedUp, failingUp as failingUpOf } from "./stack";
import { REPO_ROOT, deleteNamespaces, loadPlatformEnv, localStack, pushTestImage, run } from "./platform";

const STACK = "e2e-analysis";
const NAMESPACE = "e2e-analysis";
const APP = "web";
const log = (line: string) => console.log(`      ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** nginx from the base image (metrics included) whose "/" is changed by a Lua snippet; /version.html stays plain for readiness. */
function variant(version: string, lua: string): [string, Record<string, string>] {
    const conf = [
        "server {",
        "    listen 80 default_server;",
        "    root /usr/share/nginx/html;",
        "    location = /version.html { }",
        `    location / { access_by_lua_block { ${lua} } try_files $uri $uri/ =404; }`,
        "}",
        "",
    ].join("\n");
    const page = `<h1>This is ${version}</h1>\n`;
    return ["FROM BASE\nCOPY default.conf /etc/nginx/conf.d/default.conf\nCOPY index.html version.html /usr/share/nginx/html/\n",
        { "default.conf": conf, "index.html": page, "version.html": page }];
}

describe("metric analysis against the real Prometheus", function () {
    let stack: Stack;
    const env = loadPlatformEnv();
    const refs: Record<string, string> = {};
    const analysis = (over: Record<string, unknown> = {}) => JSON.stringify({
        prometheus: env.STS_CANARY_PROMETHEUS_URL, initialDelaySeconds: 8, intervalSeconds: 4, windowSeconds: 8,
        metrics: [{ name: "success-rate", template: "success-rate", successCondition: "result >= 0.97", inconclusiveLimit: 1 }],
        load: { port: 80, path: "/index.html", requestsPerSecond: 10 },
        ...over,
    });

    const failingUp = (settings: Record<string, string | string[]>, what: string) => failingUpOf(stack, settings, what, log);

    async function up(settings: Record<string, string | string[]>, what: string): Promise<string> {
        await setConfig(stack, settings);
        const { result, seconds } = await timedUp(stack);
        log(`${what}: pulumi up ${result.summary.result} in ${seconds.toFixed(1)}s`);
        return String((await stack.outputs()).rolloutSummary?.value ?? "");
    }

    before(async function () {
        [refs.errors, refs.slow] = await Promise.all([
            // Every 10th request of the pod (a counter in the base image's shared dict): exactly 10%.
            pushTestImage("a-errors", ...variant("a-errors", "if ngx.shared.sts_metrics:incr('faulty', 1, 0) % 10 == 0 then return ngx.exit(500) end")),
            pushTestImage("a-slow", ...variant("a-slow", "ngx.sleep(0.1)")),
        ]);
        stack = await localStack(STACK, {
            namespace: NAMESPACE, appName: APP, nodePort: "30103", replicas: "4", versions: ["v1", "v2"],
            pinnedImages: [`a-errors=${refs.errors}`, `a-slow=${refs.slow}`],
            imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "180", readyTimeoutSeconds: "60", checkVersionPage: "false",
        });
        await stack.destroy({ color: "never" });
        await deleteNamespaces(NAMESPACE);
        await up({}, "v1 on every pod, no analysis");
    });

    after(async function () {
        await run(`${REPO_ROOT}/platform/prometheus.sh`, ["up"]).catch(() => undefined);
        if (stack) await stack.destroy({ color: "never" }).catch(() => undefined);
        await deleteNamespaces(NAMESPACE);
    });

    it("bad analysis input fails the preview naming the key, before anything changes; the preview names the analysis", async function () {
        const generation = (await getStatefulSet(NAMESPACE, APP))?.generation;
        await setConfig(stack, { imageTag: "v2", partition: "2", bakeSeconds: "16", analysis: analysis({ metrics: [{ name: "s", query: 'sum(rate(http_requests_total{pod=~"{{canaryPod}}"}[1m])', successCondition: "result > 0" }] }) });
        const bad = await preview(stack).then(() => undefined, (err: Error) => String(err.message));
        assert.ok(bad, "the preview passed");
        log(bad.split("\n").filter((l) => /analysis:/.test(l)).slice(0, 2).join(" | ").slice(0, 300));
        assert.match(bad, /analysis: metrics\[0\]\.query: unknown placeholder\(s\) \{\{canaryPod\}\}/);
        assert.equal((await getStatefulSet(NAMESPACE, APP))?.generation, generation);
        await setConfig(stack, { analysis: analysis() });
        let shown = "";
        await preview(stack, (line) => { shown += line; });
        assert.match(shown, /then analysis: success-rate every 4s x2 after 8s on http:\/\/127\.0\.0\.1:\d+; load: 10\/s per pod/);
    });

    it("a good v2 passes the analysis; every measurement is in the summary", async function () {
        const summary = await up({ imageTag: "v2", partition: "2", bakeSeconds: "16", analysis: analysis() }, "v2 on web-2..web-3 with analysis");
        log(summary.split("\n").slice(0, 4).join(" | "));
        assert.match(summary, /analysis:\n {2}success-rate: Successful \(2 measurement\(s\)/);
        assert.match(summary, /success-rate #1 (Successful|Inconclusive): pod="web-[23]" = 1/);
        assert.match(summary, /load: \d+ request\(s\) to 4 pod\(s\) \(\d+ x 200\)/);
    });

    it("a v2 answering 5xx to ~10% fails on success rate within the bake, naming pods and values; a plain revert recovers", async function () {
        await up({ imageTag: "v1", partition: "0", analysis: "" }, "back to v1");
        const { message, seconds } = await failingUp({ imageTag: "a-errors", partition: "2", bakeSeconds: "30", analysis: analysis() }, "a-errors with analysis");
        log(message.split("\n").filter((l) => /gate analysis|Failed:/.test(l)).slice(0, 3).join(" | ").slice(0, 400));
        assert.match(message, /gate analysis failed: success-rate: Failed/);
        assert.match(message, /pod="web-[23]" = 0\.[0-9]+ \(Failed\)/);
        assert.match(message, /success: result >= 0\.97/);
        // Bake 30 s, interval 3 s: decided long before the bake ends (pods' start included).
        assert.ok(seconds < 60, `failed after ${seconds}s`);
        const summary = await up({ imageTag: "v1", partition: "0", analysis: "", bakeSeconds: "0" }, "plain revert to v1");
        assert.match(summary, /web-0\.\.web-3 on v1/);
        assert.deepStrictEqual((await getPods(NAMESPACE, APP)).map((p) => tagOf(p.image)), ["v1", "v1", "v1", "v1"]);
    });

    it("a v2 100 ms slower passes a fixed 1 s latency condition but fails the baseline judge", async function () {
        const judged = analysis({
            intervalSeconds: 2, windowSeconds: 6,
            metrics: [{ name: "p95", template: "latency-p95", successCondition: "result <= 1", inconclusiveLimit: 3 }],
            judge: { metrics: [{ name: "latency", template: "latency-mean", critical: true }], minSamples: 10 },
        });
        const { message } = await failingUp({ imageTag: "a-slow", partition: "2", bakeSeconds: "24", analysis: judged }, "a-slow with a 1 s threshold and the judge");
        log(message.split("\n").filter((l) => /judge|latency:/.test(l)).slice(0, 3).join(" | ").slice(0, 400));
        assert.doesNotMatch(message, /gate analysis failed/, "the fixed threshold passes");
        assert.match(message, /gate judge failed: score 0, fail: critical metric latency \(High\) failed/);
        assert.match(message, /latency: High — canary median 0\.\d+ vs baseline/);
        await up({ imageTag: "v1", partition: "0", analysis: "", bakeSeconds: "0" }, "plain revert to v1");
    });

    it("Prometheus stopped during the analysis: up fails with Error naming Prometheus, not a pass", async function () {
        await setConfig(stack, { imageTag: "v2", partition: "2", bakeSeconds: "30", analysis: analysis({ metrics: [{ name: "success-rate", template: "success-rate", inconclusiveLimit: 3 }] }) });
        const started = Date.now();
        const result = stack.up({ color: "never" }).then(() => undefined, (err: Error) => err);
        // Stop it once the step is under way (the pods move first, then the bake starts).
        await sleep(8000);
        await run(`${REPO_ROOT}/platform/prometheus.sh`, ["stop"]);
        const error = await result;
        log(`up with Prometheus stopped after 8 s: ${error ? "failed" : "passed"} after ${((Date.now() - started) / 1000).toFixed(1)}s`);
        await run(`${REPO_ROOT}/platform/prometheus.sh`, ["up"]);
        assert.ok(error, "pulumi up passed with Prometheus down");
        log(String(error.message).split("\n").filter((l) => /Error/.test(l)).slice(0, 2).join(" | ").slice(0, 300));
        assert.match(String(error.message), /success-rate: Error/);
        assert.match(String(error.message), /Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer/);
    });
});
