/**
 * `npm run bench:analysis`: what the metric analysis costs, on the local platform's real
 * Prometheus and real pods (two nginx pods of the base image, one as canary, one as baseline,
 * under load). Prints, measured side by side in one run:
 *   1. the cost of one measurement's query: the success-rate and latency-p95 templates vs
 *      Prometheus' own /-/ready (the floor of an HTTP round trip to it), alternating, 20 each;
 *   2. the time an analysis adds beyond its configured span (count x interval): goal at most
 *      one interval + 2 s. The load goes straight to the pod IPs here (the check sends it through
 *      the API server's pod proxy); it is not what is timed.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AnalysisRun } from "../components/analysis/run";
import { analysisSettings } from "../components/analysis/settings";
import { query } from "../components/analysis/prometheus";
import { renderQuery } from "../components/analysis/spec";
import { TEMPLATES } from "../components/analysis/templates";
import { httpGet } from "../components/rollout/http";
import { realClock } from "../components/rollout/runner";
import { kubectl, kubectlJson } from "../tests/e2e/kubectl";
import { loadPlatformEnv } from "../tests/e2e/platform";
import { round, stat, table } from "./measure";

const NS = "bench-analysis";
const say = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const get = (url: string) => httpGet(url, 10_000);

async function pods(image: string): Promise<Record<string, string>> {
    const manifest = (name: string, revision: string) => ({
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace: NS, labels: { "controller-revision-hash": revision } },
        spec: { containers: [{ name: "nginx", image, imagePullPolicy: "Never", ports: [{ name: "web", containerPort: 80 }, { name: "metrics", containerPort: 9113 }] }] },
    });
    await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--timeout=90s"], 100_000); // a previous run's
    await kubectl(["create", "namespace", NS]);
    const list = { apiVersion: "v1", kind: "List", items: [manifest("canary-0", "rev-b"), manifest("baseline-0", "rev-a")] };
    const file = path.join(os.tmpdir(), `bench-analysis-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify(list));
    try { await kubectl(["apply", "-f", file]); } finally { fs.rmSync(file, { force: true }); }
    await kubectl(["wait", "-n", NS, "--for=condition=Ready", "pod/canary-0", "pod/baseline-0", "--timeout=120s"], 130_000);
    const listed = await kubectlJson<{ items: { metadata: { name: string }; status: { podIP: string } }[] }>(["get", "pods", "-n", NS, "-o", "json"]);
    return Object.fromEntries(listed.items.map((p) => [p.metadata.name, p.status.podIP]));
}

async function main(): Promise<void> {
    const env = loadPlatformEnv();
    const prometheus = env.STS_CANARY_PROMETHEUS_URL;
    const ips = await pods(env.STS_CANARY_BASE_IMAGE);
    const facts = { namespace: NS, statefulset: "bench", canaryPods: ["canary-0"], baselinePods: ["baseline-0"], canaryRevision: "rev-b", baselineRevision: "rev-a" };
    const labels = { namespace: "namespace", pod: "pod", revision: "controller_revision_hash" };
    const shape = { labels, windowSeconds: 10, intervalSeconds: 2 };
    try {
        // Traffic so that the queries have data, and a few scrapes of it.
        const successRate = renderQuery(TEMPLATES["success-rate"].query, shape, facts);
        for (let second = 0; second < 40; second++) {
            await Promise.all(Object.values(ips).map((ip) => get(`http://${ip}/`)));
            const answer = await query(get, prometheus, successRate, labels);
            if (answer.ok && answer.samples.length > 0) break;
            await new Promise((r) => setTimeout(r, 1000));
        }
        const timings: Record<string, number[]> = { ready: [], "success-rate": [], "latency-p95": [] };
        for (let i = 0; i < 20; i++) {
            for (const name of Object.keys(timings)) {
                const started = process.hrtime.bigint();
                if (name === "ready") await get(`${prometheus}/-/ready`);
                else {
                    const answer = await query(get, prometheus, renderQuery(TEMPLATES[name as "success-rate"].query, shape, facts), labels);
                    if (!answer.ok || answer.samples.length === 0) throw new Error(`${name}: ${JSON.stringify(answer)}`);
                }
                timings[name].push(Number(process.hrtime.bigint() - started) / 1e6);
            }
        }
        const floor = stat(timings.ready.map((t) => round(t, 1))).median;
        const rows = Object.entries(timings).map(([name, ms]) => {
            const s = stat(ms.map((t) => round(t, 1)));
            return [name === "ready" ? "GET /-/ready (floor)" : `query ${name}`, `${s.median} ms (${s.min}-${s.max})`, `${round(s.median / floor, 1)}x`];
        });
        console.log("\nOne measurement's query, 20 each, alternating\n");
        console.log(table(["request", "median (min-max)", "vs /-/ready"], rows));

        const added: number[] = [];
        const settings = analysisSettings({
            prometheus, intervalSeconds: 2, count: 5, windowSeconds: 10,
            metrics: [{ name: "success", template: "success-rate" }, { name: "p95", template: "latency-p95" }],
            judge: { metrics: [{ name: "latency", template: "latency-mean" }], minSamples: 3 },
        }, 10);
        for (let run = 0; run < 3; run++) {
            let loading = true;
            const load = (async () => { while (loading) await Promise.all(Object.values(ips).map((ip) => get(`http://${ip}/`).catch(() => undefined))); })();
            const started = Date.now();
            const outcome = await new AnalysisRun(settings, facts, {
                query: (promql) => query(get, prometheus, promql, labels), request: async () => 200, clock: realClock, log: () => undefined,
            }).outcome();
            const elapsed = (Date.now() - started) / 1000;
            loading = false;
            await load;
            added.push(round(elapsed - settings.count * settings.intervalSeconds, 2));
            say(`run ${run + 1}: ${outcome.phase}, judge ${outcome.judge?.verdict}; ${elapsed.toFixed(2)} s for ${settings.count} x ${settings.intervalSeconds} s`);
        }
        const s = stat(added);
        console.log("\nTime an analysis adds beyond count x interval (5 x 2 s; 2 metrics + a judge metric on 2 pods; 3 runs)\n");
        console.log(table(["measured", "added", "goal"], [[`${round(10 + s.median, 2)} s`, `${s.median} s (${s.min}-${s.max})`, `<= ${settings.intervalSeconds + 2} s (one interval + 2 s)`]]));
    } finally {
        await kubectl(["delete", "namespace", NS, "--timeout=90s"], 100_000).catch(() => undefined);
    }
}

main().catch((err) => { console.error(err); process.exit(1); });
