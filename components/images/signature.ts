/**
 * Signed images (cosign, key pair from stack secrets): ImageSignature signs what this stack pushes;
 * SignatureCheck refuses a template image that none of the stack's public keys signed, at preview
 * and before the StatefulSet changes (the workload depends on it). signature-provider.ts does the work.
 */
import * as pulumi from "@pulumi/pulumi";
import { Inputs, ModuleProviderResource } from "../dynamic";
import type { SignatureInputs } from "./signature-provider";

const MODULE = "images/signature-provider";

/** The signature of one pushed image (cosign, stored next to it in the registry). */
export class ImageSignature extends ModuleProviderResource {
    declare public readonly ref: pulumi.Output<string>;

    constructor(name: string, args: Omit<Inputs<SignatureInputs>, "mode" | "publicKeys" | "verifiedBy">, opts?: pulumi.CustomResourceOptions) {
        super(MODULE, "sts-canary", "ImageSignature", name, { ...args, mode: "sign" }, { ...opts, additionalSecretOutputs: ["privateKey", "password", "login"] });
    }
}

/** The template's image is signed by one of the stack's public keys, or nothing of the step is applied. */
export class SignatureCheck extends ModuleProviderResource {
    declare public readonly ref: pulumi.Output<string>;
    /** Which public key (1-based) signed it. */
    declare public readonly verifiedBy: pulumi.Output<number>;

    constructor(name: string, args: Omit<Inputs<SignatureInputs>, "mode" | "privateKey" | "password" | "verifiedBy">, opts?: pulumi.CustomResourceOptions) {
        super(MODULE, "sts-canary", "SignatureCheck", name, { ...args, mode: "verify", verifiedBy: undefined }, { ...opts, additionalSecretOutputs: ["login"] });
    }
}
