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
    // password: xyz (YAML, log lines)
    [new RegExp(`(\\b${SECRET_KEY}:\\s+)(?!\\*\\*\\*)[^\\s"',]+`, "gi"), "$1***"],
];

/** `text` with credentials replaced by `***`, and with each of `values` (secrets known to the caller) too. */
export function redact(text: string, values: readonly (string | undefined)[] = []): string {
    let out = text;
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    for (const value of values) {
        if (value && value.length >= 4) out = out.split(value).join("***");
    }
    return out;
}
