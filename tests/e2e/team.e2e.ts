/**
 * The team path: two operators, each in a checkout of their own (two directories with the
 * project's files), one stack on the shared PostgreSQL state backend of the local platform
 * (PULUMI_BACKEND_URL=$STS_CANARY_STATE_BACKEND_URL). A starts a slow promotion; B's concurrent
 * promote is refused naming A; both see the same status (the operation in the cluster); A is
 * killed (SIGKILL of its whole process group: tool, pulumi, providers); once A's lease expired B
 * continues the promotion from the record; then B promotes the result to a second stack on the
 * same backend. The test prints the two operators' transcript.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { getPods, operationObjects, tagOf } from "./kubectl";
import { CliResult, REPO_ROOT, deleteNamespaces, eventually, loadPlatformEnv, runCli } from "./platform";

const STACK = "e2e-team";
const PROD = "e2e-team-prod";
const NAMESPACE = "e2e-team";
const PROD_NAMESPACE = "e2e-team-prod";
const APP = "shop";
const PLAN = "2,1,0";
const LEASE_SECONDS = 30;

const transcript: string[] = [];
const clock = () => new Date().toISOString().slice(11, 19);
const note = (text: string) => transcript.push(`${clock()}        # ${text}`);

/** A checkout of the project: what a clone holds to run the program (Pulumi.yaml, the compiled program, package.json; node_modules shared). */
function checkout(name: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sts-canary-team-${name}-`));
    for (const file of ["Pulumi.yaml", "package.json"]) fs.copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
    fs.cpSync(path.join(REPO_ROOT, "dist"), path.join(dir, "dist"), { recursive: true });
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

describe("two operators, two checkouts, one stack on the shared PostgreSQL backend", function () {
    let env: Record<string, string>;
    let teamEnv: NodeJS.ProcessEnv;
    let dirA: string;
    let dirB: string;
    let stackA: Stack;
    let prodA: Stack;

    /** Runs the tool as operator `who` in its checkout, writing the command and its output to the transcript. */
    function operator(who: "A" | "B", dir: string) {
        return (args: string[], options: { detached?: boolean; onSpawn?: (pid: number) => void; quiet?: boolean; only?: RegExp } = {}): Promise<CliResult> => {
            transcript.push(`${clock()} [${who}] $ sts-canary ${args.join(" ")}`);
            let partial = "";
            return runCli(args, {
                cwd: dir, env: teamEnv, detached: options.detached, onSpawn: options.onSpawn,
                onOutput: (text) => {
                    if (options.quiet) return;
                    partial += text;
                    const lines = partial.split("\n");
                    partial = lines.pop() ?? "";
                    for (const line of lines) if (!options.only || options.only.test(line)) transcript.push(`${clock()} [${who}]   ${line}`);
                },
            }).then((result) => {
                if (partial && !options.quiet) transcript.push(`${clock()} [${who}]   ${partial}`);
                transcript.push(`${clock()} [${who}]   (exit ${result.code})`);
                return result;
            });
        };
    }

    async function createStack(name: string, settings: Record<string, string | string[]>): Promise<Stack> {
        const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: dirA }, { envVars: { PULUMI_BACKEND_URL: env.STS_CANARY_STATE_BACKEND_URL } });
        const values: Record<string, string | string[]> = {
            registryServer: env.STS_CANARY_REGISTRY, registryUsername: env.STS_CANARY_REGISTRY_USER, baseImage: env.STS_CANARY_BASE_IMAGE,
            imageBuilder: "docker-cli", appName: APP, replicas: "3", imageTag: "v1", partition: "0", readyTimeoutSeconds: "60", ...settings,
        };
        const config: Record<string, { value: string; objectValue?: string[]; secret: boolean }> = {
            "sts-canary:registryPassword": { value: env.STS_CANARY_REGISTRY_PASSWORD, secret: true },
            "sts-canary:pullUsername": { value: env.STS_CANARY_PULL_USER, secret: false },
            "sts-canary:pullPassword": { value: env.STS_CANARY_PULL_PASSWORD, secret: true },
            "kubernetes:kubeconfig": { value: env.KUBECONFIG, secret: false },
        };
        for (const [key, value] of Object.entries(values)) {
            config[`sts-canary:${key}`] = Array.isArray(value) ? { value: JSON.stringify(value), objectValue: value, secret: false } : { value, secret: false };
        }
        await stack.setAllConfigJson(JSON.stringify(config));
        await stack.destroy({ color: "never" });
        return stack;
    }

    before(async function () {
        env = loadPlatformEnv();
        assert.match(env.STS_CANARY_STATE_BACKEND_URL ?? "", /^postgres:\/\//, "the local platform runs the PostgreSQL state backend");
        teamEnv = { ...process.env, PULUMI_BACKEND_URL: env.STS_CANARY_STATE_BACKEND_URL };
        dirA = checkout("A");
        dirB = checkout("B");
        await deleteNamespaces(NAMESPACE, PROD_NAMESPACE);
        stackA = await createStack(STACK, { namespace: NAMESPACE, nodePort: "30101", versions: ["v1", "v2"], bakeSeconds: "25" });
        prodA = await createStack(PROD, { namespace: PROD_NAMESPACE, nodePort: "30102", versions: ["v1"], bakeSeconds: "3" });
        await stackA.up({ color: "never" });
        await prodA.up({ color: "never" });
        // B clones after the stacks were set up: the same stack files (and secrets salt) as A.
        for (const name of [STACK, PROD]) fs.copyFileSync(path.join(dirA, `Pulumi.${name}.yaml`), path.join(dirB, `Pulumi.${name}.yaml`));
        note(`checkouts: A=${dirA}  B=${dirB}; state backend ${env.STS_CANARY_STATE_BACKEND_URL.replace(/\/\/[^@]*@/, "//***@")}; stack ${STACK} (bakeSeconds 25) and ${PROD}`);
    });

    after(async function () {
        console.log("\n      ---- two-operator transcript ----");
        for (const line of transcript) console.log(`      ${line}`);
        console.log("      ---- end of transcript ----\n");
        if (process.env.STS_CANARY_KEEP_E2E === "1") return;
        for (const stack of [stackA, prodA]) {
            if (!stack) continue;
            // B's checkout holds the current config (A's stack file is from before the kill).
            const current = await LocalWorkspace.selectStack({ stackName: stack.name, workDir: dirB }, { envVars: { PULUMI_BACKEND_URL: env.STS_CANARY_STATE_BACKEND_URL } })
                .catch(() => stack);
            await current.cancel().catch(() => undefined);
            await current.destroy({ color: "never" });
            await current.workspace.removeStack(stack.name);
        }
        for (const dir of [dirA, dirB]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
        await deleteNamespaces(NAMESPACE, PROD_NAMESPACE);
    });

    it("refuses B while A promotes, shows both the same status, and lets B continue after A was killed", async () => {
        const A = operator("A", dirA);
        const B = operator("B", dirB);
        const objects = () => operationObjects(NAMESPACE, APP);

        let pidA = 0;
        const promotionA = A(["--stack", STACK, "promote", "--image-tag", "v2", "--plan", PLAN], { detached: true, onSpawn: (p) => { pidA = p; } });
        await eventually("A's first step to be applying", 120_000, async () => {
            const state = await objects();
            return state.record?.currentTarget === 2 && state.lease?.holderIdentity ? state : undefined;
        });

        // B, from its own checkout, tries the same promotion: refused, naming A and when its lease expires.
        const refused = await B(["--stack", STACK, "promote", "--image-tag", "v2", "--plan", PLAN]);
        assert.strictEqual(refused.code, 7, refused.stdout + refused.stderr);
        assert.match(refused.stderr, new RegExp(`locked: promote of v2 \\(plan ${PLAN}, at partition 2\\) on this stack is held by \\S+@\\S+ pid ${pidA} in ${dirA.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} #[0-9a-f]{8}; its lease was renewed \\d+s ago and expires in \\d+s`));

        // Both see the same operation in flight (it is in the cluster, not in a checkout).
        const statusA = await A(["--stack", STACK, "--json", "status"], { quiet: true });
        const statusB = await B(["--stack", STACK, "status"]);
        assert.strictEqual(statusA.code, 0, statusA.stderr);
        assert.strictEqual(statusB.code, 0, statusB.stderr);
        const jsonA = JSON.parse(statusA.stdout);
        assert.ok(jsonA.operation.running);
        const inFlight = (text: string) => /^in flight: (.*?); lock held by/m.exec(text)?.[1];
        assert.strictEqual(inFlight(statusB.stdout), jsonA.operation.summary.replace(/; lock held by.*$/, ""));
        assert.match(statusB.stdout, new RegExp(`^in flight: promote v1 -> v2 \\(plan ${PLAN}\\): applying partition [21], started by \\S+ \\(pid ${pidA}, `, "m"));

        // A gets as far as applying partition 1 (baking), then its machine dies: the whole process group.
        await eventually("A's second step to be applying", 180_000, async () => ((await objects()).record?.currentTarget === 1 ? true : undefined));
        await new Promise((r) => setTimeout(r, 10_000));
        note(`SIGKILL to A's process group (pid ${pidA}: the tool, its pulumi, the providers) while it applies partition 1`);
        process.kill(-pidA, "SIGKILL");
        const killed = await promotionA;
        assert.strictEqual(killed.code, 137);

        // Until A's lease expires, B is still refused.
        const early = await B(["--stack", STACK, "promote"]);
        assert.strictEqual(early.code, 7, early.stdout + early.stderr);
        const lease = (await objects()).lease!;
        const expiresAt = Date.parse(lease.renewTime!) + (lease.leaseDurationSeconds ?? LEASE_SECONDS) * 1000;
        await eventually("A's lease to expire", 90_000, async () => (Date.now() > expiresAt + 1000 ? true : undefined));

        const gone = await B(["--stack", STACK, "status"]);
        assert.match(gone.stdout, /^interrupted: interrupted promote v1 -> v2 \(plan 2,1,0\) stopped while applying partition 1, .* its lock \(.*\) expired \d+s ago; run `sts-canary promote` to continue it, or `sts-canary rollback`$/m);

        // B continues from the record (its own stack file still says v1 / partition 0).
        const resumed = await B(["--stack", STACK, "promote"]);
        assert.strictEqual(resumed.code, 0, resumed.stdout + resumed.stderr);
        assert.match(resumed.stdout, /takeover +took over the operation lock of \S+ pid \d+ in /);
        assert.match(resumed.stdout, /resume +continuing the interrupted promote of v2 at partition 1 .*config from the record/);
        assert.match(resumed.stdout, /promoted +v2 promoted through 1 -> 0/);
        assert.deepStrictEqual((await getPods(NAMESPACE, APP)).map((p) => tagOf(p.image)), ["v2", "v2", "v2"]);
        const state = await objects();
        assert.strictEqual(state.record, undefined);
        assert.strictEqual(state.lease, undefined);

        // A's checkout sees the same, finished state.
        const finalA = await A(["--stack", STACK, "--json", "status"], { quiet: true });
        const jsonFinal = JSON.parse(finalA.stdout);
        assert.strictEqual(jsonFinal.stableVersion, "v2");
        assert.strictEqual(jsonFinal.operation.summary, undefined);
    });

    it("promotes between two stacks on the shared backend (promote-env)", async () => {
        const B = operator("B", dirB);
        const devRef = (await LocalWorkspace.selectStack({ stackName: STACK, workDir: dirB }, { envVars: { PULUMI_BACKEND_URL: env.STS_CANARY_STATE_BACKEND_URL } })
            .then((s) => s.outputs())).images.value.v2 as string;
        // (the preview it prints is left out of the transcript)
        const result = await B(["promote-env", "--from", STACK, "--to", PROD, "--yes"], { only: /^\d{4}-\d\d-\d\d |^promoting|^OK|^exit|^refused/ });
        assert.strictEqual(result.code, 0, result.stdout + result.stderr);
        const pods = await getPods(PROD_NAMESPACE, APP);
        assert.deepStrictEqual(pods.map((p) => tagOf(p.image)), ["v1", "v1", "v2"]);
        assert.strictEqual(pods[2].image, devRef);
        const status = await B(["--stack", PROD, "status"]);
        assert.match(status.stdout, /partition 2 +stable v1 +canary v2/);
    });
});
