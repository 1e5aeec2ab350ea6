/**
 * Baseline-vs-canary judge, after Kayenta's (Spinnaker's) NetflixACAJudge and MannWhitneyClassifier.
 * Pure: no I/O, no dependencies. What it relies on:
 *
 * - Per metric, samples that are not finite (NaN, ±Infinity) are dropped first (the explanation says how many).
 *   Fewer than `minSamples` left in either group: NoData (not passed).
 * - A two-sided Mann-Whitney U test (normal approximation, tie and continuity correction; matches scipy's
 *   `mannwhitneyu(method="asymptotic", use_continuity=True)`). pValue >= 1 - confidence: Pass, no significant difference.
 * - Significant: the medians decide, and only outside the ±tolerance band (Kayenta's effect-size check).
 *   ratio = 1 + (canaryMedian - baselineMedian) / |baselineMedian|, which is canaryMedian / baselineMedian for the
 *   usual positive baseline, and still says "higher" as > 1 for a negative one. ratio > 1 + tolerance: High,
 *   < 1 - tolerance: Low, else Pass. Baseline median 0: no relative band exists, so equal medians (both 0) are Pass
 *   and any other canary median is High or Low by its sign (ratio left undefined).
 *   Kayenta uses the confidence interval of the Hodges-Lehmann location shift instead; medians are simpler to
 *   explain in a log line.
 * - direction says which change is bad: High fails for increase/either, Low fails for decrease/either.
 * - Score = 100 × passed / all metrics (NoData counts as not passed). Verdict, first match: a critical metric not
 *   passed → fail; at least half the metrics NoData → fail; score >= passScore → pass; >= marginalScore → marginal;
 *   else fail. No metrics at all → score 0, fail.
 */

export const DIRECTIONS = ["increase", "decrease", "either"] as const; // which change is bad
export type Direction = (typeof DIRECTIONS)[number];

export interface MannWhitneyResult { u: number; z: number; pValue: number; n1: number; n2: number }

export interface JudgeMetric { name: string; canary: number[]; baseline: number[]; direction: Direction; critical: boolean }
export interface JudgeSettings {
    /** e.g. 0.98: a difference is significant when pValue < 1 - confidence. */
    confidence: number;
    /** e.g. 0.25: significant differences within ±25% of the baseline median still pass. */
    tolerance: number;
    minSamples: number;
    /** e.g. 95 */
    passScore: number;
    /** e.g. 75 */
    marginalScore: number;
}

export type MetricClassification = "Pass" | "High" | "Low" | "NoData";
export interface MetricJudgement {
    name: string; classification: MetricClassification; passed: boolean; critical: boolean;
    canaryMedian?: number; baselineMedian?: number; ratio?: number; pValue?: number;
    samples: { canary: number; baseline: number }; explanation: string;
}
export type Verdict = "pass" | "marginal" | "fail";
export interface JudgeResult { score: number; verdict: Verdict; metrics: MetricJudgement[]; explanation: string }

/** erfc(x), Numerical Recipes' Chebyshev fit (erfcc): fractional error < 1.2e-7 everywhere, also far in the tail. */
export function erfc(x: number): number {
    const z = Math.abs(x);
    const t = 1 / (1 + 0.5 * z);
    const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0 ? r : 2 - r;
}

/** Average ranks (1-based) of the combined sample in the given order, and the tie term Σ(t³ − t). */
function rank(values: number[]): { ranks: number[]; ties: number } {
    const order = values.map((v, i) => i).sort((a, b) => values[a] - values[b]);
    const ranks = new Array<number>(values.length);
    let ties = 0;
    for (let i = 0; i < order.length;) {
        let j = i;
        while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
        const t = j - i + 1;
        ties += t * t * t - t;
        for (let k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2 + 1;
        i = j + 1;
    }
    return { ranks, ties };
}

/**
 * Two-sided Mann-Whitney U test, normal approximation with tie correction and continuity correction.
 * u is U of the canary sample; z > 0 means the canary tends to be larger. Non-finite values are ignored.
 */
export function mannWhitney(canary: number[], baseline: number[]): MannWhitneyResult {
    const x = canary.filter(Number.isFinite), y = baseline.filter(Number.isFinite);
    const n1 = x.length, n2 = y.length, n = n1 + n2;
    const { ranks, ties } = rank([...x, ...y]);
    const r1 = ranks.slice(0, n1).reduce((s, r) => s + r, 0);
    const u = r1 - (n1 * (n1 + 1)) / 2;
    const mean = (n1 * n2) / 2;
    const variance = n < 2 ? 0 : ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
    if (!(variance > 0)) return { u, z: 0, pValue: 1, n1, n2 };
    const d = u - mean;
    const z = (Math.sign(d) * Math.max(Math.abs(d) - 0.5, 0)) / Math.sqrt(variance);
    return { u, z, pValue: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)), n1, n2 };
}

export function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** 3 significant digits, without trailing zeros: 0.00103, 0.101, 9710, 1.23e+7. */
export function fmt(v: number): string {
    return String(Number(v.toPrecision(3)));
}

function fmtP(p: number): string {
    return p < 0.001 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}

function fmtChange(ratio: number | undefined): string {
    if (ratio === undefined) return "from 0";
    const pct = (ratio - 1) * 100;
    return `${pct >= 0 ? "+" : ""}${fmt(pct)}%`;
}

function isBad(c: MetricClassification, direction: Direction): boolean {
    if (c === "NoData") return true;
    if (c === "High") return direction !== "decrease";
    if (c === "Low") return direction !== "increase";
    return false;
}

/** Canary median relative to the baseline median (1 = equal); undefined for a 0 baseline with a non-0 canary. */
function ratioOf(canaryMedian: number, baselineMedian: number): number | undefined {
    if (baselineMedian === 0) return canaryMedian === 0 ? 1 : undefined;
    return 1 + (canaryMedian - baselineMedian) / Math.abs(baselineMedian);
}

/** The classification of a significant difference: by the ratio, or by the canary's sign for a 0 baseline. */
function classify(canaryMedian: number, ratio: number | undefined, tolerance: number): MetricClassification {
    if (ratio === undefined) return canaryMedian > 0 ? "High" : "Low";
    return ratio > 1 + tolerance ? "High" : ratio < 1 - tolerance ? "Low" : "Pass";
}

/** Judges one metric: NoData, Pass, High or Low, and whether that passes for its direction. */
export function judgeMetric(metric: JudgeMetric, settings: JudgeSettings): MetricJudgement {
    const canary = metric.canary.filter(Number.isFinite), baseline = metric.baseline.filter(Number.isFinite);
    const dropped = metric.canary.length - canary.length + metric.baseline.length - baseline.length;
    const note = dropped > 0 ? `; ${dropped} non-finite sample${dropped === 1 ? "" : "s"} dropped` : "";
    const samples = { canary: canary.length, baseline: baseline.length };
    const base = { name: metric.name, critical: metric.critical, samples };
    const needed = Math.max(1, settings.minSamples);
    if (canary.length < needed || baseline.length < needed) {
        const explanation = `${metric.name}: NoData — ${canary.length} canary and ${baseline.length} baseline samples, `
            + `${needed} needed in each${note}`;
        return { ...base, classification: "NoData", passed: false, explanation };
    }
    const canaryMedian = median(canary), baselineMedian = median(baseline);
    const { pValue } = mannWhitney(canary, baseline);
    const alpha = 1 - settings.confidence;
    const significant = pValue < alpha;
    const ratio = ratioOf(canaryMedian, baselineMedian);
    const c = significant ? classify(canaryMedian, ratio, settings.tolerance) : "Pass";
    const passed = !isBad(c, metric.direction);
    const band = `±${fmt(settings.tolerance * 100)}%`;
    const why = !significant ? "no significant difference"
        : c === "Pass" ? `within ${band}`
            : `outside ${band}${passed ? `, allowed (direction ${metric.direction})` : ""}`;
    const explanation = `${metric.name}: ${c} — canary median ${fmt(canaryMedian)} vs baseline ${fmt(baselineMedian)} (${fmtChange(ratio)}), `
        + `p=${fmtP(pValue)} ${significant ? "<" : "≥"} ${fmt(alpha)}, ${why}; ${samples.canary}/${samples.baseline} samples${note}`;
    return { ...base, classification: c, passed, canaryMedian, baselineMedian, ratio, pValue, explanation };
}

/** Score and verdict of the judged metrics, and the one-line reason. */
function verdictOf(metrics: MetricJudgement[], settings: JudgeSettings): { score: number; verdict: Verdict; why: string } {
    const total = metrics.length;
    if (total === 0) return { score: 0, verdict: "fail", why: "no metrics to judge" };
    const passed = metrics.filter((m) => m.passed).length;
    const score = (100 * passed) / total;
    const criticals = metrics.filter((m) => m.critical && !m.passed);
    if (criticals.length > 0) {
        const names = criticals.map((m) => `${m.name} (${m.classification})`).join(", ");
        return { score, verdict: "fail", why: `critical metric${criticals.length === 1 ? "" : "s"} ${names} failed` };
    }
    const noData = metrics.filter((m) => m.classification === "NoData").length;
    if (noData * 2 >= total) return { score, verdict: "fail", why: `${noData} of ${total} metrics had no data (at least half)` };
    const counted = `${passed} of ${total} metrics passed`;
    if (score >= settings.passScore) return { score, verdict: "pass", why: counted };
    if (score >= settings.marginalScore) return { score, verdict: "marginal", why: `${counted}, below ${settings.passScore} for pass` };
    return { score, verdict: "fail", why: `${counted}, below ${settings.marginalScore} for marginal` };
}

/** Judges every metric, then the canary: score, verdict and a one-line explanation. */
export function judge(metrics: JudgeMetric[], settings: JudgeSettings): JudgeResult {
    const judged = metrics.map((m) => judgeMetric(m, settings));
    const { score, verdict, why } = verdictOf(judged, settings);
    return { score, verdict, metrics: judged, explanation: `score ${fmt(score)}, ${verdict}: ${why}` };
}
