import * as assert from "assert";
import {
    DEFAULT_PROD_STACK_PATTERN, RuleContext, imagesFromConfiguredRegistry, imagesPinnedByDigest, noMutableTagsInProd,
    partitionWithinBounds, prodPullsWithCredentials, prodReplicasAtLeastTwo, pullSecretNotPushAccount, resourceLimitsSet,
} from "../../policy/rules";
import { parseReference as parseImage } from "../../components/images/reference";

const DIGEST = "sha256:" + "e".repeat(64);
const GOOD_IMAGE = `127.0.0.1:5443/library/version-test:v2@${DIGEST}`;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function sts(overrides: { replicas?: unknown; partition?: unknown; image?: unknown; limits?: Record<string, unknown> } = {}) {
    return {
        spec: {
            replicas: "replicas" in overrides ? overrides.replicas : 5,
            updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: "partition" in overrides ? overrides.partition : 3 } },
            template: { spec: { containers: [{ name: "nginx", image: "image" in overrides ? overrides.image : GOOD_IMAGE, resources: { limits: overrides.limits ?? { cpu: "200m", memory: "64Mi" } } }] } },
        },
    };
}
const ctx = (stack: string, registry = "127.0.0.1:5443"): RuleContext => ({ stack, registry, prodStackPattern: DEFAULT_PROD_STACK_PATTERN, pushAccounts: ["admin"] });

/** An image pull Secret as the engine sees the component's (annotation) or another program's (data only). */
function pullSecret(user: string, how: "annotation" | "stringData" | "data" | "auth") {
    const config = JSON.stringify({ auths: { "127.0.0.1:5443": how === "auth" ? { auth: Buffer.from(`${user}:pw`).toString("base64") } : { username: user, password: "pw" } } });
    return {
        type: "kubernetes.io/dockerconfigjson",
        metadata: { name: "web-pull", annotations: how === "annotation" ? { "sts-canary.dev/pull-user": user } : {} },
        ...(how === "annotation" ? { stringData: { ".dockerconfigjson": UNKNOWN } } : how === "stringData" ? { stringData: { ".dockerconfigjson": config } }
            : { data: { ".dockerconfigjson": Buffer.from(config).toString("base64") } }),
    };
}
const withPullSecrets = (secrets: unknown) => {
    const s = sts();
    (s.spec.template.spec as Record<string, unknown>).imagePullSecrets = secrets;
    return s;
};

describe("policy rules", () => {
    const images: [string, ReturnType<typeof parseImage>][] = [
        ["nginx", { registry: "docker.io", repository: "nginx", tag: undefined, digest: undefined }],
        ["nginx:latest", { registry: "docker.io", repository: "nginx", tag: "latest", digest: undefined }],
        [GOOD_IMAGE, { registry: "127.0.0.1:5443", repository: "library/version-test", tag: "v2", digest: DIGEST }],
        [`harbor.example.com/library/x@${DIGEST}`, { registry: "harbor.example.com", repository: "library/x", tag: undefined, digest: DIGEST }],
        ["localhost/x:1", { registry: "localhost", repository: "x", tag: "1", digest: undefined }],
    ];
    for (const [image, parts] of images) it(`parses ${image.slice(0, 50)}`, () => assert.deepStrictEqual(parseImage(image), parts));

    // [rule name, rule, props, context, expected violation pattern or null for a pass]
    const cases: [string, (p: any, c: RuleContext) => string[], any, RuleContext, RegExp | null][] = [
        ["partition-within-bounds passes", (p) => partitionWithinBounds(p), sts(), ctx("dev"), null],
        ["partition-within-bounds fails above replicas", (p) => partitionWithinBounds(p), sts({ partition: 7 }), ctx("dev"), /partition 7 is outside 0\.\.5/],
        ["partition-within-bounds fails below 0", (p) => partitionWithinBounds(p), sts({ partition: -1 }), ctx("dev"), /partition -1 is outside/],
        ["partition-within-bounds skips unknowns", (p) => partitionWithinBounds(p), sts({ partition: UNKNOWN }), ctx("dev"), null],
        ["no-mutable-tags-in-prod passes a version tag", noMutableTagsInProd, sts(), ctx("prod"), null],
        ["no-mutable-tags-in-prod fails latest in prod", noMutableTagsInProd, sts({ image: "nginx:latest" }), ctx("prod"), /mutable tag "latest" in prod stack prod/],
        ["no-mutable-tags-in-prod fails no tag in prod", noMutableTagsInProd, sts({ image: "nginx" }), ctx("e2e-prod"), /has no tag \(means latest\)/],
        ["no-mutable-tags-in-prod ignores dev", noMutableTagsInProd, sts({ image: "nginx:latest" }), ctx("dev"), null],
        ["images-pinned-by-digest passes", (p) => imagesPinnedByDigest(p), sts(), ctx("dev"), null],
        ["images-pinned-by-digest fails a tag", (p) => imagesPinnedByDigest(p), sts({ image: "127.0.0.1:5443/library/version-test:v2" }), ctx("dev"), /not pinned by digest/],
        ["images-pinned-by-digest skips unknowns", (p) => imagesPinnedByDigest(p), sts({ image: UNKNOWN }), ctx("dev"), null],
        ["images-from-configured-registry passes", imagesFromConfiguredRegistry, sts(), ctx("dev"), null],
        ["images-from-configured-registry fails Docker Hub", imagesFromConfiguredRegistry, sts({ image: `nginx@${DIGEST}` }), ctx("dev"), /is not from the configured registry 127\.0\.0\.1:5443/],
        ["images-from-configured-registry fails another host", imagesFromConfiguredRegistry, sts({ image: `evil.example.com/x:v1@${DIGEST}` }), ctx("dev"), /not from the configured registry/],
        ["resource-limits-set passes", (p) => resourceLimitsSet(p), sts(), ctx("dev"), null],
        ["resource-limits-set fails without memory", (p) => resourceLimitsSet(p), sts({ limits: { cpu: "1" } }), ctx("dev"), /no memory limit/],
        ["resource-limits-set fails without limits", (p) => resourceLimitsSet(p), sts({ limits: {} }), ctx("dev"), /no cpu and memory limit/],
        ["prod-replicas-at-least-2 passes", prodReplicasAtLeastTwo, sts(), ctx("prod"), null],
        ["prod-replicas-at-least-2 fails 1 replica in prod", prodReplicasAtLeastTwo, sts({ replicas: 1, partition: 0 }), ctx("prod"), /replicas 1 < 2 in prod stack prod/],
        ["pull-secret-not-push-account passes a robot", pullSecretNotPushAccount, pullSecret("robot$library+puller", "annotation"), ctx("dev"), null],
        ["pull-secret-not-push-account fails the pushing account (annotation)", pullSecretNotPushAccount, pullSecret("admin", "annotation"), ctx("dev"),
            /image pull Secret web-pull holds the pushing account "admin"/],
        ["pull-secret-not-push-account fails it in stringData", pullSecretNotPushAccount, pullSecret("admin", "stringData"), ctx("dev"), /holds the pushing account "admin"/],
        ["pull-secret-not-push-account fails it in data", pullSecretNotPushAccount, pullSecret("admin", "data"), ctx("dev"), /holds the pushing account "admin"/],
        ["pull-secret-not-push-account fails it in an auth entry", pullSecretNotPushAccount, pullSecret("admin", "auth"), ctx("dev"), /holds the pushing account "admin"/],
        ["pull-secret-not-push-account ignores other Secrets", pullSecretNotPushAccount, { type: "Opaque", stringData: { user: "admin" } }, ctx("dev"), null],
        ["prod-pulls-with-credentials passes with a pull Secret", prodPullsWithCredentials, withPullSecrets([{ name: "web-pull" }]), ctx("prod"), null],
        ["prod-pulls-with-credentials fails without one in prod", prodPullsWithCredentials, withPullSecrets([]), ctx("prod"),
            /pods pull from 127\.0\.0\.1:5443 without image pull credentials in prod stack prod/],
        ["prod-pulls-with-credentials fails without the field in prod", prodPullsWithCredentials, withPullSecrets(undefined), ctx("prod"),
            /pods pull from 127\.0\.0\.1:5443 without image pull credentials/],
        ["prod-pulls-with-credentials ignores dev", prodPullsWithCredentials, withPullSecrets([]), ctx("dev"), null],
        ["prod-pulls-with-credentials skips unknowns", prodPullsWithCredentials, withPullSecrets(UNKNOWN), ctx("prod"), null],
        ["prod-replicas-at-least-2 ignores dev", prodReplicasAtLeastTwo, sts({ replicas: 1, partition: 0 }), ctx("dev"), null],
    ];
    for (const [name, rule, props, context, expected] of cases) {
        it(name, () => {
            const violations = rule(props, context);
            if (expected === null) assert.deepStrictEqual(violations, []);
            else {
                assert.strictEqual(violations.length, 1, JSON.stringify(violations));
                assert.match(violations[0], expected);
            }
        });
    }

    const prodNames: [string, boolean][] = [["prod", true], ["production", true], ["e2e-prod", true], ["dev", false], ["prod-like", false], ["preprod", false]];
    for (const [stack, prod] of prodNames) it(`stack ${stack} is ${prod ? "" : "not "}prod`, () => assert.strictEqual(DEFAULT_PROD_STACK_PATTERN.test(stack), prod));
});
