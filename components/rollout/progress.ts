/**
 * Progress of the rollout check while `pulumi up` waits, shown by the engine next to the
 * RolloutCheck resource (ephemeral status, like the Kubernetes provider's "Waiting for ..."), and
 * kept as info diagnostics for what matters afterwards (replaced pods). The dynamic-provider host
 * is started with the engine's address as its first argument; without one (tests), or if the
 * engine cannot be reached, lines go to stderr.
 */
import * as net from "net";
import * as path from "path";

type Severity = "info" | "status";

export interface Progress {
    (line: string, severity?: Severity): void;
    /** Waits until every line was delivered. */
    flush(): Promise<void>;
}

export function engineProgress(urn: string | undefined, engineAddress: string | undefined = process.argv[2]): Progress {
    let client: { log(req: unknown, cb: (err: unknown) => void): void } | undefined;
    let proto: { LogRequest: new () => any; LogSeverity: { INFO: number } } | undefined;
    if (engineAddress && /^[\w.-]+:\d+$/.test(engineAddress) && urn) {
        try {
            /* eslint-disable @typescript-eslint/no-require-imports -- the SDK's generated engine client */
            const rpc = require("@pulumi/pulumi/proto/engine_grpc_pb.js");
            proto = require("@pulumi/pulumi/proto/engine_pb.js");
            // The gRPC copy the SDK's generated client was built with (credentials are checked by identity).
            const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
            const grpc = require(require.resolve("@grpc/grpc-js", { paths: [sdk] }));
            /* eslint-enable @typescript-eslint/no-require-imports */
            client = new rpc.EngineClient(engineAddress, grpc.credentials.createInsecure());
        } catch {
            client = undefined;
        }
    }
    let chain: Promise<void> = Promise.resolve();
    const progress = ((line: string, severity: Severity = "status") => {
        if (!client || !proto) {
            process.stderr.write(`sts-canary rollout check: ${line}\n`);
            return;
        }
        const req = new proto.LogRequest();
        req.setSeverity(proto.LogSeverity.INFO);
        req.setMessage(line);
        req.setUrn(urn ?? "");
        req.setEphemeral(severity === "status");
        const c = client;
        chain = chain.then(() => new Promise<void>((resolve) => c.log(req, (err) => {
            if (err) process.stderr.write(`sts-canary rollout check: ${line}\n`);
            resolve();
        })));
    }) as Progress;
    progress.flush = () => chain;
    return progress;
}

/**
 * Ends this provider process when the engine that started it is gone (its CLI was killed): a
 * dynamic-provider process is not stopped by anyone then, and would otherwise keep watching the
 * cluster, and write into the engine's closed pipes, until its rollout timeout and beyond.
 * Checks the engine's address every few seconds (timers do not keep the process alive).
 */
let watchingEngine = false;

export function exitWithEngine(engineAddress: string | undefined = process.argv[2], intervalMs = 3000,
    quit: () => void = () => process.exit(1)): NodeJS.Timeout | undefined {
    const match = /^([\w.-]+):(\d+)$/.exec(engineAddress ?? "");
    if (!match || watchingEngine) return undefined;
    watchingEngine = true;
    // Writing to the engine's closed pipes fails with EPIPE: nobody is listening any more.
    for (const stream of [process.stdout, process.stderr]) stream.on("error", (err: NodeJS.ErrnoException) => { if (err.code === "EPIPE") quit(); });
    let failures = 0;
    const timer = setInterval(() => {
        const socket = net.connect(Number(match[2]), match[1]);
        socket.setTimeout(2000);
        socket.once("connect", () => { failures = 0; socket.destroy(); });
        socket.once("error", () => { if (++failures >= 2) quit(); });
        socket.once("timeout", () => socket.destroy());
    }, intervalMs);
    timer.unref();
    return timer;
}
