import * as assert from "assert";
import { JudgeMetric, JudgeSettings, MetricJudgement, erfc, judge, judgeMetric, mannWhitney } from "../../components/analysis/judge";

const SETTINGS: JudgeSettings = { confidence: 0.98, tolerance: 0.25, minSamples: 10, passScore: 95, marginalScore: 75 };

/** n values from `from` in steps of `step`. */
const range = (n: number, from: number, step: number): number[] => Array.from({ length: n }, (_, i) => from + i * step);

function metric(extra: Partial<JudgeMetric> = {}): JudgeMetric {
    return { name: "latency", canary: range(20, 10, 0.1), baseline: range(20, 10, 0.1), direction: "increase", critical: false, ...extra };
}

const close = (actual: number, expected: number, relative = 1e-6) =>
    assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} is not within ${relative} of ${expected}`);

describe("judge: erfc", () => {
    // Reference values: scipy.special.erfc (scipy 1.17.1).
    const cases: [number, number][] = [
        [0, 1], [0.5, 0.4795001221869535], [1, 0.15729920705028516], [2, 0.004677734981047266],
        [3, 2.2090496998585445e-05], [5, 1.5374597944280347e-12], [-1, 1.8427007929497148],
    ];
    for (const [x, expected] of cases) {
        it(`erfc(${x}) within 1.2e-7 (relative)`, () => close(erfc(x), expected, 1.2e-7));
    }
});

describe("judge: mannWhitney", () => {
    // Reference numbers: scipy 1.17.1, mannwhitneyu(canary, baseline, alternative="two-sided", method="asymptotic",
    // use_continuity=True); statistic is U of the first sample.
    const cases: { name: string; canary: number[]; baseline: number[]; u: number; p: number }[] = [
        {
            // The example of scipy's mannwhitneyu documentation (ages of male vs female patients), whose published
            // asymptotic p-value is 0.11134688653314041.
            name: "scipy documentation example", canary: [19, 22, 16, 29, 24], baseline: [20, 11, 17, 12], u: 17, p: 0.11134688653314041,
        },
        { name: "ties across the groups", canary: [1, 2, 2, 3, 3, 3, 4], baseline: [2, 3, 4, 4, 5, 5, 6], u: 8.5, p: 0.043051432728945134 },
        {
            name: "ties within and across, unequal sizes", canary: [1.5, 1.5, 2, 7, 7, 7, 9, 10], baseline: [1.5, 3, 3, 7, 8, 8, 12, 12, 12, 13],
            u: 24.5, p: 0.17805887853599245,
        },
        { name: "canary 100x slower, 20 each", canary: range(20, 100, 1), baseline: range(20, 1, 0.01), u: 400, p: 6.795615128173358e-08 },
        { name: "one value each, equal", canary: [5], baseline: [5], u: 0.5, p: 1 },
    ];
    for (const c of cases) {
        it(`${c.name}: U=${c.u}, p=${c.p}`, () => {
            const r = mannWhitney(c.canary, c.baseline);
            assert.strictEqual(r.u, c.u);
            assert.deepStrictEqual([r.n1, r.n2], [c.canary.length, c.baseline.length]);
            close(r.pValue, c.p, 1e-6);
        });
    }

    it("all values equal: variance 0, z = 0 and p = 1", () => {
        assert.deepStrictEqual(mannWhitney([3, 3, 3, 3], [3, 3, 3]), { u: 6, z: 0, pValue: 1, n1: 4, n2: 3 });
    });

    it("an empty group: p = 1", () => {
        assert.deepStrictEqual(mannWhitney([], [1, 2, 3]), { u: 0, z: 0, pValue: 1, n1: 0, n2: 3 });
    });

    it("z is positive when the canary is larger, negative when smaller, and symmetric", () => {
        const up = mannWhitney([5, 6, 7, 8], [1, 2, 3, 4]), down = mannWhitney([1, 2, 3, 4], [5, 6, 7, 8]);
        assert.ok(up.z > 0 && down.z < 0);
        assert.strictEqual(up.z, -down.z);
        assert.strictEqual(up.pValue, down.pValue);
    });

    it("ignores non-finite values", () => {
        assert.deepStrictEqual(mannWhitney([19, 22, NaN, 16, 29, 24, Infinity], [20, 11, 17, -Infinity, 12]), mannWhitney([19, 22, 16, 29, 24], [20, 11, 17, 12]));
    });
});

describe("judge: one metric", () => {
    // Interleaved values, same spread: scipy's p is 0.7971974192691748 (U=190).
    const interleavedCanary = range(20, 0, 1).map((i) => 10 + ((i * 7) % 20) * 0.1);
    const interleavedBaseline = range(20, 0, 1).map((i) => 10.05 + ((i * 11) % 20) * 0.1);
    const cases: { name: string; metric: Partial<JudgeMetric>; classification: string; passed: boolean; explanation?: RegExp }[] = [
        {
            name: "identical distributions", metric: {}, classification: "Pass", passed: true,
            explanation: /^latency: Pass — canary median 10.9 vs baseline 10.9 \(\+0%\), p=1 ≥ 0.02, no significant difference; 20\/20 samples$/,
        },
        {
            name: "interleaved samples, same spread", metric: { canary: interleavedCanary, baseline: interleavedBaseline }, classification: "Pass", passed: true,
            explanation: /p=0.8 ≥ 0.02, no significant difference/,
        },
        {
            name: "canary 100x slower, direction increase", metric: { canary: range(20, 0.1, 0.0001), baseline: range(20, 0.001, 0.000005) },
            classification: "High", passed: false,
            explanation: /^latency: High — canary median 0.101 vs baseline 0.00105 \(\+9540%\), p=6\.8e-8 < 0.02, outside ±25%; 20\/20 samples$/,
        },
        { name: "canary 100x slower, direction either", metric: { canary: range(20, 100, 1), baseline: range(20, 1, 0.01), direction: "either" }, classification: "High", passed: false },
        {
            name: "canary 100x slower, direction decrease (e.g. throughput up is fine)", metric: { canary: range(20, 100, 1), baseline: range(20, 1, 0.01), direction: "decrease" },
            classification: "High", passed: true, explanation: /outside ±25%, allowed \(direction decrease\)/,
        },
        {
            name: "canary much lower, direction increase", metric: { canary: range(20, 1, 0.01), baseline: range(20, 100, 1) }, classification: "Low", passed: true,
            explanation: /\(-99%\), .*allowed \(direction increase\)/,
        },
        { name: "canary much lower, direction decrease", metric: { canary: range(20, 1, 0.01), baseline: range(20, 100, 1), direction: "decrease" }, classification: "Low", passed: false },
        { name: "canary much lower, direction either", metric: { canary: range(20, 1, 0.01), baseline: range(20, 100, 1), direction: "either" }, classification: "Low", passed: false },
        {
            // scipy: U=400, p=6.795615128173358e-08: significant, but +10% is inside the band.
            name: "significant but within ±25%", metric: { canary: range(20, 110, 0.1), baseline: range(20, 100, 0.1) }, classification: "Pass", passed: true,
            explanation: /\(\+9\.91%\), p=6\.8e-8 < 0.02, within ±25%/,
        },
        {
            name: "baseline median 0, canary above", metric: { canary: range(20, 1, 0.1), baseline: new Array(20).fill(0) }, classification: "High", passed: false,
            explanation: /vs baseline 0 \(from 0\), p=.* < 0.02, outside ±25%/,
        },
        {
            name: "baseline and canary median 0 (a few canary errors)", metric: { canary: [...new Array(12).fill(0), ...range(8, 1, 1)], baseline: new Array(20).fill(0) },
            classification: "Pass", passed: true, explanation: /canary median 0 vs baseline 0 \(\+0%\)/,
        },
        {
            name: "too few canary samples", metric: { canary: range(3, 1, 1) }, classification: "NoData", passed: false,
            explanation: /^latency: NoData — 3 canary and 20 baseline samples, 10 needed in each$/,
        },
        {
            name: "enough samples only with the non-finite ones", metric: { canary: [...range(9, 1, 1), NaN, Infinity], baseline: [...range(20, 1, 1), NaN] },
            classification: "NoData", passed: false, explanation: /^latency: NoData — 9 canary and 20 baseline samples, 10 needed in each; 3 non-finite samples dropped$/,
        },
        {
            name: "non-finite samples dropped, the rest judged", metric: { canary: [...range(20, 10, 0.1), NaN], baseline: range(20, 10, 0.1) }, classification: "Pass", passed: true,
            explanation: /20\/20 samples; 1 non-finite sample dropped$/,
        },
    ];
    for (const c of cases) {
        it(`${c.name} → ${c.classification}, ${c.passed ? "passed" : "not passed"}`, () => {
            const j = judgeMetric(metric(c.metric), SETTINGS);
            assert.strictEqual(j.classification, c.classification, j.explanation);
            assert.strictEqual(j.passed, c.passed, j.explanation);
            if (c.explanation) assert.match(j.explanation, c.explanation);
        });
    }

    it("reports medians, ratio, p-value and sample counts", () => {
        const j = judgeMetric(metric({ canary: range(20, 100, 1), baseline: range(20, 1, 0.01), critical: true }), SETTINGS);
        const numbers = { canaryMedian: undefined, baselineMedian: undefined, ratio: undefined, pValue: undefined, explanation: undefined };
        assert.deepStrictEqual({ ...j, ...numbers }, { name: "latency", classification: "High", passed: false, critical: true, samples: { canary: 20, baseline: 20 }, ...numbers });
        close(j.canaryMedian!, 109.5, 1e-12);
        close(j.baselineMedian!, 1.095, 1e-12);
        close(j.ratio!, 100, 1e-12);
        close(j.pValue!, 6.795615128173358e-08, 1e-6);
    });

    it("NoData has no medians, ratio or p-value", () => {
        const j = judgeMetric(metric({ baseline: [] }), SETTINGS);
        assert.deepStrictEqual([j.canaryMedian, j.baselineMedian, j.ratio, j.pValue], [undefined, undefined, undefined, undefined]);
    });

    it("a negative baseline: a higher canary is still High", () => {
        const j = judgeMetric(metric({ canary: range(20, -5, 0.01), baseline: range(20, -10, 0.01) }), SETTINGS);
        assert.strictEqual(j.classification, "High", j.explanation);
        close(j.ratio!, 1 + 5 / 9.905, 1e-9); // medians -4.905 vs -9.905
    });
});

describe("judge: score and verdict", () => {
    const pass = (name: string, critical = false): JudgeMetric => metric({ name, critical });
    const high = (name: string, critical = false): JudgeMetric => metric({ name, critical, canary: range(20, 100, 1), baseline: range(20, 1, 0.01) });
    const noData = (name: string, critical = false): JudgeMetric => metric({ name, critical, canary: [] });
    const many = (n: number, make: (name: string) => JudgeMetric, prefix: string) => range(n, 0, 1).map((i) => make(`${prefix}${i}`));
    const cases: { name: string; metrics: JudgeMetric[]; score: number; verdict: string; explanation: RegExp }[] = [
        { name: "all pass", metrics: many(3, pass, "m"), score: 100, verdict: "pass", explanation: /^score 100, pass: 3 of 3 metrics passed$/ },
        { name: "19 of 20: exactly passScore 95", metrics: [...many(19, pass, "m"), high("bad")], score: 95, verdict: "pass", explanation: /^score 95, pass: 19 of 20/ },
        {
            name: "4 of 5: marginal", metrics: [...many(4, pass, "m"), high("bad")], score: 80, verdict: "marginal",
            explanation: /^score 80, marginal: 4 of 5 metrics passed, below 95 for pass$/,
        },
        { name: "3 of 4: exactly marginalScore 75", metrics: [...many(3, pass, "m"), high("bad")], score: 75, verdict: "marginal", explanation: /^score 75, marginal/ },
        {
            name: "2 of 3: fail on score", metrics: [...many(2, pass, "m"), high("bad")], score: 200 / 3, verdict: "fail",
            explanation: /^score 66\.7, fail: 2 of 3 metrics passed, below 75 for marginal$/,
        },
        {
            name: "a critical metric fails, score would pass", metrics: [...many(19, pass, "m"), high("latency", true)], score: 95, verdict: "fail",
            explanation: /^score 95, fail: critical metric latency \(High\) failed$/,
        },
        {
            name: "a critical metric without data", metrics: [...many(9, pass, "m"), noData("errors", true)], score: 90, verdict: "fail",
            explanation: /^score 90, fail: critical metric errors \(NoData\) failed$/,
        },
        { name: "a critical metric passes", metrics: [pass("latency", true), ...many(3, pass, "m")], score: 100, verdict: "pass", explanation: /^score 100, pass/ },
        {
            name: "half the metrics NoData", metrics: [pass("a"), noData("b")], score: 50, verdict: "fail",
            explanation: /^score 50, fail: 1 of 2 metrics had no data \(at least half\)$/,
        },
        { name: "no metrics", metrics: [], score: 0, verdict: "fail", explanation: /^score 0, fail: no metrics to judge$/ },
    ];
    for (const c of cases) {
        it(`${c.name} → ${c.verdict}`, () => {
            const r = judge(c.metrics, SETTINGS);
            assert.strictEqual(r.verdict, c.verdict, r.explanation);
            close(r.score, c.score, 1e-12);
            assert.match(r.explanation, c.explanation);
            assert.strictEqual(r.metrics.length, c.metrics.length);
        });
    }

    it("keeps the metrics in order, each with its judgement", () => {
        const r = judge([pass("a"), high("b"), noData("c")], { ...SETTINGS, passScore: 30, marginalScore: 10 });
        assert.deepStrictEqual(r.metrics.map((m: MetricJudgement) => [m.name, m.classification, m.passed]), [["a", "Pass", true], ["b", "High", false], ["c", "NoData", false]]);
        assert.strictEqual(r.verdict, "pass");
    });

    it("a lower confidence makes a small difference significant", () => {
        // scipy (as above): U=105.5, p=0.056370303898073904; medians 11.45 vs 10.95 (+4.6%).
        const m = metric({ canary: range(12, 10.5, 0.1).map((v, i) => v + (i % 3) * 0.4), baseline: range(12, 10, 0.1).map((v, i) => v + (i % 3) * 0.4) });
        const strict = judgeMetric(m, { ...SETTINGS, tolerance: 0.01 }), loose = judgeMetric(m, { ...SETTINGS, tolerance: 0.01, confidence: 0.9 });
        close(strict.pValue!, 0.056370303898073904, 1e-6);
        assert.strictEqual(strict.classification, "Pass", strict.explanation);
        assert.strictEqual(loose.classification, "High", loose.explanation);
        assert.match(loose.explanation, /\(\+4\.57%\), p=0\.056 < 0\.1, outside ±1%/);
    });
});
