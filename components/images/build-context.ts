/**
 * A Docker build context of the user's: its content hash (so an unchanged context never rebuilds
 * or re-pushes) and the pieces of a reference. Reads the directory; bounded in files and bytes.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export const CONTEXT_LIMITS = { files: 20_000, bytes: 512 * 1024 * 1024 };

/**
 * sha256 over the context's files (sorted relative paths, modes and contents) and the build
 * settings. `.git` is skipped; so is what `.dockerignore` lists as a plain name or path prefix
 * (patterns with wildcards count as changes, never as misses: the hash may only err on the side
 * of rebuilding).
 */
export function hashBuildContext(dir: string, settings: Record<string, unknown> = {}): string {
    const ignore = readDockerignore(dir);
    const hash = crypto.createHash("sha256").update(JSON.stringify(settings)).update("\0");
    let files = 0;
    let bytes = 0;
    const walk = (rel: string) => {
        const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
        for (const entry of entries) {
            const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
            if (child === ".git" || ignore.some((p) => child === p || child.startsWith(`${p}/`))) continue;
            const full = path.join(dir, child);
            if (entry.isDirectory()) { walk(child); continue; }
            const stat = fs.statSync(full);
            if (++files > CONTEXT_LIMITS.files) throw new Error(`build context ${dir} has more than ${CONTEXT_LIMITS.files} files; add a .dockerignore`);
            bytes += stat.size;
            if (bytes > CONTEXT_LIMITS.bytes) throw new Error(`build context ${dir} is larger than ${CONTEXT_LIMITS.bytes / 1024 / 1024} MB; add a .dockerignore`);
            hash.update(child).update("\0").update(String(stat.mode & 0o111 ? 1 : 0)).update("\0");
            hash.update(entry.isSymbolicLink() ? fs.readlinkSync(full) : fs.readFileSync(full)).update("\0");
        }
    };
    walk("");
    return hash.digest("hex");
}

function readDockerignore(dir: string): string[] {
    const file = path.join(dir, ".dockerignore");
    if (!fs.existsSync(file)) return [];
    const lines = fs.readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    // A negation re-includes files: then skip nothing rather than risk missing a change.
    if (lines.some((l) => l.startsWith("!"))) return [];
    return lines.map((l) => l.replace(/^\.?\//, "").replace(/\/$/, "")).filter((l) => !/[*?[]/.test(l));
}
