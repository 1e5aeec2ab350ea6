/**
 * What the rules need to know of the stack being checked: its name, the registry its images must
 * come from (the pack's `registry` config, else the stack's own `<project>:registryServer`), which
 * stacks are prod, and the pushing accounts (the pack's `pushAccounts`, else `<project>:registryUsername`).
 */
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_PROD_STACK_PATTERN, RuleContext } from "./rules";

export function stackRuleContext(policyConfig: Record<string, unknown>): RuleContext {
    // The project of the stack being checked (the engine tells the pack: PULUMI_NODEJS_PROJECT),
    // not a fixed name: the YAML example's project is sts-canary-yaml, a team's is its own.
    const stackConfig = new pulumi.Config();
    return {
        stack: pulumi.getStack(),
        registry: (policyConfig.registry as string | undefined) || stackConfig.get("registryServer"),
        prodStackPattern: policyConfig.prodStackPattern ? new RegExp(String(policyConfig.prodStackPattern)) : DEFAULT_PROD_STACK_PATTERN,
        pushAccounts: Array.isArray(policyConfig.pushAccounts) ? policyConfig.pushAccounts.map(String)
            : [stackConfig.get("registryUsername")].filter((u): u is string => !!u),
    };
}
