import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { publicKeyBlocks, signatureProblem } from "../../components/images/cosign";
import { SignatureInputs, provider } from "../../components/images/signature-provider";

const REF = `127.0.0.1:5443/library/version-test:v2@sha256:${"a".repeat(64)}`;
const key = (name: string) => `-----BEGIN PUBLIC KEY-----\n${name}\n-----END PUBLIC KEY-----\n`;
const LOGIN = { server: "127.0.0.1:5443", username: "robot$library+puller", password: "t0ken" };

describe("signatures (cosign, through a stand-in binary)", () => {
    const log = path.join(os.tmpdir(), `fake-cosign-${process.pid}.log`);
    const saved = { ...process.env };
    const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "");

    beforeEach(() => {
        fs.rmSync(log, { force: true });
        Object.assign(process.env, { STS_CANARY_COSIGN: path.join(__dirname, "fixtures/fake-cosign.sh"), FAKE_COSIGN_LOG: log, FAKE_COSIGN_GOOD_KEY: "good" });
        delete process.env.FAKE_COSIGN_UNSIGNED;
    });
    after(() => {
        process.env = saved;
        fs.rmSync(log, { force: true });
    });

    const verifyInputs = (publicKeys: string[]): SignatureInputs => ({ mode: "verify", ref: REF, publicKeys, login: LOGIN });

    it("accepts an image signed by one of the keys, naming which", async () => {
        const { inputs, failures } = await provider.check(undefined, verifyInputs([key("other"), key("good")]));
        assert.deepStrictEqual(failures, []);
        assert.strictEqual(inputs.verifiedBy, 2);
        assert.match(calls(), /args: verify --key \S+key-0\.pub --insecure-ignore-tlog=true --output json 127\.0\.0\.1:5443\/library\/version-test:v2@sha256:a{64}/);
    });

    it("refuses an image signed by another key, and an unsigned one, in check (preview and before anything of the step)", async () => {
        const wrong = await provider.check(undefined, verifyInputs([key("other")]));
        assert.strictEqual(wrong.failures.length, 1);
        assert.strictEqual(wrong.failures[0].property, "ref");
        assert.match(wrong.failures[0].reason, /is not signed by the stack's public key \(key 1: signed, but not by this key\): refused before the StatefulSet's template changes/);
        process.env.FAKE_COSIGN_UNSIGNED = "1";
        const unsigned = await provider.check(undefined, verifyInputs([key("good"), key("other")]));
        assert.match(unsigned.failures[0].reason, /is not signed by any of the stack's 2 public keys \(key 1: the image has no signature; key 2: the image has no signature\)/);
    });

    it("does not verify again a ref verified under the same keys, nor a ref not known yet (a preview of a build)", async () => {
        const olds = { ...verifyInputs([key("good")]), verifiedBy: 1 };
        process.env.FAKE_COSIGN_UNSIGNED = "1";
        assert.deepStrictEqual((await provider.check(olds, verifyInputs([key("good")]))).failures, []);
        const unknown = { ...verifyInputs([key("good")]), ref: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" };
        assert.deepStrictEqual((await provider.check(undefined, unknown)).failures, []);
        assert.strictEqual(calls(), "");
        // The same ref under other keys is judged again.
        assert.strictEqual((await provider.check(olds, verifyInputs([key("other")]))).failures.length, 1);
    });

    it("verifies at create when check could not (the ref was unknown), and fails naming the ref", async () => {
        await assert.rejects(provider.create({ ...verifyInputs([key("other")]) }), /^Error: ref: 127\.0\.0\.1:5443\/library\/version-test:v2@sha256:a{64} is not signed/);
        const { outs } = await provider.create(verifyInputs([key("good")]));
        assert.deepStrictEqual(outs, { mode: "verify", ref: REF, verifiedBy: 1 });
    });

    it("signs with the key from the environment and a private registry login, never on the command line", async () => {
        const login = { server: "127.0.0.1:5443", username: "admin", password: "push-pw" };
        await provider.create({ mode: "sign", ref: REF, privateKey: "ENCRYPTED KEY", password: "key-pw", login });
        const text = calls();
        assert.match(text, /^args: sign --yes --key env:\/\/COSIGN_PRIVATE_KEY --tlog-upload=false 127\.0\.0\.1:5443\/library\/version-test:v2@sha256:a{64}$/m);
        assert.match(text, /key: ENCRYPTED KEY password: key-pw config: \{"auths":\{"127\.0\.0\.1:5443":\{"auth":"YWRtaW46cHVzaC1wdw=="\}\}\}/);
        assert.ok(!/args: .*(ENCRYPTED|key-pw|push-pw)/.test(text), "a secret on the command line");
    });

    it("a sign is replaced per ref; a verify is updated when the ref or the key that signed it changes", async () => {
        const olds = { mode: "sign" as const, ref: REF };
        assert.deepStrictEqual(await provider.diff("x", olds, { mode: "sign", ref: REF }), { changes: false, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual((await provider.diff("x", olds, { mode: "sign", ref: REF.replace(/a{64}/, "b".repeat(64)) })).replaces, ["ref"]);
        const verified = { mode: "verify" as const, ref: REF, verifiedBy: 1 };
        assert.strictEqual((await provider.diff("x", verified, { ...verifyInputs([key("good")]), verifiedBy: 2 })).changes, true);
    });

    it("reads cosign's words and PEM blocks", () => {
        assert.strictEqual(signatureProblem("Error: no signatures found\n"), "the image has no signature");
        assert.strictEqual(signatureProblem("Error: no matching signatures: invalid signature when validating ASN.1 encoded signature"), "signed, but not by this key");
        assert.match(signatureProblem("Error: GET https://h/v2/x/manifests/sha256-a.sig: UNAUTHORIZED: authentication required"), /the registry refused to show the signatures/);
        assert.deepStrictEqual(publicKeyBlocks(`junk\n${key("a")}${key("b")}`), [key("a"), key("b")]);
        assert.deepStrictEqual(publicKeyBlocks("nothing"), []);
    });
});
