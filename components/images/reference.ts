/**
 * Image references, in one place: parsing `host[:port]/repo[:tag][@sha256:digest]` (Docker's
 * grammar, as distribution/reference reads it), pinning, and the `version=<ref>` pins a stack
 * config lists. Used by the component, the policy pack and the tool. Pure functions.
 */

/** `<repo>[:<tag>]@sha256:<64 hex>` */
const PINNED_REF = /^[a-z0-9.:[\]_/-]+(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[a-f0-9]{64}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface ImageReference {
    /** Registry host[:port]; `docker.io` when the first path segment is not a host. */
    registry: string;
    /** Repository path below the registry, e.g. `library/version-test`. */
    repository: string;
    tag?: string;
    /** `sha256:...` */
    digest?: string;
}

/** The parts of a reference; a first segment without `.`, `:` or `localhost` is a Docker Hub path. */
export function parseReference(image: string): ImageReference {
    const [name, digest] = image.trim().split("@");
    const slash = name.indexOf("/");
    const first = slash >= 0 ? name.slice(0, slash) : "";
    const hasRegistry = slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost");
    const rest = hasRegistry ? name.slice(slash + 1) : name;
    const colon = rest.lastIndexOf(":");
    return {
        registry: hasRegistry ? first : "docker.io",
        repository: colon >= 0 ? rest.slice(0, colon) : rest,
        tag: colon >= 0 ? rest.slice(colon + 1) : undefined,
        digest,
    };
}

/** `<repo>:v2@sha256:...` -> `v2`; undefined when the reference has no tag. */
export function tagOf(image: string): string | undefined {
    return parseReference(image).tag;
}

/** `sha256:...` of `repo@sha256:...` or of a bare digest; undefined if there is none. */
export function digestOf(reference: string): string | undefined {
    const text = reference.trim();
    const digest = DIGEST.test(text) ? text : parseReference(text).digest;
    return digest && DIGEST.test(digest) ? digest : undefined;
}

/** Registry host[:port] of a reference. */
export function registryOf(reference: string): string {
    return parseReference(reference).registry;
}

/** `<repo>:<tag>@sha256:...`: readable in `kubectl get pods` and still pinned to what was pushed. */
export function pinnedReference(repository: string, tag: string, digest: string): string {
    return `${repository}:${tag}@${digest}`;
}

export function isPinned(reference: string): boolean {
    return PINNED_REF.test(reference);
}

/** Why a reference given as `ref` is not acceptable, or undefined. */
export function pinnedRefProblem(ref: string): string | undefined {
    return isPinned(ref) ? undefined : `"${ref}" is not pinned by digest; allowed: <repo>[:<tag>]@sha256:<64 hex>`;
}

/** A pin as stack config lists it: `version=<repo>[:<tag>]@sha256:<digest>`. */
export function parsePin(entry: string): { version: string; ref: string } | undefined {
    const at = entry.indexOf("=");
    if (at <= 0) return undefined;
    return { version: entry.slice(0, at).trim(), ref: entry.slice(at + 1).trim() };
}

export function formatPin(version: string, ref: string): string {
    return `${version}=${ref}`;
}

/** The pins with `version` pinned to `ref` (its earlier pin replaced), in a stable order. */
export function withPin(entries: string[], version: string, ref: string): string[] {
    return [...entries.filter((e) => parsePin(e)?.version !== version), formatPin(version, ref)];
}
