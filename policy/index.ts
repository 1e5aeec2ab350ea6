// The sts-canary policy pack: run with `pulumi preview --policy-pack policy` (tests, PR workflow).
import { PolicyPack, ResourceValidationPolicy } from "@pulumi/policy";
import { stackRuleContext } from "./context";
import {
    RuleContext, imagesFromConfiguredRegistry, imagesPinnedByDigest, noMutableTagsInProd,
    partitionWithinBounds, prodReplicasAtLeastTwo, resourceLimitsSet,
} from "./rules";

const STATEFUL_SET = "kubernetes:apps/v1:StatefulSet";

function statefulSetPolicy(name: string, description: string,
    rule: (props: any, ctx: RuleContext) => string[]): ResourceValidationPolicy {
    return {
        name,
        description,
        enforcementLevel: "mandatory",
        configSchema: {
            properties: {
                registry: { type: "string", description: "Registry host[:port] images must come from (default: the stack's <project>:registryServer)" },
                prodStackPattern: { type: "string", description: "Regular expression of prod stack names" },
            },
        },
        validateResource: (args, reportViolation) => {
            if (args.type !== STATEFUL_SET) return;
            for (const violation of rule(args.props, stackRuleContext(args.getConfig<Record<string, unknown>>()))) reportViolation(violation);
        },
    };
}

new PolicyPack("sts-canary-guardrails", {
    policies: [
        statefulSetPolicy("partition-within-bounds", "StatefulSet partition is within 0..replicas", (props) => partitionWithinBounds(props)),
        statefulSetPolicy("no-mutable-tags-in-prod", "Prod stacks never run latest or other mutable tags", noMutableTagsInProd),
        statefulSetPolicy("images-pinned-by-digest", "Containers run images pinned by digest", (props) => imagesPinnedByDigest(props)),
        statefulSetPolicy("images-from-configured-registry", "Images come from the stack's configured Harbor registry", imagesFromConfiguredRegistry),
        statefulSetPolicy("resource-limits-set", "Every container has CPU and memory limits", (props) => resourceLimitsSet(props)),
        statefulSetPolicy("prod-replicas-at-least-2", "Prod StatefulSets run at least 2 replicas", prodReplicasAtLeastTwo),
    ],
});
