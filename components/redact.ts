/**
 * Credentials out of text that leaves the process: failure messages (log tails, events), gate
 * evidence (URLs), the tool's record and timeline in the cluster, job summaries and state. One
 * place, so every path redacts the same way.
 */

/** Query parameters and `key=value` / `"key": "value"` pairs whose value is a credential. */
const SECRET_KEY = "(?:[a-z0-9_-]*(?:token|secret|passw(?:or)?d|passwd|api[_-]?key|apikey|access[_-]?key|signature|credential|auth)[a-z0-9_-]*)";

const PATTERNS: [RegExp, string][] = [
    // scheme://user:password@host -> scheme://***@host
    [/([a-z][a-z0-9+.-]*:\/\/)[^/@\s"']+@/gi, "$1***@"],
    // Authorization: Bearer xyz, Basic xyz
    [/\b(bearer|basic)\s+[a-z0-9._~+/=-]{6,}/gi, "$1 ***"],
    // ?token=xyz&... and key=value in logs (query strings, env dumps, CLI flags)
    [new RegExp(`([?&;\\s,]|^|--)(${SECRET_KEY})=([^&\\s"',;]+)`, "gi"), "$1$2=***"],
    // "password": "xyz" (JSON, YAML with quotes)
    [new RegExp(`("${SECRET_KEY}"\\s*:\\s*)"[^"]*"`, "gi"), "$1\"***\""],
    // password: xyz (YAML, log lines); a value already masked (`***`, Pulumi's `[secret]`) stays as it is
    [new RegExp(`(\\b${SECRET_KEY}:\\s+)(?!\\*\\*\\*|\\[secret\\])[^\\s"',]+`, "gi"), "$1***"],
];

/**
 * `text` with each of `values` (secrets known to the caller, at least 4 characters: shorter ones
 * would mask ordinary words) replaced by `replacement`, then other credentials by `***`. Known
 * values go first, longest first: a pattern or a shorter value matching part of a secret would
 * leave the rest of it in the text.
 */
export function redact(text: string, values: readonly (string | undefined)[] = [], replacement = "***"): string {
    let out = text;
    const known = values.filter((v): v is string => v !== undefined && v.length >= 4).sort((a, b) => b.length - a.length);
    for (const value of known) out = out.split(value).join(replacement);
    for (const [pattern, masked] of PATTERNS) out = out.replace(pattern, masked);
    return out;
}
