/**
 * The two places the package relies on @pulumi/pulumi internals, each tested against the SDK that
 * is installed, so that an SDK upgrade that moves them fails here and not in a user's `up`:
 *   - rollout/progress.ts: the SDK's generated engine gRPC client (Engine.Log with ephemeral
 *     status), and the @grpc/grpc-js copy it was built with;
 *   - lazy-sdk.js: that the SDK still loads the TypeScript compiler and npm's arborist eagerly
 *     (else the preload is dead weight), and that deferring them keeps the SDK working.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import { engineProgress } from "../../components/rollout/progress";

const ROOT = path.resolve(__dirname, "../..");
const SDK = path.dirname(require.resolve("@pulumi/pulumi/package.json"));

describe("SDK internals the rollout check's progress uses", () => {
    it("delivers lines to an Engine gRPC server as the engine receives them (ephemeral status, kept info)", async () => {
        /* eslint-disable @typescript-eslint/no-require-imports -- the very modules progress.ts loads */
        const grpc = require(require.resolve("@grpc/grpc-js", { paths: [SDK] }));
        const services = require("@pulumi/pulumi/proto/engine_grpc_pb.js");
        const messages = require("@pulumi/pulumi/proto/engine_pb.js");
        const { Empty } = require(require.resolve("google-protobuf/google/protobuf/empty_pb", { paths: [SDK] }));
        /* eslint-enable @typescript-eslint/no-require-imports */
        const received: { message: string; urn: string; ephemeral: boolean; severity: number }[] = [];
        const server = new grpc.Server();
        server.addService(services.EngineService, {
            log: (call: { request: any }, callback: (err: unknown, reply: unknown) => void) => {
                const r = call.request;
                received.push({ message: r.getMessage(), urn: r.getUrn(), ephemeral: r.getEphemeral(), severity: r.getSeverity() });
                callback(null, new Empty());
            },
        });
        const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(),
            (err: Error | null, bound: number) => (err ? reject(err) : resolve(bound))));
        try {
            const progress = engineProgress("urn:pulumi:s::p::t::check", `127.0.0.1:${port}`);
            progress("waiting: web-4 is not Ready yet");
            progress("replaced stuck pod: web-4", "info");
            await progress.flush();
            assert.deepStrictEqual(received, [
                { message: "waiting: web-4 is not Ready yet", urn: "urn:pulumi:s::p::t::check", ephemeral: true, severity: messages.LogSeverity.INFO },
                { message: "replaced stuck pod: web-4", urn: "urn:pulumi:s::p::t::check", ephemeral: false, severity: messages.LogSeverity.INFO },
            ]);
        } finally {
            server.forceShutdown();
        }
    });
});

describe("SDK internals lazy-sdk.js defers", () => {
    const loaded = (preload: boolean) => JSON.parse(execFileSync(process.execPath, [
        ...(preload ? ["--require", path.join(ROOT, "components", "lazy-sdk.js")] : []),
        "-e", `require("@pulumi/pulumi"); const keys = Object.keys(require.cache);
               console.log(JSON.stringify({ typescript: keys.some((k) => /node_modules\\/typescript\\//.test(k)),
                                            arborist: keys.some((k) => /@npmcli\\/arborist\\//.test(k)) }));`,
    ], { cwd: ROOT, encoding: "utf8" }));

    it("the SDK still loads the TypeScript compiler and arborist eagerly (else the preload is not needed)", () => {
        assert.deepStrictEqual(loaded(false), { typescript: true, arborist: true });
    });

    it("with the preload, neither loads unless used", () => {
        assert.deepStrictEqual(loaded(true), { typescript: false, arborist: false });
    });
});
