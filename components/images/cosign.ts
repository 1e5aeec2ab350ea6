/**
 * The cosign CLI (github.com/sigstore/cosign, built by the local platform) as this package runs it:
 * sign a pinned image with a key pair from stack secrets, verify one against public keys. Keys and
 * registry credentials stay in the process' environment and a private temporary directory (a
 * docker config.json only cosign reads); nothing is written to the user's ~/.docker or ~/.sigstore.
 * Signatures are stored next to the image, as Harbor and distribution do (`sha256-<digest>.sig`).
 * No transparency log: key-pair signing for a private registry, like Harbor's cosign integration.
 */
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Credentials cosign uses for the registry (push to sign, pull to verify). */
export interface RegistryLogin {
    server: string;
    username: string;
    password: string;
}

/** The cosign binary: STS_CANARY_COSIGN, else `cosign` on PATH. */
export function cosignBinary(env: NodeJS.ProcessEnv = process.env): string {
    return env.STS_CANARY_COSIGN || "cosign";
}

/** A cosign failure, with what cosign said (its last lines; never a key or password). */
export class CosignError extends Error {
    constructor(readonly command: string, readonly output: string, how: string) {
        super(`cosign ${command} ${how}: ${output.trim().split("\n").filter((l) => l.trim()).slice(-4).join(" | ") || "(no output)"}`);
        this.name = "CosignError";
    }
}

/** Runs cosign in a private directory with the registry login (if any); `files` are written there first. */
async function inPrivateDir<T>(login: RegistryLogin | undefined, fn: (dir: string, env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sts-canary-cosign-"));
    try {
        fs.chmodSync(dir, 0o700);
        const dockerConfig = path.join(dir, "docker");
        fs.mkdirSync(dockerConfig);
        const auths = login ? { [login.server]: { auth: Buffer.from(`${login.username}:${login.password}`).toString("base64") } } : {};
        fs.writeFileSync(path.join(dockerConfig, "config.json"), JSON.stringify({ auths }), { mode: 0o600 });
        const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: dockerConfig, TUF_ROOT: path.join(dir, "tuf"), HOME: dir };
        return await fn(dir, env);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn(cosignBinary(env), args, { env, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", (chunk: Buffer) => { output += chunk.toString(); });
        child.stderr.on("data", (chunk: Buffer) => { output += chunk.toString(); });
        child.on("error", (err) => {
            clearTimeout(timer);
            reject(new CosignError(args[0], `${err.message} (install cosign, or set STS_CANARY_COSIGN to its path)`, "could not start"));
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            if (code === 0) resolve(output);
            else reject(new CosignError(args[0], output, signal ? `was killed (${signal}) after ${timeoutMs / 1000}s` : `exited with ${code}`));
        });
    });
}

/** Signs `ref` (pinned by digest) with the encrypted private key; the signature is pushed next to the image. */
export async function sign(ref: string, key: { privateKey: string; password: string }, login: RegistryLogin | undefined): Promise<void> {
    await inPrivateDir(login, (_dir, env) =>
        run(["sign", "--yes", "--key", "env://COSIGN_PRIVATE_KEY", "--tlog-upload=false", ref],
            { ...env, COSIGN_PRIVATE_KEY: key.privateKey, COSIGN_PASSWORD: key.password }));
}

/** Which of `publicKeys` signed `ref` (its index), or why none did (one reason per key). */
export type Verification = { ok: true; key: number } | { ok: false; reasons: string[] };

export async function verify(ref: string, publicKeys: string[], login: RegistryLogin | undefined): Promise<Verification> {
    return inPrivateDir(login, async (dir, env) => {
        const reasons: string[] = [];
        for (const [i, key] of publicKeys.entries()) {
            const file = path.join(dir, `key-${i}.pub`);
            fs.writeFileSync(file, key, { mode: 0o600 });
            try {
                await run(["verify", "--key", file, "--insecure-ignore-tlog=true", "--output", "json", ref], env);
                return { ok: true as const, key: i };
            } catch (err) {
                if (!(err instanceof CosignError) || /could not start/.test(err.message)) throw err;
                reasons.push(`key ${i + 1}: ${signatureProblem(err.output)}`);
            }
        }
        return { ok: false as const, reasons };
    });
}

/** cosign's verify output, in words: no signature at all, or none by this key. */
export function signatureProblem(output: string): string {
    if (/no signatures found|no matching signatures:?\s*$/im.test(output) && !/invalid signature|failed to verify/i.test(output)) {
        return /no signatures found/i.test(output) ? "the image has no signature" : "no signature by this key";
    }
    if (/invalid signature when validating|failed to verify signature|crypto\/(rsa|ecdsa)/i.test(output)) return "signed, but not by this key";
    if (/UNAUTHORIZED|DENIED|401|403/.test(output)) return `the registry refused to show the signatures: ${lastLine(output)}`;
    return lastLine(output);
}

function lastLine(output: string): string {
    return output.trim().split("\n").filter((l) => l.trim() && !/^WARNING/.test(l)).pop() ?? "(no output)";
}

/** Public keys in a text of one or more PEM blocks. */
export function publicKeyBlocks(text: string): string[] {
    return text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g)?.map((k) => `${k}\n`) ?? [];
}
