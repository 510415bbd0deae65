// Which presences each owner (a socket) has on this node: most owners track one, so an owner
// holds that one's ref alone, and a map by topic and key only once it tracks a second.

type Where = { readonly topic: string; readonly key: string };

const slotOf = (topic: string, key: string) => `${topic}\u0000${key}`;

export class Owners {
  readonly #refs = new Map<object, string | Map<string, string>>();
  readonly #where: (ref: string) => Where | undefined;

  /** `where` tells the topic and key of one of this node's refs. */
  constructor(where: (ref: string) => Where | undefined) {
    this.#where = where;
  }

  /** The ref of the owner's presence of `key` in `topic`. */
  get(owner: object, topic: string, key: string): string | undefined {
    const refs = this.#refs.get(owner);
    if (typeof refs !== "string") return refs?.get(slotOf(topic, key));
    const where = this.#where(refs);
    return where?.topic === topic && where.key === key ? refs : undefined;
  }

  set(owner: object, topic: string, key: string, ref: string): void {
    const refs = this.#refs.get(owner);
    if (refs === undefined) {
      this.#refs.set(owner, ref);
    } else if (typeof refs !== "string") {
      refs.set(slotOf(topic, key), ref);
    } else {
      const where = this.#where(refs);
      if (where === undefined || (where.topic === topic && where.key === key)) {
        this.#refs.set(owner, ref); // the same presence (an update), or a stale one
        return;
      }
      this.#refs.set(
        owner,
        new Map([[slotOf(where.topic, where.key), refs], [slotOf(topic, key), ref]]),
      );
    }
  }

  delete(owner: object, topic: string, key: string): void {
    const refs = this.#refs.get(owner);
    if (typeof refs === "string") {
      this.#refs.delete(owner);
      return;
    }
    refs?.delete(slotOf(topic, key));
    if (refs?.size === 0) this.#refs.delete(owner);
  }

  /** Forget the owner; the refs it had. */
  take(owner: object): string[] {
    const refs = this.#refs.get(owner);
    this.#refs.delete(owner);
    return refs === undefined ? [] : typeof refs === "string" ? [refs] : [...refs.values()];
  }
}
