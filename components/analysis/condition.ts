/**
 * Success and failure conditions: `result <op> <number>`, joined by `&&` or by `||` (not both),
 * e.g. `result >= 0.99` or `result > 0 && result < 0.5`. Argo Rollouts evaluates a full
 * expression language; this subset covers its documented metric examples and can be checked for
 * contradictions before anything runs.
 */

const OPS = ["<=", ">=", "==", "!=", "<", ">"] as const;
type Op = (typeof OPS)[number];

interface Comparison { op: Op; value: number }
export interface Condition { text: string; join: "&&" | "||"; terms: Comparison[] }

const TERM_RE = /^\s*result\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

/** The parsed condition, or why it is not one. */
export function parseCondition(text: string): Condition | string {
    if (typeof text !== "string" || text.trim() === "") return "empty; write e.g. `result >= 0.99`";
    const hasAnd = text.includes("&&");
    const hasOr = text.includes("||");
    if (hasAnd && hasOr) return `"${text}" mixes && and ||; use one of them`;
    const join = hasOr ? "||" : "&&";
    const terms: Comparison[] = [];
    for (const part of text.split(join)) {
        const m = TERM_RE.exec(part);
        if (!m) return `"${part.trim()}" is not \`result <op> <number>\` with <op> one of ${OPS.join(" ")}`;
        terms.push({ op: m[1] as Op, value: Number(m[2]) });
    }
    return { text, join, terms };
}

function compare(result: number, { op, value }: Comparison): boolean {
    switch (op) {
        case "<=": return result <= value;
        case ">=": return result >= value;
        case "==": return result === value;
        case "!=": return result !== value;
        case "<": return result < value;
        case ">": return result > value;
    }
}

export function holds(condition: Condition, result: number): boolean {
    return condition.join === "&&" ? condition.terms.every((t) => compare(result, t)) : condition.terms.some((t) => compare(result, t));
}

/**
 * A value both conditions hold for, if any: then a measurement would be both Successful and
 * Failed. Checked on every constant, just beside it, and far out (conditions are unions of intervals).
 */
export function contradiction(success: Condition, failure: Condition): number | undefined {
    const constants = [...success.terms, ...failure.terms].map((t) => t.value);
    const candidates = [-1e300, 1e300, ...constants.flatMap((c) => [c, c - 1e-9 * Math.max(1, Math.abs(c)), c + 1e-9 * Math.max(1, Math.abs(c))])];
    const sorted = [...new Set(constants)].sort((a, b) => a - b);
    for (let i = 0; i + 1 < sorted.length; i++) candidates.push((sorted[i] + sorted[i + 1]) / 2);
    return candidates.find((v) => holds(success, v) && holds(failure, v));
}
