// PostgreSQL as a StatefulSet canary: one claim per pod (data survives every step), releases built
// from ./app, readiness from pg_isready, stack config moves it (imageTag, partition).
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { AnalysisArgs } from "sts-canary/args";
import { StatefulSetCanary } from "sts-canary/canary";

const config = new pulumi.Config();
const baseImage = config.get("baseImage") ?? "sts-canary/postgres-base:latest";
// Optional: an image with Debian's prometheus-postgres-exporter (the platform's postgres base has it),
// run beside each server on a port named "metrics", and the analysis (JSON, gates.analysis) that reads it.
const exporterImage = config.get("exporterImage");
// Not declared in Pulumi.yaml (a declared key without a default would be required): JSON text; empty is none.
const analysisText = config.get("analysis");
const analysis = analysisText ? (JSON.parse(analysisText) as AnalysisArgs) : undefined;
const exporter = exporterImage ? [{
    name: "exporter",
    image: exporterImage,
    command: ["prometheus-postgres-exporter", "--web.listen-address=:9187"],
    // The server's unix socket, shared through an emptyDir: local connections are trusted, no password.
    env: [{ name: "DATA_SOURCE_NAME", value: "host=/run/postgresql user=postgres dbname=postgres sslmode=disable" }],
    ports: [{ name: "metrics", containerPort: 9187 }],
    volumeMounts: [{ name: "socket", mountPath: "/run/postgresql" }],
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "200m", memory: "64Mi" } },
}] : [];
const release = (version: string) => ({ build: { context: path.join(__dirname, "app"), args: { BASE: baseImage, RELEASE: version } } });

const db = new StatefulSetCanary("db", {
    version: config.get("imageTag") ?? "v1",
    partition: config.getNumber("partition") ?? 0,
    replicas: config.getNumber("replicas") ?? 3,
    images: { v1: release("v1"), v2: release("v2") },
    // Releases verified in another stack (what `sts-canary promote-env` writes), deployed by digest.
    pinnedImages: config.getObject<string[]>("pinnedImages") ?? [],
    configKeys: { version: "imageTag", partition: "partition", replicas: "replicas", pinnedImages: "pinnedImages" },
    registry: {
        server: config.require("registryServer"),
        repository: "library/stateful-db",
        username: config.get("registryUsername") ?? "admin",
        password: config.requireSecret("registryPassword"),
    },
    // The pods pull with a pull-only account (a Harbor robot account); the pushing one stays with the builds.
    imagePull: { username: config.require("pullUsername"), password: config.requireSecret("pullPassword") },
    imageBuilder: config.get("imageBuilder"),
    namespace: config.get("namespace") ?? "stateful",
    createNamespace: config.getBoolean("createNamespace") ?? true,
    // A created namespace is kept on destroy or rename (its claims hold the data) unless this is true.
    deleteNamespace: config.getBoolean("deleteNamespace") ?? false,
    container: "postgres",
    podSpec: {
        securityContext: { runAsNonRoot: true, runAsUser: 100, runAsGroup: 102, fsGroup: 102 },
        terminationGracePeriodSeconds: 20,
        containers: [{
            name: "postgres",
            ports: [{ name: "pg", containerPort: 5432 }],
            // The server's own readiness, not an HTTP page.
            readinessProbe: { exec: { command: ["pg_isready", "-q"] }, periodSeconds: 2, failureThreshold: 3 },
            volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }, ...exporter.map(() => ({ name: "socket", mountPath: "/run/postgresql" }))],
            resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
        }, ...exporter],
        volumes: exporter.map(() => ({ name: "socket", emptyDir: {} })),
    },
    volumeClaimTemplates: [{
        metadata: { name: "data" },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName: config.get("storageClass") ?? "local-path", resources: { requests: { storage: "64Mi" } } },
    }],
    persistentVolumeClaimRetentionPolicy: {
        whenDeleted: (config.getBoolean("retainVolumes") ?? true) ? "Retain" : "Delete",
        whenScaled: "Retain",
    },
    service: { type: "ClusterIP" },
    gates: { bakeSeconds: config.getNumber("bakeSeconds") ?? 0, analysis },
});

export const images = db.images;
export const ordinalVersions = db.ordinalVersions;
export const stable = db.stableVersion;
export const step = db.step;
export const rolloutSummary = db.rolloutSummary;
export const serviceName = db.serviceName;
// The contract the sts-canary tool operates this stack through.
export const stsCanary = db.contract;
