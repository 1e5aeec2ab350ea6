/** Reads a KEY=VALUE file such as `.platform/platform.env` (written by platform/up.sh). */
import * as fs from "fs";

export function readEnvFile(file: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
        // Quoted as the shell reads it: "..." or '...' (a Harbor robot name holds a `$`).
        if (match) env[match[1]] = match[2].replace(/^"(.*)"$|^'(.*)'$/, (_, double, single) => double ?? single);
    }
    return env;
}
