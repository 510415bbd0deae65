// Argument checks and the guarded error hook that PubSub and HistoryPubSub share.

import { checkOptionNames } from "../engine/check_options.ts";
import { classMistake } from "../engine/class_mistake.ts";
import { showValue } from "../engine/show_value.ts";

/** Throw unless the topic is a string. */
export function checkTopic(topic: unknown, what: string): asserts topic is string {
  if (typeof topic !== "string") {
    throw new TypeError(`Cannot ${what}: topic ${showValue(topic)} is not a string`);
  }
}

/** Throw unless the subscriber has a `send` method (a connection, or alike). */
export function checkSubscriber(subscriber: unknown, what: string): void {
  if (
    subscriber === null || typeof subscriber !== "object" ||
    typeof (subscriber as { send?: unknown }).send !== "function"
  ) {
    throw new TypeError(
      `Cannot ${what}: subscriber ${showValue(subscriber)} has no send() (pass a connection)`,
    );
  }
}

/**
 * Throw unless the options of `hub` (a pub/sub hub or backend) are an object, not an array,
 * whose names are all in `known` (a misspelled one is refused with the nearest known name).
 */
export function checkHubOptions(options: unknown, hub: string, known: readonly string[]): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`Invalid ${hub} options: ${showValue(options)} is not an object`);
  }
  checkOptionNames(options, known);
}

/** Throw unless the backend has every method named (a class: say to pass an instance). */
export function checkBackend(backend: unknown, methods: readonly string[]): void {
  const mistake = classMistake(backend);
  if (mistake !== undefined) throw new TypeError(`Invalid option backend: ${mistake}`);
  for (const method of methods) {
    if (typeof (backend as Record<string, unknown> | null)?.[method] !== "function") {
      throw new TypeError(
        `Invalid option backend: ${showValue(backend)} has no ${method}() method`,
      );
    }
  }
}

/**
 * The `onError` option, checked, as a hook that never throws: the error hook must not break
 * delivery.
 */
export function guardedErrorHook(onError: unknown): (error: unknown) => void {
  if (typeof onError !== "function") {
    throw new TypeError(`Invalid option onError: ${showValue(onError)} is not a function`);
  }
  return (error) => {
    try {
      onError(error);
    } catch {
      // The error hook must not break delivery.
    }
  };
}
