/**
 * The checks behind every validation message, shared by the component (property paths, an
 * InputPropertiesError) and the root program (stack config keys): each returns the reason a
 * value is wrong, or undefined. Pure functions.
 */
import { MUTABLE_TAGS } from "./tags";

// Docker reference grammar pieces (distribution/reference): tag and path component.
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// RFC 1123 label: namespaces and Service names.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// Label keys (optional DNS prefix + name) and values, as Kubernetes validates them.
export const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
export const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function rangeProblem(value: number, min: number, max: number): string | undefined {
    if (!Number.isInteger(value)) return `${value} is not an integer`;
    return value < min || value > max ? `${value} is out of range; allowed ${min}..${max}` : undefined;
}

/** A version name (image tag): valid and immutable. */
export function versionNameProblem(version: string): string | undefined {
    if (!TAG.test(version)) return `"${version}" is not a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})`;
    if (MUTABLE_TAGS.has(version)) return `"${version}" is a mutable tag; use immutable version tags`;
    // The version is also the pods' app.kubernetes.io/version label value.
    if (version.length > 63 || !LABEL_VALUE.test(version)) {
        return `"${version}" cannot be a label value (app.kubernetes.io/version): at most 63 characters, starting and ending with a letter or digit`;
    }
    return undefined;
}

/** A version to run: immutable and one of the available ones. */
export function versionChoiceProblem(version: string, available: string[]): string | undefined {
    if (MUTABLE_TAGS.has(version)) return `"${version}" is a mutable tag and is never allowed; allowed: one of ${available.join(", ")}`;
    if (!available.includes(version)) return `"${version}" is not a built or pinned version; allowed: one of ${available.join(", ")}`;
    return undefined;
}

/** True for `host`, `host:port`, `1.2.3.4:port`, `[::1]:port`; false for schemes, paths, blanks. */
export function isRegistryAddress(address: string): boolean {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^:/\s]+)(?::(\d{1,5}))?$/.exec(address);
    if (!match) return false;
    const [, host, port] = match;
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return false;
    if (host.startsWith("[")) return true;
    return IPV4.test(host) || (HOSTNAME.test(host) && !/^\d+(\.\d+)*$/.test(host));
}

export function registryProblem(address: string): string | undefined {
    return isRegistryAddress(address) ? undefined
        : `"${address}" is not a registry address; allowed: host or host:port without scheme or path (e.g. harbor.example.com or 127.0.0.1:5443)`;
}

/** One path component of a repository (a Harbor project, a repository name). */
export function pathComponentProblem(name: string, what: string): string | undefined {
    return PATH_COMPONENT.test(name) ? undefined : `"${name}" is not a valid ${what} (lowercase letters, digits, '.', '_', '-')`;
}

/** A repository path under the registry, e.g. `library/version-test`. */
export function repositoryProblem(path: string): string | undefined {
    const parts = path.split("/");
    return parts.length > 0 && parts.every((p) => PATH_COMPONENT.test(p)) ? undefined
        : `"${path}" is not a valid repository path (components of lowercase letters, digits, '.', '_', '-', separated by '/')`;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes object name (RFC 1123 subdomain, at most 253 characters), e.g. a Secret's. */
export function dnsSubdomainProblem(name: string, what: string): string | undefined {
    return typeof name === "string" && DNS_SUBDOMAIN.test(name) && name.length <= 253 ? undefined
        : `"${name}" is not a valid ${what} (RFC 1123 subdomain: lowercase letters, digits, '-', '.', at most 253 characters)`;
}

/** A name that must be an RFC 1123 label of at most `max` characters. */
export function dnsLabelProblem(name: string, what: string, max = 63): string | undefined {
    return DNS_LABEL.test(name) && name.length <= max ? undefined : `"${name}" is not a valid ${what} (RFC 1123 label, at most ${max} characters)`;
}


export function labelsProblem(labels: Record<string, string>): string | undefined {
    const bad = Object.entries(labels).filter(([k, v]) => !LABEL_KEY.test(k) || !LABEL_VALUE.test(String(v)));
    return bad.length === 0 ? undefined : `${bad.map(([k, v]) => `"${k}=${v}"`).join(", ")} ${bad.length === 1 ? "is not a valid label" : "are not valid labels"}`;
}

/** Labels the component sets itself (the selector, the version): a user value would break the StatefulSet or the check. */
export function reservedLabelsProblem(labels: Record<string, string>, reserved: readonly string[]): string | undefined {
    const taken = Object.keys(labels).filter((k) => reserved.includes(k));
    return taken.length === 0 ? undefined : `${taken.join(", ")} ${taken.length === 1 ? "is" : "are"} set by the component (selector and version labels); leave ${taken.length === 1 ? "it" : "them"} out`;
}

export function oneOfProblem(value: string, allowed: readonly string[]): string | undefined {
    return allowed.includes(value) ? undefined : `"${value}" is not allowed; allowed: ${allowed.join(", ")}`;
}

export function urlProblem(url: string): string | undefined {
    return /^https?:\/\/\S+$/.test(url) ? undefined : `"${url}" is not an http(s) URL`;
}
