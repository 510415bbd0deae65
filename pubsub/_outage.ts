// What the backends share about outages: a URL as the reports show it (credentials
// redacted), an error's message, the outage bookkeeping of the live backends (NATS, Redis:
// `down` once, the publishes dropped meanwhile counted per topic, `up` with what it cost),
// and the pauses between retries that a close cuts short.

import { showValue } from "../engine/show_value.ts";

/**
 * The URL with its password (or a lone user part, which Redis takes as a password and NATS
 * as a token) as ***: every `user:password@` after a `//` (or at the start, when the scheme
 * is missing), up to the last `@` before the host, as URL parsers read it.
 */
export function redactUrl(url: string): string {
  return url.replace(/(^|\/\/)([^/]*)@/g, (_all, start: string, auth: string) => {
    const colon = auth.indexOf(":");
    return colon < 0 ? `${start}***@` : `${start}${auth.slice(0, colon)}:***@`;
  });
}

/**
 * An invalid `url` option (or list of them) as an error message shows it: as `showValue`
 * does, with every URL's password redacted.
 */
export function showUrl(value: unknown): string {
  const redact = (one: unknown) => typeof one === "string" ? redactUrl(one) : one;
  return showValue(Array.isArray(value) ? value.map(redact) : redact(value));
}

/** An error's message, or the value as a string. */
export const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** Add the counts of `from` to `counts`, topic by topic. */
export function addCounts(counts: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [topic, n] of from) counts.set(topic, (counts.get(topic) ?? 0) + n);
}

/** Counts per topic as the reports show them: `room: 3, lobby: 1`. */
export function showCounts(counts: ReadonlyMap<string, number>): string {
  return [...counts].map(([topic, n]) => `${topic}: ${n}`).join(", ");
}

/** Where an {@linkcode Outage} sends its two reports (the backend wraps them in its error). */
export type OutageReport = (
  event: "down" | "up",
  what: string,
  options: { cause?: unknown; dropped?: Record<string, number> },
) => void;

/**
 * The outage of a live backend, if one is in progress: reported once when it starts, the
 * publishes dropped meanwhile counted per topic, reported once when it ends with what it
 * cost. The backend says when (and whether, while closing) a report reaches `onError`.
 */
export class Outage {
  readonly #report: OutageReport;
  #since = 0;
  #dropped: Map<string, number> | undefined;

  constructor(report: OutageReport) {
    this.#report = report;
  }

  /** Whether an outage is in progress. */
  get active(): boolean {
    return this.#dropped !== undefined;
  }

  /**
   * Start an outage and report it (`down`), unless one is in progress; `dropped` holds the
   * publishes it counts from the start (sent but never confirmed).
   */
  begin(cause: unknown, dropped: Map<string, number> = new Map()): void {
    if (this.#dropped !== undefined) return;
    this.#since = Date.now();
    this.#dropped = dropped;
    this.#report(
      "down",
      `connection lost (${messageOf(cause)}); publishes are dropped until it is back`,
      { cause },
    );
  }

  /** Count `n` publishes to the topic as dropped by the outage in progress. */
  drop(topic: string, n = 1): void {
    this.#dropped?.set(topic, (this.#dropped.get(topic) ?? 0) + n);
  }

  /** End the outage in progress, if any, and report it (`up`) with the publishes it dropped. */
  end(): void {
    const counted = this.#dropped;
    if (counted === undefined) return;
    this.#dropped = undefined;
    const seconds = ((Date.now() - this.#since) / 1000).toFixed(1);
    const dropped = Object.fromEntries(counted);
    const total = [...counted.values()].reduce((a, b) => a + b, 0);
    const cost = total === 0
      ? "no publish dropped"
      : `${total} publish${total === 1 ? "" : "es"} dropped meanwhile (${showCounts(counted)})`;
    this.#report("up", `connection back after ${seconds} s; ${cost}`, { dropped });
  }
}

/** Pauses between retries (any number at once) that {@linkcode Pauses.cut} ends early. */
export class Pauses {
  readonly #pauses = new Set<{ timer: ReturnType<typeof setTimeout>; resolve(): void }>();
  #cut = false;

  /** Sleep up to `ms`; resolves at once once cut. */
  sleep(ms: number): Promise<void> {
    if (this.#cut) return Promise.resolve();
    return new Promise((resolve) => {
      const pause = {
        timer: setTimeout(() => {
          this.#pauses.delete(pause);
          resolve();
        }, ms),
        resolve,
      };
      this.#pauses.add(pause);
    });
  }

  /** End every pause now, and every later one at once (the backend is closing). */
  cut(): void {
    this.#cut = true;
    for (const pause of this.#pauses) {
      clearTimeout(pause.timer);
      pause.resolve();
    }
    this.#pauses.clear();
  }
}
