/**
 * Samples the version pages behind a URL: N requests, each on a fresh connection so that
 * kube-proxy spreads them over the pods like independent clients.
 */
import { httpGet } from "../../components/rollout/http";

export interface TrafficSample {
    requests: number;
    /** Page version ("V1", "V2", ...) -> count. */
    versions: Record<string, number>;
    /** Requests that failed or answered without a version page. */
    errors: number;
    /** First few error descriptions, for reports. */
    errorSamples: string[];
}

/** "<h1>This is V2</h1>" -> "V2"; undefined when the body is not a version page. */
export function pageVersion(body: string): string | undefined {
    return /This is (\S+?)<\/h1>/.exec(body)?.[1];
}

export async function sampleTraffic(url: string, requests = 100, timeoutMs = 3000): Promise<TrafficSample> {
    const sample: TrafficSample = { requests, versions: {}, errors: 0, errorSamples: [] };
    for (let i = 0; i < requests; i++) {
        try {
            const { status, body } = await httpGet(url, timeoutMs);
            const version = pageVersion(body);
            if (status >= 200 && status < 300 && version) {
                sample.versions[version] = (sample.versions[version] ?? 0) + 1;
                continue;
            }
            sample.errors++;
            if (sample.errorSamples.length < 5) sample.errorSamples.push(`HTTP ${status}: ${body.slice(0, 80)}`);
        } catch (err) {
            sample.errors++;
            if (sample.errorSamples.length < 5) sample.errorSamples.push(String((err as Error).message));
        }
    }
    return sample;
}
