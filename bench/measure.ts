/** Small measuring helpers of the benchmarks: statistics and the peak memory of a process tree. */
import * as fs from "fs";

export interface Stat { median: number; min: number; max: number; runs: number[] }

export function stat(values: number[]): Stat {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return { median: round(median), min: round(sorted[0]), max: round(sorted[sorted.length - 1]), runs: values.map(round) };
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
export const fmt = (s: Stat, unit = "s"): string => `${s.median}${unit} (${s.min}-${s.max})`;

/** RSS in MB of every descendant of `root` (not `root` itself), from /proc. */
export function descendantsRssMb(root: number): number {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            const list = children.get(ppid) ?? [];
            list.push(Number(entry));
            children.set(ppid, list);
        } catch { /* the process is gone */ }
    }
    let kb = 0;
    const queue = [...(children.get(root) ?? [])];
    while (queue.length > 0) {
        const pid = queue.pop()!;
        queue.push(...(children.get(pid) ?? []));
        try {
            const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
            if (match) kb += Number(match[1]);
        } catch { /* the process is gone */ }
    }
    return kb / 1024;
}

/** Samples the memory of our child processes every 200 ms until stopped; returns the peak. */
export function peakMemory(): { stop: () => number } {
    let peak = 0;
    const timer = setInterval(() => { peak = Math.max(peak, descendantsRssMb(process.pid)); }, 200);
    return { stop: () => { clearInterval(timer); return round(Math.max(peak, descendantsRssMb(process.pid)), 0); } };
}

export function table(headers: string[], rows: (string | number)[][]): string {
    const cells = [headers, ...rows.map((r) => r.map(String))];
    const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    return [line(cells[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}
