/**
 * `npm run bench`: figures for how fast and predictably the canary moves, on the local platform
 * (started first with `npm run platform:up`). Prints tables and writes bench/results/latest.json.
 *
 *   1. one canary step (v1 -> v2 at partition 3 of 5): `pulumi up` of this program vs
 *      `kubectl apply -f` + `kubectl rollout status` of the same StatefulSet, same cluster and
 *      images, alternating runs; our time split into phases (engine events and the start times
 *      of the processes the engine starts: language host, program, providers)
 *   2. no-op `pulumi up` and `pulumi preview`, split the same way, with proof that no image was
 *      rebuilt or pushed
 *   3. scale: 5, 50, 500 replicas on kwok nodes (real StatefulSet controller): one canary step,
 *      a full promotion, peak memory of the Pulumi processes
 *   4. unit and e2e suite wall times
 *
 * Options: --runs N (default 5), --sizes 5,50,500, --skip-scale, --skip-e2e, --skip-suites,
 * --quick (3 runs, sizes 5,50, no suites: a few minutes; what CI prints).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { getPods, getStatefulSet, kubectl, tagOf } from "../tests/e2e/kubectl";
import { setConfig } from "../tests/e2e/stack";
import { REPO_ROOT, loadPlatformEnv, localStack, registryManifestPushes, run } from "../tests/e2e/platform";
import { Stat, fmt, peakMemory, round, stat, table } from "./measure";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const QUICK = args.includes("--quick");
const RUNS = Number(option("runs", QUICK ? "3" : "5"));
const SIZES = option("sizes", QUICK ? "5,50" : "5,50,500").split(",").map(Number);
const say = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const seconds = (from: number) => (Date.now() - from) / 1000;

// ---------------------------------------------------------------- 1. canary step
/**
 * Where the time of one `pulumi up`/`preview` goes, from its engine events and the start times of
 * the processes the engine starts (polled from /proc, 20 ms apart):
 *   start-up   CLI start, backend, update metadata, until the program process starts
 *   program    program process start until it registers the stack resource (node, modules)
 *   resources  until the StatefulSet's step starts: registrations, Check/Diff, provider start-ups
 *   apply      the StatefulSet's own step (the provider does not wait: skipAwait)
 *   rollout    the RolloutCheck's step: the wait for the pods, and the gates
 *   finish     outputs, checkpoint, plugin shutdown, CLI exit
 */
interface StepTiming { total: number; startup: number; program: number; resources: number; apply: number; rollout: number; finish: number;
    dynamicProviderStart: number; kubernetesProviderStart: number; changes?: string }

/**
 * When the engine's child processes we care about appear (first seen by polling /proc every 20 ms;
 * /proc's own start times count from a boot time given in whole seconds, too coarse here).
 */
function processStarts(): { stop: () => Record<string, number> } {
    const before = new Set(fs.readdirSync("/proc"));
    const seen: Record<string, number> = {};
    const patterns: [string, RegExp][] = [
        ["program", /@pulumi\/pulumi\/cmd\/run\/index\.js/], ["dynamicProvider", /cmd\/dynamic-provider/], ["kubernetesProvider", /pulumi-resource-kubernetes/],
    ];
    const poll = () => {
        const now = Date.now();
        for (const pid of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(pid) || before.has(pid)) continue;
            try {
                const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
                for (const [name, re] of patterns) if (seen[name] === undefined && re.test(cmd)) seen[name] = now;
            } catch { /* gone */ }
        }
    };
    const timer = setInterval(poll, 20);
    return { stop: () => { clearInterval(timer); return seen; } };
}

/**
 * `pulumi up` (or `preview`) run as a user runs it (the CLI, no Automation API: its up() runs two
 * more CLI commands for outputs and history afterwards), with its phases: engine events are read
 * from the CLI's --event-log as it writes them, and timestamped on arrival (polled every 10 ms).
 */
async function timedRun(stack: Stack, kind: "up" | "preview" = "up"): Promise<StepTiming> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-bench-events-"));
    const eventLog = path.join(dir, "events.jsonl");
    fs.writeFileSync(eventLog, "");
    const marks: Record<string, number> = {};
    let offset = 0;
    let pending = "";
    let summary: Record<string, number> | undefined;
    const readEvents = () => {
        const now = Date.now();
        const buffer = fs.readFileSync(eventLog);
        if (buffer.length <= offset) return;
        pending += buffer.subarray(offset).toString("utf8");
        offset = buffer.length;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
            if (line.trim() === "") continue;
            const event = JSON.parse(line) as EngineEvent;
            if (event.summaryEvent) summary = event.summaryEvent.resourceChanges as Record<string, number>;
            const urn = event.resourcePreEvent?.metadata.urn ?? event.resOutputsEvent?.metadata.urn ?? "";
            const phase = event.resourcePreEvent ? "pre" : event.resOutputsEvent ? "out" : "";
            const what = urn.includes("pulumi:pulumi:Stack") ? "stack" : urn.includes("kubernetes:apps/v1:StatefulSet") ? "sts"
                : urn.includes("sts-canary:RolloutCheck") ? "check" : "";
            if (phase && what && marks[`${what}-${phase}`] === undefined) marks[`${what}-${phase}`] = now;
        }
    };
    const argv = kind === "up" ? ["up", "--yes", "--skip-preview"] : ["preview"];
    const procs = processStarts();
    const t0 = Date.now();
    const tail = setInterval(readEvents, 10);
    const code = await new Promise<number>((resolve) => {
        const child = spawn("pulumi", [...argv, "--stack", stack.name, "--non-interactive", "--color", "never", "--event-log", eventLog],
            // --event-log exists when debug commands are on (what the Automation API sets too).
            { cwd: REPO_ROOT, env: { ...process.env, PULUMI_DEBUG_COMMANDS: "true" }, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
        child.on("close", (c) => { if (c !== 0) say(`   pulumi ${kind} exited ${c}: ${stderr.slice(-500)}`); resolve(c ?? 1); });
    });
    const end = Date.now();
    clearInterval(tail);
    readEvents();
    const started = procs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`pulumi ${kind} --stack ${stack.name} failed (exit ${code})`);
    const at = (key: string, fallback: number) => marks[key] ?? fallback;
    const program = started.program ?? at("stack-pre", end);
    const stackPre = at("stack-pre", end);
    const stsPre = at("sts-pre", at("check-pre", end));
    const stsOut = at("sts-out", stsPre);
    const checkOut = at("check-out", stsOut);
    const sec = (ms: number) => Math.max(ms, 0) / 1000;
    return {
        total: sec(end - t0), startup: sec(program - t0), program: sec(stackPre - program), resources: sec(stsPre - stackPre),
        apply: sec(stsOut - stsPre), rollout: sec(checkOut - stsOut), finish: sec(end - checkOut),
        dynamicProviderStart: sec((started.dynamicProvider ?? end) - t0), kubernetesProviderStart: sec((started.kubernetesProvider ?? end) - t0),
        changes: summary ? JSON.stringify(summary) : undefined,
    };
}

const PHASES: [keyof StepTiming, string][] = [
    ["startup", "start-up: CLI, backend, update metadata, until the program process starts"],
    ["program", "program: node, modules, until the stack resource is registered"],
    ["resources", "resources: registrations, Check/Diff, provider start-ups, until the StatefulSet step"],
    ["apply", "apply: the StatefulSet's step (the provider does not wait)"],
    ["rollout", "rollout check: pods moved and Ready, gates"],
    ["finish", "finish: outputs, checkpoint, exit"],
    ["dynamicProviderStart", "(dynamic provider process started at)"],
    ["kubernetesProviderStart", "(kubernetes provider process started at)"],
];

function splitTable(runs: StepTiming[]): string {
    return table(["phase", "time"], PHASES.map(([k, label]) => [label, fmt(stat(runs.map((r) => Number(r[k]))))]));
}

const describeTiming = (t: StepTiming) => PHASES.slice(0, 6).map(([k]) => `${k} ${Number(t[k]).toFixed(2)}`).join(", ");

function manifest(ns: string, image: string, version: string, partition: number, env: Record<string, string>): string {
    const auth = Buffer.from(`${env.STS_CANARY_PULL_USER}:${env.STS_CANARY_PULL_PASSWORD}`).toString("base64");
    const dockerconfig = Buffer.from(JSON.stringify({ auths: { [env.STS_CANARY_REGISTRY]: { auth } } })).toString("base64");
    const labels = { "app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web" };
    const docs = [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        { apiVersion: "v1", kind: "Secret", metadata: { name: "web-registry", namespace: ns }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": dockerconfig } },
        { apiVersion: "v1", kind: "Service", metadata: { name: "web-headless", namespace: ns }, spec: { clusterIP: "None", selector: labels, ports: [{ name: "web", port: 80, targetPort: "web" }] } },
        {
            apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "web", namespace: ns },
            spec: {
                serviceName: "web-headless", replicas: 5, podManagementPolicy: "OrderedReady", selector: { matchLabels: labels },
                updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition } },
                template: {
                    metadata: { labels: { ...labels, "app.kubernetes.io/version": version } },
                    spec: {
                        imagePullSecrets: [{ name: "web-registry" }], terminationGracePeriodSeconds: 10,
                        containers: [{
                            name: "nginx", image, imagePullPolicy: "IfNotPresent", ports: [{ name: "web", containerPort: 80 }],
                            readinessProbe: { httpGet: { path: "/version.html", port: "web" }, periodSeconds: 2, failureThreshold: 3 },
                            resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "200m", memory: "64Mi" } },
                        }],
                    },
                },
            },
        },
    ];
    return docs.map((d) => JSON.stringify(d)).join("\n---\n");
}

async function kubectlStep(file: string, ns: string): Promise<number> {
    const t0 = Date.now();
    await kubectl(["apply", "-f", file]);
    await kubectl(["rollout", "status", "statefulset/web", "-n", ns, "--timeout=300s"], 320_000);
    return seconds(t0);
}

async function verifyCanary(ns: string, app: string): Promise<void> {
    const pods = await getPods(ns, app);
    const tags = pods.map((p) => tagOf(p.image)).join(",");
    if (tags !== "v1,v1,v1,v2,v2" || !pods.every((p) => p.ready)) throw new Error(`${ns}: expected v1,v1,v1,v2,v2 all Ready, got ${tags}`);
}

async function canaryStep(env: Record<string, string>) {
    say("1. canary step: setting up the Pulumi stack (bench-step) and the kubectl namespace (bench-kubectl)");
    const stack = await localStack("bench-step", {
        namespace: "bench-pulumi", appName: "web", nodePort: "30096", replicas: "5", versions: ["v1", "v2"], imageTag: "v1", partition: "0",
    });
    await stack.up({ color: "never" });
    const images = (await stack.outputs()).images.value as Record<string, string>;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-bench-"));
    const files = {
        v1: path.join(dir, "v1.yaml"), v2: path.join(dir, "v2-p3.yaml"),
    };
    fs.writeFileSync(files.v1, manifest("bench-kubectl", images.v1, "v1", 0, env));
    fs.writeFileSync(files.v2, manifest("bench-kubectl", images.v2, "v2", 3, env));
    await kubectlStep(files.v1, "bench-kubectl");

    const ours: StepTiming[] = [];
    const theirs: number[] = [];
    const runOurs = async () => {
        await setConfig(stack, { imageTag: "v1", partition: "0" });
        await stack.up({ color: "never" });
        await setConfig(stack, { imageTag: "v2", partition: "3" });
        const t = await timedRun(stack);
        await verifyCanary("bench-pulumi", "web");
        ours.push(t);
        say(`   pulumi up: ${t.total.toFixed(2)}s (${describeTiming(t)})`);
    };
    const runTheirs = async () => {
        await kubectlStep(files.v1, "bench-kubectl");
        const t = await kubectlStep(files.v2, "bench-kubectl");
        await verifyCanary("bench-kubectl", "web");
        theirs.push(t);
        say(`   kubectl apply + rollout status: ${t.toFixed(2)}s`);
    };
    for (let i = 0; i < RUNS; i++) {
        if (i % 2 === 0) { await runOurs(); await runTheirs(); } else { await runTheirs(); await runOurs(); }
    }
    await kubectl(["delete", "namespace", "bench-kubectl", "--wait=false"]);
    fs.rmSync(dir, { recursive: true, force: true });
    const pick = (k: keyof StepTiming) => stat(ours.map((t) => Number(t[k])));
    return {
        stack,
        result: {
            pulumiUp: pick("total"), kubectl: stat(theirs),
            ratio: round(pick("total").median / stat(theirs).median),
            split: Object.fromEntries(PHASES.map(([k]) => [k, pick(k)])), runs: ours,
        },
    };
}

// ---------------------------------------------------------------- 2. no-op
async function noOp(stack: Stack) {
    say("2. no-op up and preview on bench-step");
    await setConfig(stack, { imageTag: "v2", partition: "0" });
    await stack.up({ color: "never" });
    const imagesBefore = JSON.stringify((await stack.outputs()).images.value);
    const pushesBefore = await registryManifestPushes();
    const ups: StepTiming[] = [];
    const previews: StepTiming[] = [];
    const changes: string[] = [];
    for (let i = 0; i < RUNS; i++) {
        const up = await timedRun(stack, "up");
        ups.push(up);
        changes.push(up.changes ?? "");
        previews.push(await timedRun(stack, "preview"));
    }
    const pushes = (await registryManifestPushes()) - pushesBefore;
    const imagesUnchanged = JSON.stringify((await stack.outputs()).images.value) === imagesBefore;
    const total = (list: StepTiming[]) => stat(list.map((t) => t.total));
    say(`   up ${fmt(total(ups))}, preview ${fmt(total(previews))}, manifest pushes ${pushes}, image digests unchanged ${imagesUnchanged}`);
    return {
        up: total(ups), preview: total(previews), upRuns: ups, previewRuns: previews,
        registryManifestPushes: pushes, imageDigestsUnchanged: imagesUnchanged, resourceChanges: [...new Set(changes)],
    };
}

// ---------------------------------------------------------------- 3. scale
async function scale() {
    const nodes = Math.max(1, Math.ceil(Math.max(...SIZES) / 100));
    say(`3. scale: ${nodes} kwok nodes for up to ${Math.max(...SIZES)} pods`);
    await run(path.join(REPO_ROOT, "platform/cluster.sh"), ["kwok", "up", String(nodes)]);
    const rows = [];
    try {
        for (const replicas of SIZES) {
            const name = `bench-scale-${replicas}`;
            const stack = await localStack(name, {
                namespace: name, appName: "web", nodePort: String(30097 + SIZES.indexOf(replicas)), replicas: String(replicas),
                versions: ["v1", "v2"], imageTag: "v1", partition: "0", rolloutTimeoutSeconds: "3600",
                nodeSelector: ["type=kwok"], tolerations: ["kwok.x-k8s.io/node=fake:NoSchedule"],
                // kwok's pods are simulated: nothing answers the version page there.
                checkVersionPage: "false",
            });
            await stack.destroy({ color: "never" });
            let t0 = Date.now();
            let memory = peakMemory();
            await stack.up({ color: "never" });
            const create = { seconds: round(seconds(t0)), peakMb: memory.stop() };
            say(`   ${replicas} replicas: created in ${create.seconds}s`);

            await setConfig(stack, { imageTag: "v2", partition: String(replicas - 1) });
            memory = peakMemory();
            const step = await timedRun(stack);
            const stepPeak = memory.stop();
            const canary = await getStatefulSet(name, "web");
            if (canary?.updatedReplicas !== 1 || canary.readyReplicas !== replicas) {
                throw new Error(`${name}: after the canary step ${canary?.updatedReplicas} updated / ${canary?.readyReplicas} ready`);
            }
            say(`   ${replicas} replicas: canary step (1 pod) ${step.total.toFixed(2)}s, rollout check ${step.rollout.toFixed(2)}s, peak ${stepPeak} MB`);

            await setConfig(stack, { partition: "0" });
            memory = peakMemory();
            t0 = Date.now();
            await stack.up({ color: "never" });
            const promotion = { seconds: round(seconds(t0)), peakMb: memory.stop() };
            const sts = await getStatefulSet(name, "web");
            if (sts?.updatedReplicas !== replicas || sts.readyReplicas !== replicas) throw new Error(`${name}: promotion incomplete`);
            say(`   ${replicas} replicas: full promotion ${promotion.seconds}s, peak ${promotion.peakMb} MB`);
            rows.push({
                replicas, create, canaryStep: {
                    seconds: round(step.total), applyAndWait: round(step.apply + step.rollout), engineOverhead: round(step.total - step.apply - step.rollout), peakMb: stepPeak,
                },
                fullPromotion: promotion,
            });
            await stack.destroy({ color: "never" });
            await stack.workspace.removeStack(name);
        }
    } finally {
        await run(path.join(REPO_ROOT, "platform/cluster.sh"), ["kwok", "down"]).catch(() => undefined);
    }
    return rows;
}

// ---------------------------------------------------------------- 4. suites
function timeCommand(command: string, argv: string[]): Promise<number> {
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const child = spawn(command, argv, { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"], env: process.env });
        child.on("close", (code) => (code === 0 ? resolve(seconds(t0)) : reject(new Error(`${command} ${argv.join(" ")} exited ${code}`))));
    });
}

async function suites() {
    say("4. test suites");
    const unit: number[] = [];
    for (let i = 0; i < 3; i++) unit.push(await timeCommand("npx", ["mocha", "--config", "tests/unit/.mocharc.json", "--reporter", "dot"]));
    const result: { unit: Stat; e2e?: Stat } = { unit: stat(unit) };
    if (!args.includes("--skip-e2e")) result.e2e = stat([await timeCommand("npx", ["mocha", "--config", "tests/e2e/.mocharc.json", "--reporter", "dot"])]);
    return result;
}

async function main() {
    const env = loadPlatformEnv();
    const started = new Date().toISOString();
    const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30, 1), kernel: os.release(), node: process.version };
    const { stack, result: step } = await canaryStep(env);
    const noop = await noOp(stack);
    await stack.destroy({ color: "never" });
    await stack.workspace.removeStack("bench-step");
    const scaleRows = args.includes("--skip-scale") ? [] : await scale();
    const suiteTimes = args.includes("--skip-suites") || QUICK ? undefined : await suites();
    const results = { started, finished: new Date().toISOString(), runs: RUNS, machine, canaryStep: step, noOp: noop, scale: scaleRows, suites: suiteTimes };
    fs.mkdirSync(path.join(REPO_ROOT, "bench/results"), { recursive: true });
    fs.writeFileSync(path.join(REPO_ROOT, "bench/results/latest.json"), JSON.stringify(results, null, 2) + "\n");

    const out: string[] = [];
    out.push(`Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GiB, Linux ${machine.kernel}, Node ${machine.node}; ${RUNS} runs, median (min-max)`);
    out.push("", "Canary step v1 -> v2 at partition 3 of 5 (until 2 pods updated and all Ready):", table(
        ["tool", "time", "ratio"],
        [["pulumi up (this program)", fmt(step.pulumiUp), `${step.ratio}x`], ["kubectl apply + rollout status", fmt(step.kubectl), "1x"]]));
    out.push("", "pulumi up of the canary step, split:", splitTable(step.runs));
    out.push("", "Nothing changed:", table(["command", "time", "registry manifest pushes", "image digests"], [
        ["pulumi up", fmt(noop.up), String(noop.registryManifestPushes), noop.imageDigestsUnchanged ? "unchanged" : "CHANGED"],
        ["pulumi preview", fmt(noop.preview), "", ""],
    ]));
    out.push("", "No-op pulumi up, split:", splitTable(noop.upRuns));
    out.push("", "pulumi preview, split:", splitTable(noop.previewRuns));
    if (scaleRows.length > 0) {
        out.push("", "Scale (kwok nodes, real StatefulSet controller; 1 run each):", table(
            ["replicas", "create", "canary step (1 pod)", "of which apply + rollout check", "engine overhead", "full promotion", "peak MB (step / promotion)"],
            scaleRows.map((r) => [r.replicas, `${r.create.seconds}s`, `${r.canaryStep.seconds}s`, `${r.canaryStep.applyAndWait}s`,
                `${r.canaryStep.engineOverhead}s`, `${r.fullPromotion.seconds}s`, `${r.canaryStep.peakMb} / ${r.fullPromotion.peakMb}`])));
    }
    if (suiteTimes) {
        out.push("", "Test suites:", table(["suite", "wall time"], [
            ["unit (mocha, 3 runs)", fmt(suiteTimes.unit)], ...(suiteTimes.e2e ? [["e2e (mocha, 1 run)", fmt(suiteTimes.e2e)]] : []),
        ]));
    }
    process.stdout.write(out.join("\n") + "\n\nwritten: bench/results/latest.json\n");
}

main().catch((err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : err}\n`);
    process.exit(1);
});
