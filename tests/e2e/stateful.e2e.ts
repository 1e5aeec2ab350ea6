/**
 * The general component on a stateful app (examples/stateful: PostgreSQL, one PersistentVolumeClaim
 * per pod on the platform's local-path provisioner, releases built from the example's own Docker
 * context): data written before the canary is readable on every canary pod after it restarts on
 * v2 (same claim), readiness comes from the server's own exec probe, a rollback keeps the data, and
 * `pulumi destroy` honours the claim retention policy.
 */
import * as assert from "assert";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { REPO_ROOT, eventually, loadPlatformEnv, pushTestImage, registryManifestPushes, run } from "./platform";

const NAMESPACE = "e2e-stateful";
const WORK_DIR = path.join(REPO_ROOT, "examples", "stateful");
const PROJECT = "sts-canary-stateful";
const REPLICAS = 3;
const log = (line: string) => console.log(`      ${line}`);

const kubectl = (args: string[]) => run("kubectl", [...args], 120_000);
const sql = async (pod: number, query: string) =>
    (await kubectl(["exec", "-n", NAMESPACE, `db-${pod}`, "-c", "postgres", "--", "psql", "-tAc", query])).trim();

interface Named { metadata: { name: string; uid: string } }
async function list(kind: string): Promise<Named[]> {
    const items = (JSON.parse(await kubectl(["get", kind, "-n", NAMESPACE, "-o", "json"])) as { items: Named[] }).items;
    return items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}
const uids = (items: Named[]) => items.map((i) => `${i.metadata.name} ${i.metadata.uid}`);

describe("a stateful app (PostgreSQL with a volume per pod) through the canary", function () {
    let stack: Stack;
    let claimsBefore: string[] = [];

    async function up(values: Record<string, string>, what: string): Promise<void> {
        await stack.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, { value: v }])));
        const started = Date.now();
        const result = await stack.up({ color: "never" });
        log(`${what}: ${result.summary.result} in ${((Date.now() - started) / 1000).toFixed(1)}s; ${(await stack.outputs()).rolloutSummary?.value ?? ""}`);
    }
    const releases = async () => Promise.all([...Array(REPLICAS).keys()].map((i) => sql(i, "SHOW app.release")));
    const rows = async () => Promise.all([...Array(REPLICAS).keys()].map((i) => sql(i, "SELECT note FROM notes ORDER BY note")));

    before(async function () {
        const env = loadPlatformEnv();
        stack = await LocalWorkspace.createOrSelectStack({ stackName: "e2e-stateful", workDir: WORK_DIR }, { envVars: env });
        await stack.setAllConfig({
            [`${PROJECT}:registryServer`]: { value: env.STS_CANARY_REGISTRY },
            [`${PROJECT}:registryPassword`]: { value: env.STS_CANARY_REGISTRY_PASSWORD, secret: true },
            [`${PROJECT}:pullUsername`]: { value: env.STS_CANARY_PULL_USER },
            [`${PROJECT}:pullPassword`]: { value: env.STS_CANARY_PULL_PASSWORD, secret: true },
            [`${PROJECT}:baseImage`]: { value: env.STS_CANARY_POSTGRES_BASE_IMAGE },
            [`${PROJECT}:imageBuilder`]: { value: "docker-cli" },
            [`${PROJECT}:namespace`]: { value: NAMESPACE },
            // An existing namespace: deleting it would take the claims with it whatever the policy says.
            [`${PROJECT}:createNamespace`]: { value: "false" },
            [`${PROJECT}:retainVolumes`]: { value: "true" },
            [`${PROJECT}:replicas`]: { value: String(REPLICAS) },
            [`${PROJECT}:imageTag`]: { value: "v1" },
            [`${PROJECT}:partition`]: { value: "0" },
            "kubernetes:kubeconfig": { value: env.KUBECONFIG },
        });
        await stack.destroy({ color: "never" });
        await kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
        await kubectl(["create", "namespace", NAMESPACE]);
    });

    after(async function () {
        if (!stack || process.env.STS_CANARY_KEEP_E2E === "1") return;
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(stack.name);
        await kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false"]);
    });

    it("deploys v1 with a volume per pod, Ready by the server's own exec probe", async () => {
        await up({}, "v1 on 3 pods");
        const sts = JSON.parse(await kubectl(["get", "statefulset", "db", "-n", NAMESPACE, "-o", "json"]));
        const probe = sts.spec.template.spec.containers[0].readinessProbe;
        assert.deepStrictEqual(probe.exec.command, ["pg_isready", "-q"]);
        assert.strictEqual(probe.httpGet, undefined, "not an HTTP page");
        assert.deepStrictEqual(await releases(), ["v1", "v1", "v1"]);
        const claims = await list("pvc");
        assert.deepStrictEqual(claims.map((c) => c.metadata.name), ["data-db-0", "data-db-1", "data-db-2"]);
        claimsBefore = uids(claims);
    });

    it("keeps every pod's data through the canary: the v2 pods restart on the same claims", async () => {
        for (let i = 0; i < REPLICAS; i++) await sql(i, `CREATE TABLE IF NOT EXISTS notes(note text); INSERT INTO notes VALUES ('written on db-${i} before the canary')`);
        log(`written: ${[0, 1, 2].map((i) => `db-${i}`).join(", ")}; claims ${claimsBefore.map((c) => c.split(" ")[0]).join(", ")}`);
        const podsBefore = await list("pods");
        await up({ imageTag: "v2", partition: "1" }, "canary v2 on db-1..db-2");
        log(`SHOW app.release per pod: ${(await releases()).join(", ")}; rows read back: ${(await rows()).join(" | ")}`);
        assert.deepStrictEqual(await releases(), ["v1", "v2", "v2"]);
        const podsAfter = await list("pods");
        assert.strictEqual(podsAfter[0].metadata.uid, podsBefore[0].metadata.uid, "db-0 is below the partition");
        assert.notStrictEqual(podsAfter[2].metadata.uid, podsBefore[2].metadata.uid, "db-2 restarted on v2");
        assert.deepStrictEqual(await rows(), [0, 1, 2].map((i) => `written on db-${i} before the canary`));
        assert.deepStrictEqual(uids(await list("pvc")), claimsBefore, "same claims");
        assert.strictEqual((await stack.outputs()).stable.value, "v1");
    });

    it("rolls back to v1 by plain config and still has the data, building and pushing nothing", async () => {
        const pushes = await registryManifestPushes();
        await up({ imageTag: "v1" }, "rollback to v1");
        assert.strictEqual(await registryManifestPushes(), pushes, "an unchanged build context was pushed again");
        assert.deepStrictEqual(await releases(), ["v1", "v1", "v1"]);
        assert.deepStrictEqual(await rows(), [0, 1, 2].map((i) => `written on db-${i} before the canary`));
        assert.deepStrictEqual(uids(await list("pvc")), claimsBefore);
    });

    it("judges a canary on PostgreSQL's own metrics: the exporter beside each server, scraped by the platform's Prometheus", async () => {
        const env = loadPlatformEnv();
        // An exporter image from the registry, as a team would use one (the platform's postgres base has Debian's exporter).
        const exporter = await pushTestImage("pg-exporter", `FROM ${env.STS_CANARY_POSTGRES_BASE_IMAGE}\n`);
        const analysis = {
            prometheus: env.STS_CANARY_PROMETHEUS_URL, initialDelaySeconds: 8, intervalSeconds: 4, windowSeconds: 8,
            metrics: [
                { name: "pg-up", query: 'min by (pod) (pg_up{namespace="{{namespace}}",pod=~"{{canaryPods}}"})', successCondition: "result == 1", inconclusiveLimit: 1 },
                {
                    name: "commits", query: 'sum by (pod) (rate(pg_stat_database_xact_commit{namespace="{{namespace}}",pod=~"{{canaryPods}}"}[{{window}}]))',
                    successCondition: "result > 0", inconclusiveLimit: 1,
                },
            ],
        };
        await up({ exporterImage: exporter }, "the exporter beside each server");
        await up({ imageTag: "v2", partition: "2", bakeSeconds: "20", analysis: JSON.stringify(analysis) }, "canary v2 on db-2, judged on PostgreSQL's metrics");
        const summary = String((await stack.outputs()).rolloutSummary?.value ?? "");
        assert.match(summary, /pg-up: Successful/);
        assert.match(summary, /commits: Successful/);
        assert.match(summary, /pg-up #\d Successful: pod="db-2" = 1 /);
        assert.deepStrictEqual(await releases(), ["v1", "v1", "v2"]);
        await up({ imageTag: "v1", partition: "0", bakeSeconds: "0", analysis: "", exporterImage: "" }, "back to v1 without the exporter");
        assert.deepStrictEqual(await rows(), [0, 1, 2].map((i) => `written on db-${i} before the canary`));
    });

    it("destroy keeps the claims under whenDeleted Retain, and a new deployment finds the data", async () => {
        await stack.destroy({ color: "never" });
        assert.deepStrictEqual(uids(await list("pvc")), claimsBefore, "claims retained");
        await up({ partition: "0" }, "v1 again on the retained claims");
        assert.deepStrictEqual(await rows(), [0, 1, 2].map((i) => `written on db-${i} before the canary`));
    });

    it("destroy deletes the claims under whenDeleted Delete", async () => {
        await up({ retainVolumes: "false" }, "retention policy whenDeleted Delete");
        await stack.destroy({ color: "never" });
        await eventually("the claims to be deleted", 120_000, async () => ((await list("pvc")).length === 0 ? true : undefined));
    });
});
