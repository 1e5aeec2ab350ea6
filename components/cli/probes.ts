/**
 * Evidence for the gates, gathered from the cluster and over HTTP. A canary pod's page is fetched
 * through the API server's pod proxy (`/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/...`), so
 * the tool needs no route to pod IPs, only the same kubeconfig `pulumi up` uses.
 */
import * as http from "http";
import * as https from "https";
import { PodInfo, kubectl } from "./kube";
import { PageProbe } from "./gates";

export async function probePage(namespace: string, pod: PodInfo, port = 80, pagePath = "/version.html"): Promise<PageProbe> {
    try {
        const body = await kubectl(["get", "--raw", `/api/v1/namespaces/${namespace}/pods/${pod.name}:${port}/proxy${pagePath}`], 15_000);
        return { pod: pod.name, status: 200, body };
    } catch (err) {
        const message = String((err as Error).message);
        const status = /\((\d{3})\)|status code (\d{3})|(\d{3}) /.exec(message);
        return { pod: pod.name, status: status ? Number(status[1] ?? status[2] ?? status[3]) : 0, body: "", error: message.split("\n")[0].slice(0, 200) };
    }
}

/**
 * One GET on a fresh connection (no keep-alive agent), so that repeated requests to a Service are
 * spread by kube-proxy like independent clients; the body is capped at 1 MB.
 */
export function httpGet(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
    const client = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
        const request = client.get(url, { agent: false, timeout: timeoutMs }, (response) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => { if (body.length < 1_000_000) body += chunk; });
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
        request.on("error", reject);
    });
}
