/**
 * The dynamic provider of ImageSignature and SignatureCheck (compiled to
 * dist/images/signature-provider.js, loaded by path, see ../dynamic.ts):
 *
 * - `sign`: signs a pushed image (pinned by digest) with the stack's cosign key. Replaced per ref;
 *   deleting keeps the signature (pods may run the image).
 * - `verify`: the image the template is about to run must be signed by one of the stack's public
 *   keys. Judged in `check`, which runs at preview and before anything of the step is sent, so an
 *   unsigned or wrongly signed digest is refused while the StatefulSet is untouched. A ref still
 *   unknown in a preview (built in this update) is judged at `up`, before the template moves.
 */
import { RegistryLogin, sign, verify } from "./cosign";

/** What ImageSignature and SignatureCheck send (signature.ts takes the same fields as Inputs). */
export interface SignatureInputs {
    mode: "sign" | "verify";
    /** `<repo>[:<tag>]@sha256:<digest>` */
    ref: string;
    /** Registry login cosign uses: the pushing account to sign, the pull account to verify. */
    login?: RegistryLogin;
    /** sign: the encrypted private key (cosign.key) and its password. */
    privateKey?: string;
    password?: string;
    /** verify: PEM public keys; one of them must have signed `ref`. */
    publicKeys?: string[];
    /** verify: the key (1-based) that was found to sign `ref` in check. */
    verifiedBy?: number;
}

export interface SignatureOutputs {
    mode: "sign" | "verify";
    ref: string;
    /** verify: which key signed it (1-based); sign: absent. */
    verifiedBy?: number;
}

type CheckFailure = { property: string; reason: string };

/** The engine's placeholder for a value not known yet (a preview of an image built in this update). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const known = (value: unknown) => typeof value === "string" && value !== UNKNOWN && !value.includes(UNKNOWN);

async function verified(inputs: SignatureInputs): Promise<{ verifiedBy?: number; failure?: CheckFailure }> {
    const keys = inputs.publicKeys ?? [];
    const result = await verify(inputs.ref, keys, inputs.login);
    if (result.ok) return { verifiedBy: result.key + 1 };
    return {
        failure: {
            property: "ref",
            reason: `${inputs.ref} is not signed by ${keys.length === 1 ? "the stack's public key" : `any of the stack's ${keys.length} public keys`} `
                + `(${result.reasons.join("; ")}): refused before the StatefulSet's template changes. Sign it with the stack's key `
                + "(cosign sign --key ...), or configure the key that signed it",
        },
    };
}

const outputsOf = (inputs: SignatureInputs, verifiedBy?: number): SignatureOutputs =>
    ({ mode: inputs.mode, ref: inputs.ref, ...(verifiedBy !== undefined ? { verifiedBy } : {}) });

export const provider = {
    async check(olds: SignatureInputs | undefined, news: SignatureInputs): Promise<{ inputs: SignatureInputs; failures: CheckFailure[] }> {
        if (news.mode !== "verify" || !known(news.ref)) return { inputs: news, failures: [] };
        // The same ref under the same keys was verified when it was deployed.
        const same = olds?.ref === news.ref && JSON.stringify(olds?.publicKeys ?? []) === JSON.stringify(news.publicKeys ?? []) && olds?.verifiedBy;
        if (same) return { inputs: { ...news, verifiedBy: olds.verifiedBy }, failures: [] };
        const { verifiedBy, failure } = await verified(news);
        return { inputs: { ...news, ...(verifiedBy ? { verifiedBy } : {}) }, failures: failure ? [failure] : [] };
    },

    async diff(_id: string, olds: SignatureOutputs, news: SignatureInputs): Promise<{ changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }> {
        const changed = olds.ref !== news.ref || olds.mode !== news.mode || (news.mode === "verify" && olds.verifiedBy !== news.verifiedBy);
        return { changes: changed, replaces: changed && news.mode === "sign" ? ["ref"] : [], deleteBeforeReplace: false };
    },

    async create(inputs: SignatureInputs): Promise<{ id: string; outs: SignatureOutputs }> {
        return { id: inputs.ref, outs: await apply(inputs) };
    },

    async update(_id: string, _olds: SignatureOutputs, news: SignatureInputs): Promise<{ outs: SignatureOutputs }> {
        return { outs: await apply(news) };
    },

    async delete(): Promise<void> {
        // A signature stays with its image: pods below the partition may still run it.
    },
};

async function apply(inputs: SignatureInputs): Promise<SignatureOutputs> {
    if (inputs.mode === "sign") {
        await sign(inputs.ref, { privateKey: inputs.privateKey ?? "", password: inputs.password ?? "" }, inputs.login);
        return outputsOf(inputs);
    }
    if (inputs.verifiedBy) return outputsOf(inputs, inputs.verifiedBy);
    const { verifiedBy, failure } = await verified(inputs);
    if (failure) throw new Error(`${failure.property}: ${failure.reason}`);
    return outputsOf(inputs, verifiedBy);
}
