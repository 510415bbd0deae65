// Property: whatever the order of the messages between trackers — shuffled, lost, doubled,
// with partitions, nodes killed and restarted among tracks, updates and untracks — once the
// network is reliable again every live node lists exactly the live nodes' entries, and the
// diffs each node emitted, merged by the phoenix client's own Presence.syncDiff, give the
// same state whenever its own diffs are out (past batchDelay), with no ref joining twice while
// present and no leave of an absent ref. Seeded and bounded: SEEDS runs of STEPS steps (more with STRESS=1).

import assert from "node:assert/strict";
import { Presence } from "npm:phoenix@1.8.16";
import { type PresenceDiff, type PresenceState, Tracker } from "../presence/mod.ts";
import { FakeClock } from "../testing/fake_clock.ts";
import { prng } from "./_helpers.ts";
import { Net } from "./_presence_net.ts";

const STRESS = Deno.env.get("STRESS") === "1";
const SEEDS = STRESS ? 400 : 40;
const STEPS = 250;
const NAMES = ["a", "b", "c"];
const TOPICS = ["t1", "t2"];
const KEYS = ["k1", "k2", "k3"];
const OWNERS = 4;

type Canon = Record<string, string[]>;

function canon(state: PresenceState): Canon {
  const out: Canon = {};
  for (const key of Object.keys(state).sort()) {
    const refs = state[key].metas.map((m) => `${m.phx_ref}:${JSON.stringify(m.v ?? null)}`);
    if (refs.length > 0) out[key] = refs.sort();
  }
  return out;
}

// One node's client: the diffs it emitted, merged as the phoenix client merges them.
class Client {
  readonly states = new Map<string, PresenceState>();
  readonly present = new Set<string>();
  apply = (topic: string, diff: PresenceDiff) => {
    for (const { metas } of Object.values(diff.joins)) {
      for (const m of metas) {
        assert.ok(!this.present.has(m.phx_ref), `join of ${m.phx_ref}, already present`);
        this.present.add(m.phx_ref);
      }
    }
    for (const { metas } of Object.values(diff.leaves)) {
      for (const m of metas) {
        assert.ok(this.present.delete(m.phx_ref), `leave of absent ${m.phx_ref}`);
      }
    }
    const state = this.states.get(topic) ?? {};
    this.states.set(topic, Presence.syncDiff(state, structuredClone(diff)));
  };
}

interface Node {
  tracker: Tracker;
  client: Client;
  // What the node itself tracks: the truth its replicas must converge to.
  own: Map<string, { topic: string; key: string; v: number }>;
  slots: Map<string, string>; // `${owner}/${topic}/${key}` → ref
}

/** One run; returns how many entries the live nodes had at the end and how many restarts. */
function runSeed(seed: number): { entries: number; restarts: number } {
  const random = prng(seed);
  // Odd seeds: losses, duplicates and reordering only (no partition, no kill), so that a
  // node going down and coming back does not wipe what a lost message left wrong.
  const chaos = seed % 2 === 0;
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const clock = new FakeClock();
  const net = new Net();
  const owners = Array.from({ length: OWNERS }, (_, i) => ({ owner: i }));
  const nodes = new Map<string, Node>();
  let epochs = 0;
  const start = (name: string) => {
    const client = new Client();
    const tracker = new Tracker({
      pubsub: net.endpoint(name),
      name,
      clock,
      epoch: ++epochs,
      heartbeatInterval: 100,
      downAfter: 500,
      batchDelay: pick([0, 10, 30]),
      onDiff: client.apply,
      onError: (error) => {
        throw error;
      },
    });
    nodes.set(name, { tracker, client, own: new Map(), slots: new Map() });
  };
  for (const name of NAMES) start(name);
  const dead = new Set<string>();
  const live = () => [...nodes.keys()].filter((n) => !dead.has(n));
  let value = 0;
  let restarts = 0;

  const check = (when: string) => {
    for (const name of live()) {
      const { tracker, client } = nodes.get(name)!;
      for (const topic of TOPICS) {
        assert.deepEqual(
          canon(client.states.get(topic) ?? {}),
          canon(tracker.list(topic)),
          `seed ${seed} ${when}: ${name}'s client view of ${topic} is its list`,
        );
      }
    }
  };

  for (let step = 0; step < STEPS; step++) {
    const roll = random();
    const name = pick(NAMES);
    const node = nodes.get(name)!;
    const owner = Math.floor(random() * OWNERS);
    const topic = pick(TOPICS), key = pick(KEYS);
    const slot = `${owner}/${topic}/${key}`;
    if (dead.has(name)) {
      if (roll < 0.3) {
        dead.delete(name);
        start(name); // restarted: same name, a new incarnation
        restarts++;
      }
    } else if (roll < 0.25) {
      if (!node.slots.has(slot)) {
        const v = ++value;
        const ref = node.tracker.track(owners[owner], topic, key, { v });
        node.slots.set(slot, ref);
        node.own.set(ref, { topic, key, v });
      }
    } else if (roll < 0.33) {
      const ref = node.slots.get(slot);
      if (ref !== undefined) {
        const v = ++value;
        const next = node.tracker.update(owners[owner], topic, key, { v });
        node.own.delete(ref);
        node.own.set(next, { topic, key, v });
        node.slots.set(slot, next);
      }
    } else if (roll < 0.43) {
      const ref = node.slots.get(slot);
      assert.equal(node.tracker.untrack(owners[owner], topic, key), ref !== undefined);
      if (ref !== undefined) node.own.delete(ref), node.slots.delete(slot);
    } else if (roll < 0.47) {
      const had = [...node.slots.keys()].filter((s) => s.startsWith(`${owner}/`));
      assert.equal(node.tracker.untrackAll(owners[owner]), had.length);
      for (const s of had) node.own.delete(node.slots.get(s)!), node.slots.delete(s);
    } else if (roll < 0.67) {
      net.shuffle(random, { loss: 0.15, dup: 0.15 });
    } else if (roll < 0.87) {
      const ms = 1 + Math.floor(random() * 250);
      clock.advance(ms);
      // A node's own diffs go out with its delta, after batchDelay (30 ms at most here):
      // past it, each client's view is its node's list.
      if (ms > 30) check(`step ${step}`);
    } else if (!chaos && roll < 0.96) {
      clock.advance(1 + Math.floor(random() * 100));
    } else if (roll < 0.93) {
      if (net.cut.has(name)) net.cut.delete(name);
      else net.cut.add(name); // a partition of this node, both ways
    } else if (roll < 0.96) {
      // Killed: its bye, if any, lost half the time.
      const cut = random() < 0.5;
      if (cut) net.cut.add(name);
      node.tracker.close();
      if (cut) net.cut.delete(name);
      dead.add(name);
    } else {
      net.deliver();
    }
  }

  // Half the chaos runs end with a node killed whose bye is lost: only silence tells.
  if (chaos && random() < 0.5 && live().length > 1) {
    const name = pick(live());
    net.cut.add(name);
    nodes.get(name)!.tracker.close();
    dead.add(name);
  }
  // The network heals: everything is delivered, in order, and time passes.
  net.cut.clear();
  for (let i = 0; i < 80; i++) {
    net.deliver();
    clock.advance(50);
  }
  net.deliver();
  check("after healing");
  const expected: Record<string, Canon> = {};
  for (const topic of TOPICS) {
    const state: PresenceState = {};
    for (const n of live()) {
      for (const [ref, own] of nodes.get(n)!.own) {
        if (own.topic !== topic) continue;
        (state[own.key] ??= { metas: [] }).metas.push({ phx_ref: ref, v: own.v });
      }
    }
    expected[topic] = canon(state);
  }
  for (const n of live()) {
    const { tracker } = nodes.get(n)!;
    for (const topic of TOPICS) {
      assert.deepEqual(canon(tracker.list(topic)), expected[topic], `seed ${seed}: ${n} ${topic}`);
    }
    assert.deepEqual(
      tracker.nodes().map((info) => info.name).sort(),
      live().sort(),
      `seed ${seed}: ${n} knows the live nodes, and only them`,
    );
  }
  for (const n of live()) nodes.get(n)!.tracker.close();
  return { entries: live().reduce((sum, n) => sum + nodes.get(n)!.own.size, 0), restarts };
}

Deno.test(`Tracker: ${SEEDS} seeded runs of shuffled, lost, doubled messages, partitions and restarts converge`, () => {
  let entries = 0, restarts = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const run = runSeed(seed);
    entries += run.entries;
    restarts += run.restarts;
  }
  // The runs are not trivial: nodes end with entries, and some were restarted.
  assert.ok(entries > SEEDS, `${entries} entries at the end of ${SEEDS} runs`);
  assert.ok(restarts > SEEDS / 4, `${restarts} restarts in ${SEEDS} runs`);
});
