// The sts-canary policy pack: run with `pulumi preview --policy-pack policy` (tests, PR workflow).
import { PolicyPack, ResourceValidationPolicy } from "@pulumi/policy";
import { stackRuleContext } from "./context";
import {
    RuleContext, imagesFromConfiguredRegistry, imagesPinnedByDigest, noMutableTagsInProd, partitionWithinBounds,
    prodPullsWithCredentials, prodReplicasAtLeastTwo, pullSecretNotPushAccount, resourceLimitsSet,
} from "./rules";

const STATEFUL_SET = "kubernetes:apps/v1:StatefulSet";
const SECRET = "kubernetes:core/v1:Secret";

function resourcePolicy(name: string, description: string,
    rule: (props: any, ctx: RuleContext) => string[], type = STATEFUL_SET): ResourceValidationPolicy {
    return {
        name,
        description,
        enforcementLevel: "mandatory",
        configSchema: {
            properties: {
                registry: { type: "string", description: "Registry host[:port] images must come from (default: the stack's <project>:registryServer)" },
                prodStackPattern: { type: "string", description: "Regular expression of prod stack names" },
                pushAccounts: { type: "array", items: { type: "string" }, description: "Accounts that push images (default: the stack's <project>:registryUsername)" },
            },
        },
        validateResource: (args, reportViolation) => {
            if (args.type !== type) return;
            for (const violation of rule(args.props, stackRuleContext(args.getConfig<Record<string, unknown>>()))) reportViolation(violation);
        },
    };
}

new PolicyPack("sts-canary-guardrails", {
    policies: [
        resourcePolicy("partition-within-bounds", "StatefulSet partition is within 0..replicas", (props) => partitionWithinBounds(props)),
        resourcePolicy("no-mutable-tags-in-prod", "Prod stacks never run latest or other mutable tags", noMutableTagsInProd),
        resourcePolicy("images-pinned-by-digest", "Containers run images pinned by digest", (props) => imagesPinnedByDigest(props)),
        resourcePolicy("images-from-configured-registry", "Images come from the stack's configured Harbor registry", imagesFromConfiguredRegistry),
        resourcePolicy("resource-limits-set", "Every container has CPU and memory limits", (props) => resourceLimitsSet(props)),
        resourcePolicy("prod-replicas-at-least-2", "Prod StatefulSets run at least 2 replicas", prodReplicasAtLeastTwo),
        resourcePolicy("prod-pulls-with-credentials", "Prod pods pull from the private registry with pull credentials", prodPullsWithCredentials),
        resourcePolicy("pull-secret-not-push-account", "Image pull Secrets never hold a pushing account", pullSecretNotPushAccount, SECRET),
    ],
});
