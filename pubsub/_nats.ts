// What the NATS backends share: the URL (credentials taken out for the client, redacted for
// reports), option checks, topic names as subject tokens, and one connection that keeps
// itself up and says when it goes and comes back.

import { connect, type NatsConnection } from "npm:@nats-io/transport-node@^3.4.0";
import { guardNatsSockets } from "./_nats_sockets.ts";
import { Pauses, redactUrl, showUrl } from "./_outage.ts";
import { showValue } from "../engine/show_value.ts";

/** Where to connect, and how the reports name it. */
export interface NatsTarget {
  /** `host:port` of each server, for the client. */
  readonly servers: string[];
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  readonly tls: boolean;
  /** The URL(s) with the password or token as ***. */
  readonly where: string;
}

/**
 * Check and split `nats://[user:password@|token@]host:port` (or `tls://`, or a list of
 * them for a cluster; the first one with credentials gives them).
 */
export function parseNatsUrl(url: unknown): NatsTarget {
  const list = typeof url === "string" ? [url] : url;
  const bad = () =>
    new TypeError(`Invalid option url: ${showUrl(url)} is not a nats:// URL or a list`);
  if (!Array.isArray(list) || list.length === 0) throw bad();
  const servers: string[] = [];
  let user: string | undefined, pass: string | undefined, token: string | undefined;
  let tls = false;
  for (const one of list) {
    if (typeof one !== "string" || !/^(nats|tls):\/\/[^/]+\/?$/.test(one)) throw bad();
    let parsed: URL;
    try {
      parsed = new URL(one.replace(/^(nats|tls):/, "http:"));
    } catch {
      throw bad();
    }
    if (one.startsWith("tls:")) tls = true;
    servers.push(`${parsed.hostname}:${parsed.port || "4222"}`);
    if (user !== undefined || token !== undefined || parsed.username === "") continue;
    const name = decodeURIComponent(parsed.username);
    if (/^[^@/]*:/.test(one.slice(one.indexOf("//") + 2))) {
      user = name;
      pass = decodeURIComponent(parsed.password);
    } else token = name;
  }
  return { servers, user, pass, token, tls, where: list.map(redactUrl).join(", ") };
}

/** Throw unless the prefix is one subject token (letters, digits, `-` and `_`). */
export function checkNatsPrefix(prefix: unknown): string {
  if (typeof prefix !== "string" || !/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new TypeError(
      `Invalid option prefix: ${showValue(prefix)} is not made of letters, digits, - and _`,
    );
  }
  return prefix;
}

const SAFE = /[A-Za-z0-9-]/;
const encoder = new TextEncoder();

/**
 * A topic as one subject token that is also valid in a JetStream stream name: letters,
 * digits and `-` stay, every other byte of its UTF-8 is `_` and two hex digits
 * (`room:1` → `room_3A1`); the empty topic is `_`.
 */
export function topicToken(topic: string): string {
  if (topic === "") return "_";
  let out = "";
  for (const char of topic) {
    if (SAFE.test(char)) out += char;
    else {
      for (const byte of encoder.encode(char)) {
        out += "_" + byte.toString(16).toUpperCase().padStart(2, "0");
      }
    }
  }
  return out;
}

/** What a {@linkcode NatsLink} tells its backend. */
export interface LinkHooks {
  /** The connection was lost, or could not be made (once per outage). */
  down(cause: unknown): void;
  /** Connected again after `down`. */
  up(): void;
  /** Connected: `fresh` when this is a new client (its subscriptions must be made again). */
  connected(nc: NatsConnection, fresh: boolean): void;
  /** The client reported an error while connected (a permission, a slow consumer). */
  error(cause: unknown): void;
}

/**
 * One NATS connection, kept up: the first connection is retried with backoff until it is
 * made, then the client reconnects by itself (and subscribes again); should it give up, a
 * new client is made.
 */
export class NatsLink {
  readonly #target: NatsTarget;
  readonly #name: string;
  readonly #noEcho: boolean;
  readonly #maxRetryDelay: number;
  readonly #hooks: LinkHooks;
  #nc: NatsConnection | undefined;
  #connected = false;
  #down = false;
  #closing = false;
  #loop: Promise<void> = Promise.resolve();
  #waiters = new Set<{ resolve(nc: NatsConnection): void; reject(error: Error): void }>();
  readonly #pauses = new Pauses();

  constructor(
    target: NatsTarget,
    options: { name: string; noEcho: boolean; maxRetryDelay: number },
    hooks: LinkHooks,
  ) {
    this.#target = target;
    this.#name = options.name;
    this.#noEcho = options.noEcho;
    this.#maxRetryDelay = options.maxRetryDelay;
    this.#hooks = hooks;
    guardNatsSockets(); // a late socket error must never crash the process
  }

  /** The client while it is connected. */
  get connection(): NatsConnection | undefined {
    return this.#connected ? this.#nc : undefined;
  }

  /** The client, connected or reconnecting (undefined before the first connection). */
  get client(): NatsConnection | undefined {
    return this.#nc;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Start connecting; resolves after the first attempt, made or failed. */
  start(): Promise<void> {
    return new Promise((first) => {
      this.#loop = this.#run(first).catch((error) => {
        // Not expected (the loop catches what the client throws): say so, never reject.
        first();
        if (!this.#closing) this.#hooks.error(error);
      });
    });
  }

  /** The connected client, now or once connected; rejects once closing. */
  ready(): Promise<NatsConnection> {
    if (this.#closing) return Promise.reject(new Error("The NATS backend is closed"));
    if (this.#connected && this.#nc) return Promise.resolve(this.#nc);
    return new Promise((resolve, reject) => this.#waiters.add({ resolve, reject }));
  }

  #lost(cause: unknown): void {
    this.#connected = false;
    if (this.#down || this.#closing) return;
    this.#down = true;
    this.#hooks.down(cause);
  }

  #back(nc: NatsConnection, fresh: boolean): void {
    this.#connected = true;
    try {
      this.#hooks.connected(nc, fresh);
    } catch (error) {
      this.#hooks.error(error);
    }
    if (this.#down) {
      this.#down = false;
      this.#hooks.up();
    }
    for (const waiter of this.#waiters) waiter.resolve(nc);
    this.#waiters.clear();
  }

  async #run(first: () => void): Promise<void> {
    const target = this.#target;
    let attempt = 0;
    while (!this.#closing) {
      let nc: NatsConnection;
      try {
        nc = await connect({
          servers: target.servers,
          user: target.user,
          pass: target.pass,
          token: target.token,
          tls: target.tls ? {} : undefined,
          name: this.#name,
          noEcho: this.#noEcho,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: Math.max(10, this.#maxRetryDelay),
          reconnectJitter: Math.round(this.#maxRetryDelay / 10),
          timeout: Math.max(1000, 2 * this.#maxRetryDelay),
        });
      } catch (error) {
        this.#lost(error);
        first();
        await this.#pauses.sleep(Math.max(10, Math.min(++attempt * 100, this.#maxRetryDelay)));
        continue;
      }
      if (this.#closing) {
        await nc.close().catch(() => {});
        break;
      }
      attempt = 0;
      this.#nc = nc;
      this.#back(nc, true);
      first();
      const watched = this.#watch(nc);
      const ended = await nc.closed();
      await watched;
      this.#nc = undefined;
      if (this.#closing) break;
      // The client gave up (an authorization refused twice, say): start over with a new one.
      this.#lost(ended ?? new Error("the client closed"));
      await this.#pauses.sleep(this.#maxRetryDelay);
    }
    first();
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          this.#lost(new Error(`disconnected from ${status.server}`));
          break;
        case "reconnect":
          this.#back(nc, false);
          break;
        case "error":
          if (!this.#closing) this.#hooks.error(status.error);
          break;
        case "slowConsumer":
          if (!this.#closing) {
            this.#hooks.error(
              new Error(`slow consumer on ${status.sub.getSubject()}: ${status.pending} pending`),
            );
          }
          break;
      }
    }
  }

  /** Close the client (after a bounded flush of what it holds, when connected). */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const waiter of this.#waiters) waiter.reject(new Error("The NATS backend is closed"));
    this.#waiters.clear();
    this.#pauses.cut();
    const nc = this.#nc;
    if (nc && this.#connected) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        nc.flush().catch(() => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
      clearTimeout(timer);
    }
    if (nc) await nc.close().catch(() => {});
    this.#connected = false;
    await this.#loop;
  }
}
