// Tracker: one node's track/update/untrack/list and their diffs; several nodes over a
// simulated network with a fake clock: deltas, heartbeats, state for a new node, node down,
// a node that comes back, a restart, lost deltas, bye; and the diffs fed to the real phoenix
// client's Presence.

import assert from "node:assert/strict";
import { Presence as ClientPresence } from "npm:phoenix@1.8.16";
import { BroadcastChannelBackend, HistoryPubSub, PubSub } from "../pubsub/mod.ts";
import {
  Presence,
  type PresenceBroadcast,
  type PresenceDiff,
  type PresenceMeta,
  type PresenceState,
  Tracker,
  type TrackerOptions,
} from "../presence/mod.ts";
import { FakeClock } from "../testing/fake_clock.ts";
import { Metrics } from "../telemetry/mod.ts";
import { parsePrometheus, valueOf } from "./_prometheus_format.ts";
import { Net } from "./_presence_net.ts";
import { until } from "./_helpers.ts";

// What a client sees: the diffs applied by the phoenix client's own merge.
class View {
  state: PresenceState = {};
  diffs: PresenceDiff[] = [];
  apply = (_topic: string, diff: PresenceDiff) => {
    this.diffs.push(structuredClone(diff));
    this.state = ClientPresence.syncDiff(this.state, structuredClone(diff));
  };
}

/** A state with the metas of each key sorted by ref, to compare states of different nodes. */
function sorted(state: PresenceState): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const key of Object.keys(state).sort()) {
    out[key] = state[key].metas.map((m) => JSON.stringify(m, Object.keys(m).sort())).sort();
  }
  return out;
}

function cluster(names: string[], options: Partial<TrackerOptions> = {}) {
  const clock = new FakeClock();
  const net = new Net();
  const errors: unknown[] = [];
  const views = new Map<string, View>();
  const make = (name: string, more: Partial<TrackerOptions> = {}) => {
    const view = new View();
    views.set(name, view);
    return new Tracker({
      pubsub: net.endpoint(name),
      name,
      clock,
      heartbeatInterval: 100,
      downAfter: 500,
      batchDelay: 10,
      onDiff: view.apply,
      onError: (error) => errors.push(error),
      ...options,
      ...more,
    });
  };
  const nodes = new Map(names.map((name) => [name, make(name)]));
  // Let time pass while the network delivers everything.
  const run = (ms: number, step = 5) => {
    for (let t = 0; t < ms; t += step) {
      net.deliver();
      clock.advance(step);
    }
    net.deliver();
  };
  const close = async () => {
    for (const node of nodes.values()) await node.close();
    net.deliver();
  };
  return { clock, net, errors, views, nodes, make, run, close };
}

/**
 * Nodes a and b; a tracks alice and is killed (its bye lost), then starts again with the
 * same name and its epoch moved by `epochStep`, and tracks alice anew.
 */
async function restarted(epochStep: number) {
  const c = cluster(["a", "b"]);
  const a = c.nodes.get("a")!;
  a.track({}, "room", "alice", { run: 1 });
  c.run(100);
  c.net.cut.add("a");
  await a.close();
  c.net.cut.delete("a");
  const a2 = c.make("a", { epoch: a.epoch + epochStep });
  c.nodes.set("a", a2);
  a2.track({}, "room", "alice", { run: 2 });
  return { ...c, a, a2 };
}

Deno.test("Tracker tracks, updates and untracks on one node, each change a diff", async () => {
  const view = new View();
  const tracker = new Tracker({ onDiff: view.apply });
  const tab1 = {}, tab2 = {};
  const r1 = tracker.track(tab1, "room:a", "alice", { device: "phone" });
  const r2 = tracker.track(tab2, "room:a", "alice", { device: "laptop" });
  assert.notEqual(r1, r2);
  assert.deepEqual(tracker.get("room:a", "alice").map((m) => m.device), ["phone", "laptop"]);
  assert.deepEqual(view.diffs[0], {
    joins: { alice: { metas: [{ device: "phone", phx_ref: r1 }] } },
    leaves: {},
  });
  const r3 = tracker.update(tab1, "room:a", "alice", (meta) => ({ ...meta, typing: true }));
  assert.deepEqual(view.diffs[2], {
    joins: { alice: { metas: [{ device: "phone", typing: true, phx_ref: r3, phx_ref_prev: r1 }] } },
    leaves: { alice: { metas: [{ device: "phone", phx_ref: r1 }] } },
  });
  assert.deepEqual(sorted(view.state), sorted(tracker.list("room:a")));
  assert.equal(view.state.alice.metas.length, 2);
  assert.throws(() => tracker.track(tab1, "room:a", "alice"), TypeError);
  assert.throws(() => tracker.update({}, "room:a", "alice", {}), TypeError);
  assert.equal(tracker.untrack(tab2, "room:a", "alice"), true);
  assert.equal(tracker.untrack(tab2, "room:a", "alice"), false);
  tracker.track(tab1, "room:b", "alice");
  assert.equal(tracker.untrackAll(tab1), 2);
  assert.deepEqual(tracker.list("room:a"), {});
  assert.deepEqual(sorted(view.state), {});
  assert.equal(tracker.size, 0);
  await tracker.close();
  assert.throws(() => tracker.track(tab1, "room:a", "alice"), /closed/);
});

Deno.test("Tracker refuses bad arguments and options with errors naming the value", () => {
  const tracker = new Tracker({
    maxEntries: 1,
    pubsub: new Net().endpoint("x"),
    clock: new FakeClock(),
  });
  assert.throws(() => tracker.track({}, "", "k"), /topic "" is not a topic/);
  assert.throws(() => tracker.track({}, "t", 42 as unknown as string), /key 42 is not a string/);
  assert.throws(() => tracker.track(null as unknown as object, "t", "k"), /owner null/);
  assert.throws(
    () => tracker.track({}, "t", "k", [] as unknown as Record<string, unknown>),
    /meta/,
  );
  assert.throws(() => tracker.track({}, "t", "k", { big: "x".repeat(5000) }), RangeError);
  tracker.track({}, "t", "k");
  assert.throws(() => tracker.track({}, "t", "k2"), /maxEntries \(1\)/);
  assert.throws(() => new Tracker({ heartbeatInterval: 1000, downAfter: 1500 }), RangeError);
  assert.throws(() => new Tracker({ batchDelay: -1 }), /batchDelay: -1/);
  assert.throws(() => new Tracker({ name: "" }), TypeError);
  assert.throws(() => new Tracker({ pubsub: {} as never }), /has no subscribe\(\)/);
  tracker.close();
});

Deno.test("Tracker metas are frozen copies: phx_ref is the tracker's, not the caller's", () => {
  const tracker = new Tracker();
  const meta = { phx_ref: "mine", n: 1 };
  const ref = tracker.track({}, "t", "k", meta);
  const [stored] = tracker.get("t", "k");
  assert.equal(stored.phx_ref, ref);
  assert.notEqual(ref, "mine");
  assert.ok(Object.isFrozen(stored));
  meta.n = 2;
  assert.equal(tracker.get("t", "k")[0].n, 1);
});

Deno.test("Tracker replicates joins, updates and leaves to every node, in one delta per batch", async () => {
  const { net, views, nodes, run, close, errors } = cluster(["a", "b", "c"]);
  run(50);
  const a = nodes.get("a")!;
  const socket = {};
  a.track(socket, "room", "alice", { n: 1 });
  a.track({}, "room", "bob", { n: 1 });
  net.resetCounts();
  run(20);
  assert.equal(net.sent.get("d")?.messages, 1, "both joins in one delta");
  for (const name of ["b", "c"]) {
    assert.deepEqual(sorted(nodes.get(name)!.list("room")), sorted(a.list("room")), name);
    assert.deepEqual(sorted(views.get(name)!.state), sorted(a.list("room")), name);
  }
  a.update(socket, "room", "alice", { n: 2 });
  a.untrack(socket, "room", "alice");
  run(20);
  for (const name of ["b", "c"]) {
    assert.deepEqual(Object.keys(nodes.get(name)!.list("room")), ["bob"]);
    assert.deepEqual(sorted(views.get(name)!.state), sorted(a.list("room")));
  }
  // A join and its leave within one batch never leave the node.
  net.resetCounts();
  const brief = {};
  a.track(brief, "room", "carol");
  a.untrack(brief, "room", "carol");
  run(20);
  assert.equal(net.sent.get("d"), undefined);
  assert.deepEqual(errors, []);
  await close();
});

Deno.test("Tracker: an idle heartbeat is a few dozen bytes however many entries there are", async () => {
  const { net, nodes, run, close } = cluster(["a", "b"]);
  const a = nodes.get("a")!;
  for (let i = 0; i < 1000; i++) a.track({}, "room", `user${i}`, { online_at: i });
  run(200);
  assert.equal(nodes.get("b")!.size, 1000);
  net.resetCounts();
  run(1000);
  assert.deepEqual([...net.sent.keys()], ["h"]);
  const { messages, bytes } = net.sent.get("h")!;
  assert.ok(messages >= 18 && messages <= 22, `${messages} heartbeats in 1 s at 100 ms, 2 nodes`);
  assert.ok(bytes / messages < 60, `${bytes / messages} bytes per heartbeat`);
  await close();
});

Deno.test("Tracker: a node that starts later gets every node's state, once", async () => {
  const { net, nodes, make, run, views, close } = cluster(["a", "b"]);
  nodes.get("a")!.track({}, "room", "alice");
  nodes.get("b")!.track({}, "room", "bob");
  run(100);
  net.resetCounts();
  const c = make("c");
  nodes.set("c", c);
  run(300);
  assert.deepEqual(Object.keys(c.list("room")).sort(), ["alice", "bob"]);
  assert.deepEqual(Object.keys(views.get("c")!.state).sort(), ["alice", "bob"]);
  assert.equal(net.sent.get("s")?.messages, 2, "one state from a, one from b");
  assert.deepEqual(c.nodes().map((n) => [n.name, n.entries, n.synced]), [
    ["c", 0, true],
    ["a", 1, true],
    ["b", 1, true],
  ]);
  await close();
});

Deno.test("Tracker: a node not heard of for downAfter leaves everywhere, within downAfter + one heartbeat", async () => {
  const { clock, net, nodes, run, views, close } = cluster(["a", "b", "c"]);
  const a = nodes.get("a")!;
  a.track({}, "room", "alice");
  nodes.get("b")!.track({}, "room", "bob");
  run(100);
  assert.equal(views.get("c")!.state.alice.metas.length, 1);
  net.cut.add("a"); // a is killed: nothing more from it
  const killedAt = clock.now();
  let goneAt: number | undefined;
  for (let t = 0; t < 2000 && goneAt === undefined; t += 5) {
    run(5);
    if (!views.get("b")!.state.alice && !views.get("c")!.state.alice) goneAt = clock.now();
  }
  assert.ok(goneAt !== undefined, "alice left");
  const took = goneAt - killedAt;
  // Heard last up to one heartbeat before the kill; declared down at the first check after
  // downAfter.
  assert.ok(took > 400 && took <= 610, `left after ${took} ms (downAfter 500, heartbeat 100)`);
  assert.deepEqual(Object.keys(views.get("c")!.state), ["bob"]);
  assert.deepEqual(nodes.get("b")!.nodes().map((n) => n.name), ["b", "c"]);
  await close();
});

Deno.test("Tracker: a node that comes back (same incarnation) is merged from its state, no duplicate joins", async () => {
  const { net, nodes, run, views, close } = cluster(["a", "b"]);
  const a = nodes.get("a")!;
  a.track({}, "room", "alice");
  run(100);
  net.cut.add("a"); // a partition
  const extra = {};
  a.track(extra, "room", "alina"); // lost: b does not hear it
  run(700);
  assert.deepEqual(sorted(views.get("b")!.state), {});
  net.cut.delete("a");
  run(300);
  assert.deepEqual(sorted(nodes.get("b")!.list("room")), sorted(a.list("room")));
  assert.deepEqual(sorted(views.get("b")!.state), sorted(a.list("room")));
  // a, meanwhile, had b down and back too; nobody ever saw a ref join twice while present.
  for (const view of views.values()) {
    const present = new Set<string>();
    for (const diff of view.diffs) {
      for (const { metas } of Object.values(diff.joins)) {
        for (const m of metas) {
          assert.ok(!present.has(m.phx_ref), `duplicate join ${m.phx_ref}`);
          present.add(m.phx_ref);
        }
      }
      for (const { metas } of Object.values(diff.leaves)) {
        for (const m of metas) assert.ok(present.delete(m.phx_ref), `leave of absent ${m.phx_ref}`);
      }
    }
  }
  await close();
});

Deno.test("Tracker: a restarted node (same name, new incarnation) replaces its old entries at once", async () => {
  const { net, nodes, run, views, close, a, a2 } = await restarted(1);
  run(50); // well before downAfter
  const metas = views.get("b")!.state.alice.metas as PresenceMeta[];
  assert.deepEqual(metas.map((m) => m.run), [2]);
  assert.deepEqual(sorted(nodes.get("b")!.list("room")), sorted(a2.list("room")));
  // A late message of the old incarnation changes nothing.
  net.queue.push({
    from: "a",
    to: "b",
    json: JSON.stringify({
      t: "s",
      n: "a",
      e: a.epoch,
      s: 9,
      j: [["room", [["ghost", { phx_ref: "x" }]]]],
    }),
  });
  run(20);
  assert.deepEqual(Object.keys(nodes.get("b")!.list("room")), ["alice"]);
  await close();
});

Deno.test("Tracker: a lost delta is noticed from the next heartbeat and repaired from the state", async () => {
  const { clock, net, nodes, run, close } = cluster(["a", "b"]);
  const a = nodes.get("a")!, b = nodes.get("b")!;
  run(100);
  a.track({}, "room", "alice");
  clock.advance(10); // the delta is queued, not delivered
  net.queue = net.queue.filter((p) => !p.json.startsWith('{"t":"d"'));
  assert.deepEqual(b.list("room"), {});
  net.resetCounts();
  run(300);
  assert.deepEqual(Object.keys(b.list("room")), ["alice"]);
  assert.equal(net.sent.get("s")?.messages, 1);
  await close();
});

Deno.test("Tracker: a closed node says bye and its entries leave at once", async () => {
  const { nodes, run, views, close } = cluster(["a", "b"]);
  const a = nodes.get("a")!;
  a.track({}, "room", "alice");
  run(50);
  await a.close();
  run(5);
  assert.deepEqual(sorted(views.get("b")!.state), {});
  assert.deepEqual(nodes.get("b")!.nodes().map((n) => n.name), ["b"]);
  await close();
});

Deno.test("Tracker: malformed messages and a namesake node are reported, not fatal", async () => {
  const { net, nodes, run, errors, close } = cluster(["a", "b"]);
  run(150);
  net.queue.push({ from: "x", to: "a", json: '{"t":"d","n":"x","e":1,"s":1,"j":"nope","l":[]}' });
  net.queue.push({ from: "x", to: "a", json: '{"t":"h","n":"a","e":1,"s":0}' });
  run(10);
  assert.equal(errors.length, 2);
  assert.match(String(errors[0]), /malformed/);
  assert.match(String(errors[1]), /another node uses this node's name/);
  assert.equal(nodes.get("a")!.nodes().length, 2);
  await close();
});

Deno.test("Tracker: trackers sharing one PubSub are nodes of one cluster", async () => {
  const pubsub = new PubSub();
  const clock = new FakeClock();
  const view = new View();
  const a = new Tracker({ pubsub, name: "a", clock });
  const b = new Tracker({ pubsub, name: "b", clock, onDiff: view.apply });
  await Promise.resolve();
  a.track({}, "room", "alice", { x: 1 });
  clock.advance(30);
  assert.deepEqual(Object.keys(view.state), ["alice"]);
  assert.deepEqual(sorted(b.list("room")), sorted(a.list("room")));
  await a.close();
  await b.close();
  await pubsub.close();
});

Deno.test("Metrics.watchPresence counts entries, nodes, diffs and nodes down, in the snapshot and the Prometheus text", async () => {
  const { net, nodes, run, close } = cluster(["a", "b"]);
  const metrics = new Metrics();
  const b = nodes.get("b")!;
  const unwatch = metrics.watchPresence(b);
  b.track({}, "room", "bob");
  nodes.get("a")!.track({}, "room", "alice");
  nodes.get("a")!.track({}, "lobby", "alice");
  run(150);
  assert.deepEqual(metrics.snapshot().presence, {
    entries: 3,
    localEntries: 1,
    nodes: 2,
    diffs: 3, // bob's own, then a's delta: one per topic
    joins: 3,
    leaves: 0,
    nodesDown: 0,
  });
  net.cut.add("a");
  run(700);
  const families = parsePrometheus(metrics.prometheus());
  assert.equal(valueOf(families, "websock_presence_entries", { scope: "all" }), 1);
  assert.equal(valueOf(families, "websock_presence_entries", { scope: "local" }), 1);
  assert.equal(valueOf(families, "websock_presence_nodes"), 1);
  assert.equal(valueOf(families, "websock_presence_diffs_total"), 5);
  assert.equal(valueOf(families, "websock_presence_leaves_total"), 2);
  assert.equal(valueOf(families, "websock_presence_nodes_down_total"), 1);
  unwatch();
  assert.equal(metrics.snapshot().presence, undefined);
  assert.doesNotMatch(metrics.prometheus(), /presence/);
  await close();
});

Deno.test("Presence: each node's channels get each diff once, as a local presence_diff broadcast; a closed owner untracks", async () => {
  const name = `presence-test-${crypto.randomUUID()}`;
  const node = (id: string) => {
    const pubsub = new PubSub<PresenceBroadcast>({
      backend: new BroadcastChannelBackend({ name }),
    });
    const presence = new Presence({ pubsub }, { name: id, heartbeatInterval: 50, downAfter: 200 });
    const got: PresenceBroadcast[] = [];
    pubsub.subscribe("room:1", { send: (b: PresenceBroadcast) => got.push(b) > 0 });
    return { pubsub, presence, got };
  };
  const one = node("one"), two = node("two");
  // An owner with onClose, as a ChannelSocket has.
  const listeners: (() => void)[] = [];
  const socket = { onClose: (listener: () => void) => (listeners.push(listener), () => {}) };
  const ref = one.presence.track(socket, "room:1", "alice", { device: "phone" });
  const join = { alice: { metas: [{ device: "phone", phx_ref: ref }] } };
  await until(() => one.got.length === 1, "node one's diff (sent with its delta)");
  assert.deepEqual(one.got, [
    { topic: "room:1", event: "presence_diff", payload: { joins: join, leaves: {} } },
  ]);
  await until(() => two.got.length === 1, "node two's diff");
  assert.deepEqual(two.got[0].payload, { joins: join, leaves: {} });
  assert.deepEqual(two.presence.list("room:1"), join);
  for (const listener of listeners) listener(); // the channel ends
  assert.deepEqual(one.presence.list("room:1"), {});
  await until(() => one.got.length === 2, "node one's leave");
  await until(() => two.got.length === 2, "node two's leave");
  assert.deepEqual(two.got[1].payload, { joins: {}, leaves: join });
  assert.equal(one.got.length, 2, "no diff crossed from the other node");
  assert.equal(two.got.length, 2);
  for (const { presence, pubsub } of [one, two]) {
    await presence.close();
    await pubsub.close();
  }
});

Deno.test("Tracker: a burst of changes on one node is one diff per topic, on that node and on the others", async () => {
  const { clock, views, nodes, run, close } = cluster(["a", "b"]);
  run(150);
  const a = nodes.get("a")!;
  const before = { a: views.get("a")!.diffs.length, b: views.get("b")!.diffs.length };
  const sockets = Array.from({ length: 100 }, () => ({}));
  for (const [i, socket] of sockets.entries()) a.track(socket, "room", `user${i}`);
  a.track(sockets[0], "other", "user0");
  const brief = {};
  a.track(brief, "room", "gone"); // joins and leaves within the batch: told to nobody
  a.untrack(brief, "room", "gone");
  assert.equal(views.get("a")!.diffs.length, before.a, "nothing before batchDelay");
  clock.advance(10);
  run(20);
  const own = views.get("a")!.diffs.slice(before.a);
  const remote = views.get("b")!.diffs.slice(before.b);
  for (const diffs of [own, remote]) {
    assert.equal(diffs.length, 2, "one diff for room, one for other");
    assert.equal(Object.keys(diffs[0].joins).length + Object.keys(diffs[1].joins).length, 101);
    assert.ok(diffs.every((d) => !("gone" in d.joins) && Object.keys(d.leaves).length === 0));
  }
  assert.equal(a.stats.diffs, 2);
  await close();
});

Deno.test("Tracker: a replica keeps at most maxEntries of a node, and at most maxNodes nodes, saying so", async () => {
  const { nodes, make, run, errors, close } = cluster(["a"], { maxEntries: 10 });
  const b = make("b", { maxEntries: 3, maxNodes: 1 });
  nodes.set("b", b);
  const a = nodes.get("a")!;
  for (let i = 0; i < 5; i++) a.track({}, "room", `user${i}`);
  run(150);
  assert.equal(b.size, 3, "b keeps the first 3 of a's 5");
  assert.ok(errors.some((e) => e instanceof RangeError && /over maxEntries \(3\)/.test(e.message)));
  nodes.set("c", make("c"));
  run(150);
  assert.deepEqual(b.nodes().map((n) => n.name), ["b", "a"], "b keeps no second node");
  assert.ok(
    errors.some((e) => e instanceof RangeError && /ignored node c: over maxNodes/.test(e.message)),
  );
  await close();
});

Deno.test("Tracker: a node restarted with a clock gone back (a smaller epoch) is heard once its old incarnation is down for downAfter", async () => {
  const { nodes, run, views, close, a2 } = await restarted(-1000);
  run(300);
  // Still taken for late messages of an older incarnation: the newer one is not down yet.
  assert.deepEqual(views.get("b")!.state.alice.metas.map((m) => m.run), [1]);
  run(1300); // the old one down after 500 ms, then 500 ms more
  assert.deepEqual(views.get("b")!.state.alice.metas.map((m) => m.run), [2]);
  assert.deepEqual(sorted(nodes.get("b")!.list("room")), sorted(a2.list("room")));
  await close();
});

Deno.test("Presence refuses an app whose pubsub is a HistoryPubSub (its diffs would be stored and sent to every node)", async () => {
  const history = new HistoryPubSub<PresenceBroadcast>();
  try {
    assert.throws(
      () => new Presence({ pubsub: history } as never),
      (error: unknown) =>
        error instanceof TypeError && /HistoryPubSub, which cannot publish to this node only/
          .test(error.message),
    );
  } finally {
    await history.close();
  }
});

Deno.test("Tracker and Presence refuse a misspelled option with the nearest name", () => {
  assert.throws(
    () => new Tracker({ heartbeatIntervall: 5 } as never),
    {
      name: "TypeError",
      message: 'Unknown option "heartbeatIntervall": did you mean "heartbeatInterval"?',
    },
  );
  assert.throws(
    () => new Presence({ pubsub: new PubSub() }, { downAftr: 5 } as never),
    { name: "TypeError", message: 'Unknown option "downAftr": did you mean "downAfter"?' },
  );
});

Deno.test("Tracker checks its callbacks and its clock as the engine does, when it is made", () => {
  const clock = new FakeClock();
  const cases: [Record<string, unknown>, string][] = [
    [{ clock: 5 }, "Invalid option clock: 5 has no now() method"],
    [
      { clock: { setTimeout() {}, clearTimeout() {} } },
      "Invalid option clock: { setTimeout: [function setTimeout], clearTimeout: [function clearTimeout] } has no now() method",
    ],
    [
      { clock: { now: () => 0, setTimeout() {} } },
      "Invalid option clock: { now: [function now], setTimeout: [function setTimeout] } has no clearTimeout() method",
    ],
    [{ clock: null }, "Invalid option clock: null has no now() method"],
    [{ onDiff: "log" }, 'Invalid option onDiff: "log" is not a function'],
    [{ onError: null }, "Invalid option onError: null is not a function"],
    [{ pubsub: {} }, "Invalid option pubsub: {} has no subscribe() method"],
    [
      { pubsub: PubSub },
      "Invalid option pubsub: [class PubSub] is a class, pass an instance (new PubSub())",
    ],
    [{ name: 5 }, "Invalid option name: 5 is not a name"],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => new Tracker(options as never), { name: "TypeError", message });
  }
  // As the engine's checkInteger: a value that is not a number is a TypeError.
  assert.throws(() => new Tracker({ batchDelay: "20" as never }), {
    name: "TypeError",
    message: 'Invalid option batchDelay: "20" is not a number',
  });
  assert.throws(() => new Tracker({ maxEntries: Infinity }), {
    name: "RangeError",
    message: "Invalid option maxEntries: Infinity is not a number >= 1",
  });
  assert.throws(() => new Tracker({ epoch: "1" as never }), {
    name: "RangeError",
    message: 'Invalid option epoch: "1" is not a finite number',
  });
  new Tracker({ clock }).close();
});

Deno.test("Tracker shows the values it refuses as the engine does", () => {
  const tracker = new Tracker();
  const owner = {};
  const cases: [() => unknown, string][] = [
    [() => tracker.track(owner, "t", 42 as never), "Cannot track in t: key 42 is not a string"],
    [() => tracker.track(owner, 5 as never, "k"), "Cannot track: topic 5 is not a topic"],
    [
      () => tracker.track("alice" as never, "t", "k"),
      'Cannot track: owner "alice" is not an object',
    ],
    [
      () => tracker.track(owner, "t", "k", [] as never),
      "Cannot track k in t: meta [] is not an object",
    ],
    [
      () => tracker.track(owner, "t", "k", "x" as never),
      'Cannot track k in t: meta "x" is not an object',
    ],
  ];
  for (const [call, message] of cases) assert.throws(call, { name: "TypeError", message });
  tracker.close();
});

Deno.test("Tracker counts maxMetaBytes in UTF-8 bytes of JSON, as the engine counts bytes", () => {
  const tracker = new Tracker({
    pubsub: new Net().endpoint("x"),
    clock: new FakeClock(),
    maxMetaBytes: 100,
  });
  // 45 UTF-16 units either way; "é" is 2 bytes in UTF-8, so only the ASCII meta fits.
  tracker.track({}, "t", "ascii", { s: "e".repeat(45) });
  assert.throws(
    () => tracker.track({}, "t", "accents", { s: "é".repeat(45) }),
    (error: unknown) =>
      error instanceof RangeError &&
      /^Cannot track accents in t: meta of 1\d\d bytes is over maxMetaBytes \(100\)$/.test(
        error.message,
      ),
  );
  tracker.close();
});

Deno.test("Presence checks its app, its onDiff and its clock when it is made", async () => {
  const pubsub = new PubSub<PresenceBroadcast>();
  try {
    const cases: [() => unknown, string][] = [
      [() => new Presence(5 as never), "Invalid app: 5 has no pubsub"],
      [
        () => new Presence({ pubsub: "hub" } as never),
        'Invalid app: {"pubsub":"hub"} has no pubsub',
      ],
      [
        () => new Presence({ pubsub }, { onDiff: "log" as never }),
        'Invalid option onDiff: "log" is not a function',
      ],
      [
        () => new Presence({ pubsub }, { diffEvent: 5 as never }),
        "Invalid option diffEvent: 5 is not an event",
      ],
      [
        () => new Presence({ pubsub }, { clock: {} as never }),
        "Invalid option clock: {} has no now() method",
      ],
    ];
    for (const [call, message] of cases) assert.throws(call, { name: "TypeError", message });
  } finally {
    await pubsub.close();
  }
});

Deno.test("Tracker reports a publish that fails as a thenable, not only as a Promise, to onError", async () => {
  const errors: unknown[] = [];
  const down = new Error("down");
  const pubsub = {
    subscribe() {},
    unsubscribe() {},
    publish: () => ({ then: (_ok: unknown, fail: (e: unknown) => void) => fail(down) }),
  };
  const tracker = new Tracker({ pubsub, clock: new FakeClock(), onError: (e) => errors.push(e) });
  await until(() => errors.length > 0, "the report");
  assert.equal(errors[0], down);
  await tracker.close();
});
