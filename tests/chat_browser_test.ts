// The chat demo (examples/chat/) in headless Chromium, driven by npm:puppeteer-core: two users in
// two rooms, the online list on join, leave and tab close, a second tab of one user, the room's
// history on join, refused names, phone width, a server restart the pages come back from, and
// (with Redis Streams) resume after a drop. Screenshots of the conversation go to the test's
// temporary directory, which is kept (and named) when the test fails.

import assert from "node:assert/strict";
import { type ChatServer, startChat } from "./_chat.ts";
import { CHROMIUM, launchChromium, type Page, type TempDir, tempDir, waitFor } from "./_browser.ts";
import { HAS_REDIS, startRedis } from "./_redis.ts";

const env = {}; // the default heartbeat timeout: the phoenix client beats every 30 s

// Before the page's own script: count (and keep) the WebSockets it opens, and record every
// status text.
const PROBE = `(() => {
  window.__sockets = 0;
  window.__ws = [];
  window.__statuses = [];
  const Native = WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets++; window.__ws.push(this); }
  };
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("status");
    new MutationObserver(() => window.__statuses.push(status.textContent))
      .observe(status, { childList: true, characterData: true, subtree: true });
  });
})()`;

const LOG = `document.getElementById("log").innerText`;
const STATUS = `document.getElementById("status").textContent`;

async function open(newPage: () => Promise<Page>, origin: string): Promise<Page> {
  const page = await newPage();
  await page.evaluateOnNewDocument(PROBE);
  await page.goto(`${origin}/`);
  return page;
}

async function join(page: Page, name: string): Promise<void> {
  await page.type("#name", name);
  await page.click("#join button");
}

async function say(page: Page, text: string): Promise<void> {
  await page.type("#text", text);
  await page.click("#send");
}

function logHas(page: Page, text: string): Promise<void> {
  return waitFor(page, `${LOG}.includes(${JSON.stringify(text)})`);
}

const evaluate = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

/**
 * Run a test's body; keep its temporary directory (screenshots, profile) and say where when it
 * fails, or when WEBSOCK_KEEP_SCREENSHOTS is set.
 */
async function keepingScreenshots(dir: TempDir, body: () => Promise<void>): Promise<void> {
  try {
    await body();
    if (Deno.env.get("WEBSOCK_KEEP_SCREENSHOTS")) {
      dir.keep();
      console.log(`screenshots kept in ${dir.path}`);
    }
  } catch (error) {
    dir.keep();
    throw new Error(
      `${(error as Error).message}\n(screenshots and profile kept in ${dir.path})`,
      { cause: error },
    );
  }
}

/** Whether an element is displayed (the hidden attribute really hides it). */
const shown = (page: Page, id: string) =>
  evaluate<boolean>(page, `getComputedStyle(document.getElementById("${id}")).display !== "none"`);

const ONLINE = `[...document.querySelectorAll("#online li")].map((li) => li.textContent).join(",")`;

function onlineIs(page: Page, names: string): Promise<void> {
  return waitFor(page, `${ONLINE} === ${JSON.stringify(names)}`);
}

Deno.test({
  name: "chat demo in headless Chromium: rooms, online lists, history, refusals, a restart",
  ignore: CHROMIUM === undefined,
  async fn(t) {
    await using dir = await tempDir();
    let server: ChatServer = await startChat({ env });
    try {
      await keepingScreenshots(dir, async () => {
        await using chromium = await launchChromium(CHROMIUM!, dir);
        const newPage = () => chromium.newPage();
        let alice: Page;
        let bob: Page;

        await t.step("two users join a room, see each other online and talk", async () => {
          alice = await open(newPage, server.origin);
          assert.ok(await shown(alice, "join"));
          assert.ok(!await shown(alice, "chat"), "the message box shows before joining");
          await join(alice, "alice");
          await logHas(alice, "welcome to lobby, alice");
          await waitFor(alice, `${STATUS} === "connected as alice"`);
          assert.ok(!await shown(alice, "join"));
          assert.equal(await evaluate(alice, "window.__sockets"), 1);
          await onlineIs(alice, "alice (you)");
          bob = await open(newPage, server.origin);
          await join(bob, "bob");
          await onlineIs(alice, "alice (you),bob");
          await onlineIs(bob, "alice,bob (you)");
          await logHas(alice, "bob joined");
          await say(alice, "hello bob");
          await say(bob, "hi alice");
          for (const page of [alice, bob]) {
            await logHas(page, "alice: hello bob");
            await logHas(page, "bob: hi alice");
          }
          // Own lines are told apart; every line has a time.
          const mine = await evaluate<string[]>(
            alice,
            `[...document.querySelectorAll("#log .mine")].map((d) => d.textContent)`,
          );
          assert.equal(mine.length, 1);
          assert.match(mine[0], /alice: hello bob$/);
          assert.ok(
            await evaluate<boolean>(
              alice,
              `[...document.querySelectorAll("#log > div")].every((d) => d.querySelector("time[datetime]"))`,
            ),
          );
          assert.ok(!(await evaluate<string>(alice, LOG)).includes("worker"), "no debug text");
          for (const [name, page] of [["alice", alice], ["bob", bob]] as const) {
            const png = await page.screenshot({ type: "png" });
            assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
            await dir.write(`conversation-${name}.png`, png);
          }
        });

        await t.step(
          "a later member gets the room's history; another room has its own",
          async () => {
            const carol = await open(newPage, server.origin);
            await join(carol, "carol");
            await logHas(carol, "alice: hello bob");
            await logHas(carol, "bob: hi alice");
            await onlineIs(carol, "alice,bob,carol (you)");
            await carol.close(); // a closed tab leaves
            await onlineIs(alice, "alice (you),bob");
            await logHas(alice, "carol left");
            const dave = await open(newPage, server.origin);
            await dave.evaluate(`document.getElementById("room").value = ""`);
            await dave.type("#room", "games");
            await join(dave, "dave");
            await onlineIs(dave, "dave (you)");
            await say(dave, "anyone here?");
            await logHas(dave, "dave: anyone here?");
            assert.ok(!(await evaluate<string>(dave, LOG)).includes("hello bob"));
            await new Promise((resolve) => setTimeout(resolve, 200));
            assert.ok(!(await evaluate<string>(alice, LOG)).includes("anyone here?"));
            await dave.close();
          },
        );

        await t.step(
          "a second tab of a user is shown once; closing it keeps the user",
          async () => {
            const tab = await alice.browserContext().newPage();
            await tab.goto(`${server.origin}/`);
            await join(tab, "alice");
            await logHas(tab, "welcome to lobby, alice");
            await new Promise((resolve) => setTimeout(resolve, 200));
            await onlineIs(bob, "alice,bob (you)");
            await tab.close();
            await new Promise((resolve) => setTimeout(resolve, 300));
            await onlineIs(bob, "alice,bob (you)");
            assert.ok(!(await evaluate<string>(bob, LOG)).includes("alice left"));
          },
        );

        await t.step("a name online from another browser is refused with the reason", async () => {
          const page = await open(newPage, server.origin);
          await join(page, "alice");
          await waitFor(page, `${STATUS}.startsWith("Refused: ")`);
          assert.equal(
            await evaluate(page, STATUS),
            "Refused: The name alice is already online in this room: choose another",
          );
          assert.ok(await shown(page, "join"), "the form is back to try another name");
          await page.evaluate(`document.getElementById("name").value = ""`);
          await join(page, "no spaces please");
          await waitFor(page, `${STATUS}.startsWith("Refused: Names")`);
          await onlineIs(alice, "alice (you),bob");
          await page.close();
        });

        await t.step("Leave: the others see the leave", async () => {
          await bob.click("#leave");
          await onlineIs(alice, "alice (you)");
          await logHas(alice, "bob left");
          assert.ok(await shown(bob, "join"));
          assert.equal(await evaluate(bob, STATUS), "You left the room.");
          await bob.close();
        });

        await t.step("usable at phone width (360 px): nothing overflows", async () => {
          const phone = await chromium.newPage({ width: 360, height: 640 });
          await phone.evaluateOnNewDocument(PROBE);
          await phone.goto(`${server.origin}/`);
          await join(phone, "phone");
          await logHas(phone, "welcome to lobby, phone");
          const fits = await evaluate<boolean>(
            phone,
            `document.documentElement.scrollWidth <= 360 &&
           ["text", "send", "leave", "log", "online"].every((id) =>
             document.getElementById(id).getBoundingClientRect().right <= 360)`,
          );
          assert.ok(fits, "the page is wider than the phone");
          await dir.write("phone.png", await phone.screenshot({ type: "png" }));
          await phone.close();
        });

        await t.step("the server restarts: the pages reconnect, rejoin, and talk", async () => {
          const carol = await open(newPage, server.origin);
          await join(carol, "carol");
          await logHas(carol, "welcome to lobby, carol");
          const port = server.port;
          await server[Symbol.asyncDispose](); // SIGKILL: every page sees its socket drop
          await waitFor(alice, `${STATUS} === "disconnected — reconnecting…"`);
          server = await startChat({ env, port });
          for (const [page, name] of [[alice, "alice"], [carol, "carol"]] as const) {
            await waitFor(page, `${STATUS} === "connected as ${name}"`, 20_000);
            await logHas(page, `reconnected as ${name}`);
          }
          await onlineIs(alice, "alice (you),carol");
          await say(carol, "back again");
          await logHas(alice, "carol: back again");
        });
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  },
});

/** The chat lines of a page's log (not the join, leave or status lines). */
async function said(page: Page): Promise<string[]> {
  const log = await evaluate<string>(page, LOG);
  return log.split("\n").map((l) => l.replace(/^\d\d:\d\d\s*/, "")).filter((l) => /^\w+: /.test(l));
}

Deno.test({
  name: "chat demo with Redis Streams: a page that reconnects shows what it missed, once, in order",
  ignore: CHROMIUM === undefined || !HAS_REDIS,
  async fn(t) {
    await using dir = await tempDir();
    await using redis = await startRedis();
    const env = { REDIS_URL: redis.url };
    let a: ChatServer = await startChat({ env });
    await using b = await startChat({ env });
    try {
      await keepingScreenshots(dir, async () => {
        await using chromium = await launchChromium(CHROMIUM!, dir);
        const newPage = () => chromium.newPage();
        const alice = await open(newPage, a.origin);
        const bob = await open(newPage, b.origin);
        await join(alice, "alice");
        await join(bob, "bob");
        await onlineIs(alice, "alice (you),bob");
        await say(bob, "one");
        await logHas(alice, "bob: one");
        const bobs = (...texts: string[]) => texts.map((text) => `bob: ${text}`);
        const bobSays = (...texts: string[]) =>
          bob.evaluate(
            `for (const t of ${
              JSON.stringify(texts)
            }) { document.getElementById("text").value = t; document.getElementById("send").click(); }`,
          );

        await t.step(
          "alice's server is killed; bob talks; it restarts: alice gets it all",
          async () => {
            const port = a.port;
            await a[Symbol.asyncDispose](); // SIGKILL: alice's page starts reconnecting
            await waitFor(alice, `${STATUS}.startsWith("disconnected")`);
            await bobSays("two", "three", "four");
            await logHas(bob, "bob: four"); // stored in the room's stream
            a = await startChat({ env, port });
            await waitFor(alice, `${STATUS} === "connected as alice"`, 20_000);
            await logHas(alice, "bob: four");
            await say(bob, "five");
            await logHas(alice, "bob: five");
            assert.deepEqual(await said(alice), bobs("one", "two", "three", "four", "five"));
          },
        );

        await t.step(
          "alice's connection drops while bob talks: she shows each line once",
          async () => {
            const sockets = await evaluate<number>(alice, "window.__sockets");
            await alice.evaluate("window.__ws.at(-1).close()"); // the page sees a drop, reconnects
            await bobSays("six", "seven", "eight");
            await waitFor(alice, `window.__sockets === ${sockets + 1}`);
            await waitFor(alice, `${STATUS} === "connected as alice"`, 20_000);
            await bobSays("nine");
            await logHas(alice, "bob: nine");
            await say(alice, "back");
            await logHas(bob, "alice: back");
            await logHas(alice, "alice: back"); // her own line comes back through the stream too
            assert.deepEqual(await said(alice), [
              ...bobs("one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
              "alice: back",
            ]);
            const log = await evaluate<string>(alice, LOG);
            assert.ok(!log.includes("no longer available"), `no gap notice: ${log}`);
            const png = await alice.screenshot({ type: "png" });
            await dir.write("resumed-alice.png", png);
          },
        );
      });
    } finally {
      await a[Symbol.asyncDispose]();
    }
  },
});
