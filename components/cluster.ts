/**
 * Which cluster: the one the stack's Kubernetes provider targets. Resolved in one place, the way
 * the provider resolves it (`kubernetes:kubeconfig` as a path or as content, `kubernetes:context`,
 * `kubernetes:cluster`, else the KUBECONFIG files, else ~/.kube/config, else in-cluster), and used
 * by the rollout check and the sts-canary tool for every read, probe and pod deletion. Never the
 * environment's current context when the stack names another one. No client library here: this
 * module is loaded by every program run.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** What the stack's Kubernetes provider is configured with (the `kubernetes:` config keys). */
export interface ClusterAccess {
    /** A kubeconfig path or the kubeconfig itself (YAML or JSON). */
    kubeconfig?: string;
    /** Context to use instead of the kubeconfig's current-context. */
    context?: string;
    /** Cluster to use instead of the context's cluster. */
    cluster?: string;
}

export type KubeconfigSource =
    | { kind: "contents"; contents: string; origin: string }
    | { kind: "files"; files: string[]; origin: string }
    | { kind: "in-cluster"; origin: string };

/** `kubernetes:kubeconfig`, `kubernetes:context`, `kubernetes:cluster` from a config reader. */
export function clusterAccessFromConfig(get: (key: string) => string | undefined): ClusterAccess {
    const access: ClusterAccess = {};
    for (const key of ["kubeconfig", "context", "cluster"] as const) {
        const value = get(key);
        if (value !== undefined && value.trim() !== "") access[key] = value;
    }
    return access;
}

function expandHome(p: string, home: string): string {
    return p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p;
}

/**
 * Where the kubeconfig comes from, as the Kubernetes provider decides it: an explicit value is a
 * path when a file exists there (`~` expanded), else the kubeconfig itself; without one, the
 * KUBECONFIG files (path-list), else ~/.kube/config, else in-cluster credentials.
 */
export function kubeconfigSource(access: ClusterAccess, env: NodeJS.ProcessEnv = process.env,
    exists: (p: string) => boolean = fs.existsSync, home: string = os.homedir()): KubeconfigSource {
    const explicit = access.kubeconfig;
    if (explicit !== undefined) {
        const candidate = expandHome(explicit.trim(), home);
        if (!explicit.includes("\n") && !candidate.startsWith("{") && exists(candidate)) {
            return { kind: "files", files: [candidate], origin: `kubernetes:kubeconfig (${candidate})` };
        }
        return { kind: "contents", contents: explicit, origin: "kubernetes:kubeconfig (contents)" };
    }
    const fromEnv = (env.KUBECONFIG ?? "").split(path.delimiter).filter((p) => p !== "").map((p) => expandHome(p, home));
    if (fromEnv.length > 0) return { kind: "files", files: fromEnv, origin: `KUBECONFIG (${fromEnv.join(path.delimiter)})` };
    const defaultFile = path.join(home, ".kube", "config");
    if (exists(defaultFile)) return { kind: "files", files: [defaultFile], origin: defaultFile };
    return { kind: "in-cluster", origin: "in-cluster service account" };
}

/** For messages: "context dev-cluster of KUBECONFIG (/x/kubeconfig)". */
export function describeAccess(access: ClusterAccess, source: KubeconfigSource): string {
    const parts: string[] = [];
    if (access.context) parts.push(`context ${access.context}`);
    if (access.cluster) parts.push(`cluster ${access.cluster}`);
    return `${parts.length > 0 ? `${parts.join(", ")} of ` : "current context of "}${source.origin}`;
}
