/**
 * One HTTP(S) GET on a fresh connection (no keep-alive agent), with a timeout and a 1 MB body cap:
 * the metric gate, the pod-proxy HTTP check, and traffic sampling in the demo and tests.
 */
import * as http from "http";
import * as https from "https";

export function httpGet(url: string, timeoutMs = 10_000, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
    const client = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
        const request = client.get(url, { ...options, agent: false, timeout: timeoutMs }, (response) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => { if (body.length < 1_000_000) body += chunk; });
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
        request.on("error", reject);
    });
}
