/**
 * A list+watch cache of one kind of object that knows whether it is in sync, as client-go's
 * informers do (client-node's ListWatch stops on the first error and cannot say whether its view
 * is current). In sync means: listed, and the watch from that list's resourceVersion connected
 * since. A watch that fails (API server restart, dropped connection) marks the view out of sync
 * and is retried with capped exponential backoff; an expired resourceVersion (410) lists again;
 * 401/403 are permanent and stop the loop, naming the request. Every list reads the server's
 * Date, so callers can judge pod timestamps on the server's clock.
 */
import * as k8s from "@kubernetes/client-node";
import type { SyncState } from "./runner";

export interface ListAnswer<T> {
    items: T[];
    resourceVersion: string;
    /** The answer's Date header (ms since epoch), if any. */
    serverDate?: number;
}

export interface InformerOptions<T> {
    kc: k8s.KubeConfig;
    /** Watch path, e.g. `/api/v1/namespaces/ns/pods`. */
    path: string;
    list: () => Promise<ListAnswer<T>>;
    labelSelector?: string;
    fieldSelector?: string;
    /** For messages: `pods of ns/web`. */
    what: string;
    onChange: () => void;
    /** Server-side watch timeout; a watch open longer than this plus a margin is dropped as dead. */
    watchTimeoutSeconds?: number;
    now?: () => number;
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 8000;

/** The status code of a client-node error (HTTP status, or a watch's statusCode); 0 when none. */
export function statusOf(err: unknown): number {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e?.statusCode === "number") return e.statusCode;
    return typeof e?.code === "number" ? e.code : 0;
}

/** 401 and 403 do not heal by retrying: the credentials lack a right. */
export function isPermanent(status: number): boolean {
    return status === 401 || status === 403;
}

/** A short message of a client-node error: the API's own message when it sent one. */
export function errorText(err: unknown): string {
    const e = err as { body?: unknown; message?: string };
    let message = e?.message ?? String(err);
    try {
        const body = typeof e?.body === "string" ? JSON.parse(e.body) : e?.body;
        if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") message = (body as { message: string }).message;
    } catch { /* not JSON */ }
    const status = statusOf(err);
    return `${status ? `${status} ` : ""}${message.split("\n")[0].slice(0, 300)}`;
}

export class Informer<T extends k8s.KubernetesObject> {
    private objects = new Map<string, T>();
    private resourceVersion = "";
    private state: SyncState;
    private stopped = false;
    private request?: AbortController;
    private sleeping?: { timer: NodeJS.Timeout; resolve: () => void };
    private loop?: Promise<void>;
    /** The server's clock minus ours, from the last list's Date header. */
    offset = 0;
    private readonly now: () => number;

    constructor(private readonly options: InformerOptions<T>) {
        this.now = options.now ?? Date.now;
        this.state = { synced: false, since: this.now() };
    }

    /** Starts the list+watch loop in the background; never throws (see sync()). */
    start(): void {
        this.loop ??= this.run();
    }

    /** Resolves once the first list is in (or failed, or the loop stopped), at most after `ms`. */
    async firstSync(ms: number): Promise<void> {
        const until = this.now() + ms;
        while (!this.stopped && !this.state.synced && !(this.state as { permanent?: boolean }).permanent && this.now() < until) {
            await new Promise((r) => setTimeout(r, 25));
        }
    }

    stop(): void {
        this.stopped = true;
        this.request?.abort();
        if (this.sleeping) {
            clearTimeout(this.sleeping.timer);
            this.sleeping.resolve();
        }
    }

    sync(): SyncState {
        return this.state;
    }

    items(): T[] {
        return [...this.objects.values()];
    }

    private outOfSync(error: string, permanent = false): void {
        const since = this.state.synced ? this.now() : this.state.since;
        this.state = { synced: false, since, error, permanent };
        this.options.onChange();
    }

    private async run(): Promise<void> {
        let failures = 0;
        while (!this.stopped) {
            try {
                if (!this.resourceVersion) await this.relist();
                const ended = await this.watchOnce();
                if (ended === "expired") this.resourceVersion = "";
                failures = 0;
                continue;
            } catch (err) {
                if (this.stopped) return;
                const status = statusOf(err);
                if (status === 410) {
                    this.resourceVersion = "";
                    continue;
                }
                this.outOfSync(`${this.options.what}: ${errorText(err)}`, isPermanent(status));
                if (isPermanent(status)) return;
            }
            failures++;
            const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1));
            await this.pause(delay * (0.8 + Math.random() * 0.4));
        }
    }

    private async relist(): Promise<void> {
        const answer = await this.options.list();
        if (answer.serverDate !== undefined) this.offset = answer.serverDate - this.now();
        const fresh = new Map<string, T>();
        for (const item of answer.items) fresh.set(keyOf(item), item);
        this.objects = fresh;
        this.resourceVersion = answer.resourceVersion;
        this.options.onChange();
    }

    /**
     * One watch from the current resourceVersion. Resolves when it ends cleanly ("closed", e.g.
     * the server's timeout) or the server says the version expired; rejects on any error.
     */
    private watchOnce(): Promise<"closed" | "expired"> {
        const timeout = this.options.watchTimeoutSeconds ?? 60;
        return new Promise((resolve, reject) => {
            let expired = false;
            let finished = false;
            let eventError: Error | undefined;
            let watchdog: NodeJS.Timeout | undefined;
            const done = (err: unknown) => {
                if (finished) return;
                finished = true;
                clearTimeout(watchdog);
                this.request = undefined;
                if (expired) resolve("expired");
                else if (eventError ?? err) reject(eventError ?? err);
                else resolve("closed");
            };
            const onEvent = (phase: string, obj: T & { code?: number }) => {
                if (phase === "ERROR") {
                    if (obj?.code === 410) expired = true;
                    else eventError = Object.assign(new Error(`watch error: ${JSON.stringify(obj).slice(0, 200)}`), { code: obj?.code });
                    this.request?.abort();
                    return;
                }
                if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
                if (phase === "ADDED" || phase === "MODIFIED") this.objects.set(keyOf(obj), obj);
                else if (phase === "DELETED") this.objects.delete(keyOf(obj));
                else return; // BOOKMARK: only the resourceVersion moves
                this.options.onChange();
            };
            const query = {
                resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: timeout,
                labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector,
            };
            new k8s.Watch(this.options.kc).watch(this.options.path, query, onEvent, done).then((request) => {
                // The watch may have failed before it connected: done() was called already.
                if (finished || this.stopped) {
                    request.abort();
                    return;
                }
                this.request = request;
                // Connected: the view is current from the list (or the last event) on.
                if (!this.state.synced) {
                    this.state = { synced: true };
                    this.options.onChange();
                }
                // A connection the server never closes (half-open TCP) must not freeze the view.
                watchdog = setTimeout(() => request.abort(), (timeout + 15) * 1000);
            }, done);
        });
    }

    private pause(ms: number): Promise<void> {
        return new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.sleeping = undefined;
                resolve();
            }, ms);
            this.sleeping = { timer, resolve };
        });
    }
}

function keyOf(obj: k8s.KubernetesObject): string {
    return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}
