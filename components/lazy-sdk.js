// Preload (`node --require sts-canary/lazy-sdk`) that defers two modules @pulumi/pulumi loads
// eagerly but a program or dynamic-provider run never uses: the TypeScript compiler (closure
// serialization, which this package does not use) and npm's arborist (dependency analysis of the
// same). Loading them costs ~0.3 s of every process; here they load on first use instead.
"use strict";
const Module = require("module");

const DEFERRED = new Set(["typescript", "@npmcli/arborist"]);
const load = Module._load;

Module._load = function (request, parent, isMain) {
    if (!DEFERRED.has(request)) return load.apply(this, arguments);
    let real;
    const get = () => (real === undefined ? (real = load.call(this, request, parent, isMain)) : real);
    return new Proxy({}, {
        // `__importStar` asks for __esModule when it imports: answer without loading.
        get: (_, key) => (key === "__esModule" && real === undefined ? true : Reflect.get(get(), key)),
        has: (_, key) => Reflect.has(get(), key),
        ownKeys: () => Reflect.ownKeys(get()),
        getOwnPropertyDescriptor: (_, key) => {
            const descriptor = Reflect.getOwnPropertyDescriptor(get(), key);
            if (descriptor) descriptor.configurable = true;
            return descriptor;
        },
    });
};
