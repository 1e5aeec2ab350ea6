import * as assert from "assert";
import { isRegistryAddress } from "../../components/checks";
import { imagesOf } from "../../components/validate";
import { ConfigError, RawConfig, parseList, seedArgs } from "../../program/config";
import { projectDefaults } from "./mocks";

/** The seed's arguments for this config on top of Pulumi.yaml's defaults (as the CLI applies them). */
function argsOf(raw: RawConfig) {
    return seedArgs({ ...projectDefaults(), ...raw }, { registryPassword: "pw" }).args;
}

/** The seed's config problems (empty when valid). */
function problemsOf(raw: RawConfig): string[] {
    try {
        argsOf(raw);
        return [];
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
}

describe("the seed program's config -> component arguments", () => {
    it("maps Pulumi.yaml's defaults to the arguments; the component's options keep their own defaults", () => {
        const args = argsOf({});
        assert.deepStrictEqual([args.version, args.partition, args.replicas, args.namespace, args.name], ["v1", 0, 5, "sts", "nginx"]);
        assert.deepStrictEqual(args.images, { v1: { versionPage: { baseImage: "nginx:latest" } }, v2: { versionPage: { baseImage: "nginx:latest" } } });
        assert.deepStrictEqual(args.pinnedImages, []);
        assert.deepStrictEqual({ ...args.registry, password: undefined }, { server: "harbor.example.com", repository: "library/version-test", username: "admin", password: undefined });
        assert.strictEqual(args.service?.ports?.[0] && (args.service.ports[0] as { nodePort: number }).nodePort, 30080);
        assert.deepStrictEqual(args.configKeys, { version: "imageTag", partition: "partition", replicas: "replicas", pinnedImages: "pinnedImages" });
    });

    it("parses numbers and lists from their config strings", () => {
        const args = argsOf({
            imageTag: "v3", partition: "2", replicas: "7", nodePort: "31000", versions: '["v1","v2","v3"]',
            registryServer: "127.0.0.1:5443", imageBuilder: "docker-cli", stableTag: "v1", readyTimeoutSeconds: "45", replaceStuckPods: "false",
        });
        assert.deepStrictEqual([args.partition, args.replicas, args.stableVersion, args.imageBuilder], [2, 7, "v1", "docker-cli"]);
        assert.deepStrictEqual(Object.keys(args.images ?? {}), ["v1", "v2", "v3"]);
        assert.deepStrictEqual([args.readyTimeoutSeconds, args.replaceStuckPods], [45, false]);
    });

    it("parses nodeSelector and tolerations into the pod spec", () => {
        const args = argsOf({ nodeSelector: '["type=kwok","pool=web"]', tolerations: '["kwok.x-k8s.io/node=fake:NoSchedule","dedicated:NoExecute"]' });
        assert.deepStrictEqual(args.podSpec.nodeSelector, { type: "kwok", pool: "web" });
        assert.deepStrictEqual(args.podSpec.tolerations, [
            { key: "kwok.x-k8s.io/node", operator: "Equal", value: "fake", effect: "NoSchedule" },
            { key: "dedicated", operator: "Exists", effect: "NoExecute" },
        ]);
    });

    it("passes pinned images to the component, which adds them to the images (never built)", () => {
        const ref = `127.0.0.1:5443/library/version-test:v3@sha256:${"c".repeat(64)}`;
        const args = argsOf({ pinnedImages: JSON.stringify([`v3=${ref}`]), imageTag: "v3" });
        assert.deepStrictEqual(args.pinnedImages, [`v3=${ref}`]);
        assert.deepStrictEqual(imagesOf(args).v3, { ref });
        assert.deepStrictEqual(Object.keys(args.images ?? {}), ["v1", "v2"]);
    });

    // Each bad value must be rejected with a message naming the key and what is allowed.
    const rejected: { name: string; raw: RawConfig; message: RegExp }[] = [
        { name: "partition above replicas", raw: { partition: "6" }, message: /^partition: 6 is out of range; allowed 0\.\.5$/ },
        { name: "negative partition", raw: { partition: "-1" }, message: /^partition: -1 is out of range; allowed 0\.\.5$/ },
        { name: "fractional partition", raw: { partition: "1.5" }, message: /^partition: "1\.5" is not an integer$/ },
        { name: "non-numeric partition", raw: { partition: "three" }, message: /^partition: "three" is not an integer$/ },
        { name: "partition above a smaller replica count", raw: { replicas: "2", partition: "3" }, message: /^partition: 3 is out of range; allowed 0\.\.2$/ },
        { name: "zero replicas", raw: { replicas: "0" }, message: /^replicas: 0 is out of range; allowed 1\.\.1000$/ },
        { name: "too many replicas", raw: { replicas: "5000" }, message: /^replicas: 5000 is out of range; allowed 1\.\.1000$/ },
        { name: "latest image tag", raw: { imageTag: "latest" }, message: /^imageTag: "latest" is a mutable tag and is never allowed; allowed: one of v1, v2$/ },
        { name: "image tag not built", raw: { imageTag: "v9" }, message: /^imageTag: "v9" is not a built or pinned version; allowed: one of v1, v2$/ },
        { name: "latest in versions", raw: { versions: "v1,latest", imageTag: "v1" }, message: /^versions: "latest" is a mutable tag/ },
        // The same mutable tags the policy pack refuses in prod (components/tags.ts): they move.
        { name: "stable in versions", raw: { versions: "v1,stable", imageTag: "v1" }, message: /^versions: "stable" is a mutable tag/ },
        { name: "main in versions", raw: { versions: "v1,main", imageTag: "v1" }, message: /^versions: "main" is a mutable tag/ },
        { name: "nightly as image tag", raw: { versions: "v1,v2", imageTag: "nightly" }, message: /^imageTag: "nightly" is a mutable tag and is never allowed; allowed: one of v1, v2$/ },
        { name: "pinned dev", raw: { pinnedImages: `["dev=h/p/r@sha256:${"a".repeat(64)}"]` }, message: /^pinnedImages: .* immutable version tag/ },
        { name: "invalid tag in versions", raw: { versions: "v1,v 2" }, message: /^versions: "v 2" is not a valid image tag/ },
        { name: "duplicate versions", raw: { versions: "v1,v1" }, message: /^versions: \["v1","v1"\] lists a version twice$/ },
        { name: "unparseable versions", raw: { versions: "[v1" }, message: /^versions: "\[v1" is not a non-empty list of tags/ },
        { name: "stable tag not built", raw: { stableTag: "v0" }, message: /^stableTag: "v0" is not a built or pinned version; allowed: one of v1, v2$/ },
        { name: "nodePort below range", raw: { nodePort: "8080" }, message: /^nodePort: 8080 is out of range; allowed 30000\.\.32767$/ },
        { name: "seed's nodePort 36080", raw: { nodePort: "36080" }, message: /^nodePort: 36080 is out of range; allowed 30000\.\.32767$/ },
        { name: "registry with scheme", raw: { registryServer: "https://harbor.example.com" }, message: /^registryServer: "https:\/\/harbor\.example\.com" is not a registry address; allowed: host or host:port/ },
        { name: "registry with path", raw: { registryServer: "harbor.example.com/library" }, message: /^registryServer: .* is not a registry address/ },
        { name: "registry with bad port", raw: { registryServer: "harbor:99999" }, message: /^registryServer: .* is not a registry address/ },
        { name: "registry with space", raw: { registryServer: "har bor" }, message: /^registryServer: .* is not a registry address/ },
        { name: "upper-case project", raw: { registryProject: "Library" }, message: /^registryProject: "Library" is not a valid project name/ },
        { name: "repository with slash", raw: { repository: "a/b" }, message: /^repository: "a\/b" is not a valid repository name/ },
        { name: "namespace with underscore", raw: { namespace: "my_ns" }, message: /^namespace: "my_ns" is not a valid namespace/ },
        { name: "app name too long", raw: { appName: "a".repeat(51) }, message: /^appName: "a+" is not a valid name/ },
        { name: "unknown image builder", raw: { imageBuilder: "kaniko" }, message: /^imageBuilder: "kaniko" is not allowed; allowed: pulumi-docker, docker-cli$/ },
        { name: "pinned image without digest", raw: { pinnedImages: '["v3=h/p/r:v3"]' }, message: /^pinnedImages: "v3=h\/p\/r:v3": the reference must be pinned by digest/ },
        { name: "pinned entry without version", raw: { pinnedImages: `["h/p/r@sha256:${"a".repeat(64)}"]` }, message: /^pinnedImages: .* is not version=reference/ },
        { name: "pinned latest", raw: { pinnedImages: `["latest=h/p/r@sha256:${"a".repeat(64)}"]` }, message: /^pinnedImages: .* immutable version tag/ },
        { name: "version pinned twice", raw: { pinnedImages: `["v3=h/p/r:v3@sha256:${"a".repeat(64)}","v3=h/p/r:v3@sha256:${"b".repeat(64)}"]` }, message: /^pinnedImages: version "v3" is pinned twice/ },
        { name: "nodeSelector without value", raw: { nodeSelector: '["pool"]' }, message: /^nodeSelector: "pool" is not a key=value label selector$/ },
        { name: "toleration with a bad effect", raw: { tolerations: '["k=v:Sometimes"]' }, message: /^tolerations: "k=v:Sometimes" is not key=value:Effect or key:Effect/ },
        { name: "rollout timeout too short", raw: { rolloutTimeoutSeconds: "5" }, message: /^rolloutTimeoutSeconds: 5 is out of range; allowed 30\.\.7200$/ },
        { name: "analysis that is not JSON", raw: { analysis: "{prometheus: x}" }, message: /^analysis: not a JSON object/ },
        {
            name: "analysis with PromQL that does not parse, under the key and its path",
            raw: { bakeSeconds: "60", analysis: JSON.stringify({ prometheus: "http://p:9090", metrics: [{ name: "s", query: "sum(rate(x[1m])", successCondition: "result > 0" }] }) },
            message: /^analysis: metrics\[0\]\.query: is not valid PromQL/,
        },
        {
            name: "analysis longer than the bake",
            raw: { bakeSeconds: "5", analysis: JSON.stringify({ prometheus: "http://p:9090", metrics: [{ name: "s", template: "success-rate" }] }) },
            message: /^bakeSeconds: the analysis measures during the bake: 5s is shorter than the initial delay and one interval \(0s \+ 10s\)/,
        },
    ];
    for (const { name, raw, message } of rejected) {
        it(`rejects ${name}`, () => {
            const problems = problemsOf(raw);
            assert.strictEqual(problems.length, 1, `expected one problem, got ${JSON.stringify(problems)}`);
            assert.match(problems[0], message);
        });
    }

    it("reports every problem at once", () => {
        const problems = problemsOf({ partition: "9", nodePort: "1", imageTag: "latest" });
        assert.deepStrictEqual(problems.map((p) => p.split(":")[0]).sort(), ["imageTag", "nodePort", "partition"]);
    });

    const accepted: { name: string; raw: RawConfig }[] = [
        { name: "partition equal to replicas (staged template)", raw: { partition: "5" } },
        { name: "partition 0 with one replica", raw: { replicas: "1", partition: "0" } },
        { name: "registry host:port", raw: { registryServer: "127.0.0.1:5443" } },
        { name: "registry IPv6 literal", raw: { registryServer: "[::1]:5443" } },
        { name: "registry hostname", raw: { registryServer: "harbor.internal.example.com" } },
        { name: "nodePort at both ends", raw: { nodePort: "30000" } },
        { name: "versions as a comma list", raw: { versions: "v1, v2, v3", imageTag: "v3" } },
        { name: "a version both built and pinned (the pin wins)", raw: { imageTag: "v2", pinnedImages: `["v2=h/p/r:v2@sha256:${"a".repeat(64)}"]` } },
        { name: "an analysis from a template", raw: { bakeSeconds: "30", analysis: JSON.stringify({ prometheus: "http://p:9090", metrics: [{ name: "s", template: "success-rate" }] }) } },
        { name: "an empty analysis (none)", raw: { analysis: "" } },
        { name: "a pinned version as imageTag", raw: { imageTag: "v3", pinnedImages: `["v3=127.0.0.1:5443/library/version-test:v3@sha256:${"b".repeat(64)}"]` } },
    ];
    for (const { name, raw } of accepted) {
        it(`accepts ${name}`, () => assert.deepStrictEqual(problemsOf(raw), []));
    }
});

describe("parseList", () => {
    const cases: [string, string[] | undefined][] = [
        ['["v1","v2"]', ["v1", "v2"]],
        ["v1,v2", ["v1", "v2"]],
        [" v1 , v2 ,", ["v1", "v2"]],
        ["[1,2]", undefined],
        ["[", undefined],
    ];
    for (const [input, expected] of cases) {
        it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => assert.deepStrictEqual(parseList(input), expected));
    }
});

describe("isRegistryAddress", () => {
    const cases: [string, boolean][] = [
        ["harbor.example.com", true], ["harbor.example.com:443", true], ["127.0.0.1:5443", true], ["localhost:5000", true],
        ["[::1]:5443", true], ["https://harbor", false], ["harbor/library", false], ["harbor:0", false],
        ["999.1.1.1", false], ["", false], ["-bad.example.com", false],
    ];
    for (const [address, expected] of cases) {
        it(`${JSON.stringify(address)} -> ${expected}`, () => assert.strictEqual(isRegistryAddress(address), expected));
    }
});
