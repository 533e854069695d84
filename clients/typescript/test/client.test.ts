// The client against a real `engram serve` (test/server.mjs): every method, and the
// errors the server's codes stand for. It imports the package by its name, so it runs
// against dist/ and compiles against the declarations a user gets. Run: npm test.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  AccessDeniedError,
  ConflictError,
  EngramClient,
  EngramError,
  InvalidInputError,
  LimitExceededError,
  NotFoundError,
  StoreError,
} from "engramdb";
import { type Server, startServer } from "./server.js";

const NOW = "2024-08-17T09:30:00Z";

/** The first of a list, which must not be empty. */
function head<T>(items: T[]): T {
  const [item] = items;
  assert.ok(item !== undefined, "expected at least one");
  return item;
}

/** The error a call fails with, checked to be one of the client's. */
async function failure(call: Promise<unknown>): Promise<EngramError> {
  const outcome = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof EngramError, `expected an EngramError, got ${String(outcome)}`);
  return outcome;
}
let server: Server;
let mem: EngramClient;

before(async () => {
  server = await startServer();
  mem = new EngramClient({ url: server.url, apiKey: server.adminKey });
});

after(async () => {
  await server?.stop();
});

describe("writes and reads", () => {
  it("adds a memory and reads it back, as stored", async () => {
    const added = await mem.add("I adopted a rescue dog called Pastel.", {
      namespace: "ts-basics",
      speaker: "Maya",
      session: "s1",
      occurred_at: new Date("2024-03-23T10:15:00Z"),
      metadata: { dia_id: "D1:3" },
    });
    assert.match(added.id, /^[0-9a-f]{32}$/);
    assert.equal(added.kind, "episode");
    assert.equal(added.occurred_at, "2024-03-23T10:15:00Z");
    assert.deepEqual(added.metadata, { dia_id: "D1:3" });
    assert.deepEqual(await mem.get(added.id, { namespace: "ts-basics" }), added);
  });

  it("writes a batch at once and says when a write repeats one", async () => {
    const items = [
      { text: "I work as a nurse in Lisbon.", speaker: "Ana", occurred_at: "2024-01-02T08:00:00Z" },
      { text: "My sister plays the cello.", speaker: "Ana", occurred_at: "2024-01-03T08:00:00Z" },
    ];
    const written = await mem.addMany(items, { namespace: "ts-batch" });
    assert.deepEqual(
      written.map((e) => e.text),
      items.map((i) => i.text),
    );
    assert.deepEqual(await mem.addMany([], { namespace: "ts-batch" }), []);
    const [first] = items;
    assert.ok(first);
    const again = await mem.add(first.text, {
      namespace: "ts-batch",
      speaker: "Ana",
      occurred_at: first.occurred_at,
    });
    assert.equal(again.repeated, true);
    assert.equal(again.id, written[0]?.id);
  });

  it("updates with history kept, then deletes", async () => {
    const first = await mem.add("I live in Boston.", { namespace: "ts-update", speaker: "Maya" });
    const second = await mem.update(first.id, { namespace: "ts-update", text: "I live in Denver." });
    assert.equal(second.id, first.id);
    assert.equal(second.version, 2);
    const versions = await mem.history(first.id, { namespace: "ts-update" });
    assert.deepEqual(
      versions.map((v) => v.text),
      ["I live in Boston.", "I live in Denver."],
    );
    assert.notEqual(head(versions).valid_to, null);
    await mem.delete(first.id, { namespace: "ts-update" });
    await assert.rejects(mem.get(first.id, { namespace: "ts-update" }), NotFoundError);
  });
});

describe("recall", () => {
  before(async () => {
    await mem.addMany(
      [
        {
          text: "I adopted a terrier called Pastel.",
          speaker: "Maya",
          session: "s1",
          occurred_at: "2024-03-23T10:00:00Z",
          metadata: { topic: "pets" },
        },
        {
          text: "Work has been busy this week.",
          speaker: "Maya",
          session: "s1",
          occurred_at: "2024-03-23T10:01:00Z",
          metadata: { topic: "work" },
        },
        { text: "I live in Boston.", speaker: "Maya", session: "s1", occurred_at: "2023-05-01T10:00:00Z" },
        {
          text: "I just moved to Denver!",
          speaker: "Maya",
          session: "s2",
          occurred_at: "2023-09-01T10:00:00Z",
        },
      ],
      { namespace: "ts-recall" },
    );
  });

  it("searches, ranked and explained, with filters applied before ranking", async () => {
    const hits = await mem.search("What is the dog called?", { namespace: "ts-recall", now: NOW, limit: 3 });
    const best = head(hits);
    assert.equal(best.engram.text, "I adopted a terrier called Pastel.");
    assert.equal(best.rank, 1);
    assert.ok(best.relevance > 0 && best.relevance <= 1);
    assert.ok(best.explain.summary.length > 0);
    const filtered = await mem.search("What is the dog called?", {
      namespace: "ts-recall",
      now: NOW,
      where: { "metadata.topic": "work" },
    });
    assert.deepEqual(
      filtered.map((h) => h.engram.text),
      ["Work has been busy this week."],
    );
  });

  it("consolidates episodes into facts, the old value superseded", async () => {
    const report = await mem.consolidate({ namespace: "ts-recall", now: NOW });
    assert.ok(report.facts > 0);
    const facts = await mem.facts({ namespace: "ts-recall", subject: "Maya", attribute: "residence" });
    assert.deepEqual(
      facts.map((f) => [f.value, f.status]),
      [
        ["Boston", "superseded"],
        ["Denver", "current"],
      ],
    );
    const then = await mem.facts({
      namespace: "ts-recall",
      attribute: "residence",
      as_of: new Date("2023-06-01T00:00:00Z"),
    });
    assert.deepEqual(
      then.map((f) => f.value),
      ["Boston"],
    );
  });

  it("packs a context, reads working memory and mood", async () => {
    const bundle = await mem.context("Where does Maya live?", {
      namespace: "ts-recall",
      budget_tokens: 200,
      now: NOW,
    });
    assert.ok(bundle.tokens <= 200);
    assert.match(bundle.text, /Denver/);
    const turns = await mem.working({ namespace: "ts-recall", session: "s1", max_turns: 2 });
    assert.equal(turns.length, 2);
    const mood = await mem.mood({ namespace: "ts-recall", now: NOW, window_days: 365 });
    assert.equal(mood.namespace, "ts-recall");
  });

  it("reads a memory's retention, curve and neighbours", async () => {
    const hits = await mem.search("terrier", {
      namespace: "ts-recall",
      now: NOW,
      limit: 1,
      reinforce: false,
    });
    const id = head(hits).engram.id;
    const r = await mem.retention(id, { namespace: "ts-recall", now: NOW });
    assert.ok(r > 0 && r <= 1);
    const curve = await mem.curve(id, { namespace: "ts-recall", days: 30, points: 5 });
    assert.equal(curve.times.length, 5);
    assert.equal(curve.retention.length, 5);
    const around = await mem.neighbours(id, { namespace: "ts-recall", before: 0, after: 1 });
    assert.deepEqual(
      around.map((e) => e.text),
      ["Work has been busy this week."],
    );
  });
});

describe("the pinned profile", () => {
  it("pins, versions, reads and unpins an entry that every context shows first", async () => {
    const first = await mem.pin("diet", "vegetarian", { namespace: "ts-profile" });
    assert.equal(first.version, 1);
    const second = await mem.pin("diet", "vegan", { namespace: "ts-profile" });
    assert.equal(second.version, 2);
    assert.deepEqual(
      (await mem.profile({ namespace: "ts-profile" })).map((e) => e.text),
      ["vegan"],
    );
    const every = await mem.profile({ namespace: "ts-profile", history: true });
    assert.deepEqual(
      every.map((e) => [e.version, e.valid_to === null]),
      [
        [1, false],
        [2, true],
      ],
    );
    const bundle = await mem.context("what do I cook?", { namespace: "ts-profile" });
    assert.equal(head(bundle.items).text, "diet: vegan");
    assert.deepEqual(bundle.profile_left_out, []);
    assert.deepEqual(await mem.profileProposals({ namespace: "ts-profile" }), []);
    assert.notEqual((await mem.unpin("diet", { namespace: "ts-profile" })).valid_to, null);
    assert.ok((await failure(mem.unpin("diet", { namespace: "ts-profile" }))) instanceof NotFoundError);
    const long = failure(mem.pin("diet", "x".repeat(501), { namespace: "ts-profile" }));
    assert.ok((await long) instanceof LimitExceededError);
  });
});

describe("namespaces, budgets and the server", () => {
  it("lists namespaces and their stats, and forgets one", async () => {
    await mem.add("Temporary.", { namespace: "ts-forget" });
    assert.ok((await mem.namespaces()).includes("ts-forget"));
    assert.equal((await mem.stats({ namespace: "ts-forget" })).namespace, "ts-forget");
    assert.ok((await mem.allStats()).some((s) => s.namespace === "ts-forget"));
    assert.equal(await mem.forgetNamespace("ts-forget"), 1);
    assert.ok(!(await mem.namespaces()).includes("ts-forget"));
  });

  it("deletes by filter, after a dry run that deletes nothing", async () => {
    await mem.add("Keep me.", { namespace: "ts-where", speaker: "Ann" });
    const gone = await mem.add("Drop me.", { namespace: "ts-where", speaker: "Bo" });
    const dry = await mem.deleteWhere({ namespace: "ts-where", where: { speaker: "Bo" }, dry_run: true });
    assert.deepEqual([dry.ids, dry.dry_run], [[gone.id], true]);
    assert.equal((await mem.stats({ namespace: "ts-where" })).engrams, 2);
    const done = await mem.deleteWhere({ namespace: "ts-where", where: { speaker: "Bo" } });
    assert.deepEqual(done.ids, [gone.id]);
    await assert.rejects(mem.get(gone.id, { namespace: "ts-where" }), NotFoundError);
    await assert.rejects(mem.deleteWhere({ namespace: "ts-where" }), InvalidInputError);
  });

  it("sets expiry and a default TTL, hides what expired and purges it", async () => {
    assert.equal(await mem.ttl({ namespace: "ts-expiry" }), null);
    assert.equal((await mem.setTtl(86_400, { namespace: "ts-expiry" })).ttl_s, 86_400);
    assert.equal(await mem.ttl({ namespace: "ts-expiry" }), 86_400);
    const kept = await mem.add("Kept a day.", { namespace: "ts-expiry" });
    assert.ok(kept.expires_at !== null);
    const cleared = await mem.setExpiry(kept.id, null, { namespace: "ts-expiry" });
    assert.equal(cleared.expires_at, null);
    await mem.setTtl(null, { namespace: "ts-expiry" });
    assert.equal(await mem.ttl({ namespace: "ts-expiry" }), null);
    await assert.rejects(
      mem.setExpiry(kept.id, "2001-01-01T00:00:00Z", { namespace: "ts-expiry" }),
      InvalidInputError,
    );
    const soon = new Date(Date.now() + 1_500);
    const brief = await mem.add("Gone soon.", { namespace: "ts-expiry", expires_at: soon.toISOString() });
    // the server's clock decides; wait until it says the memory has expired
    for (let i = 0; i < 300; i++) {
      try {
        await mem.get(brief.id, { namespace: "ts-expiry" });
      } catch (error) {
        if (error instanceof NotFoundError) break;
        throw error;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    await assert.rejects(mem.get(brief.id, { namespace: "ts-expiry" }), NotFoundError);
    const purged = await mem.purge({ namespace: "ts-expiry" });
    assert.deepEqual(
      purged.map((d) => [d.namespace, d.ids]),
      [["ts-expiry", [brief.id]]],
    );
    assert.deepEqual(await mem.purge(), []);
    assert.equal((await mem.get(kept.id, { namespace: "ts-expiry" })).text, "Kept a day.");
  });

  it("stores a budget, fades, flushes", async () => {
    assert.equal(await mem.budget({ namespace: "ts-budget" }), null);
    const stored = await mem.setBudget({ namespace: "ts-budget", max_memories: 2 });
    assert.equal(stored.max_memories, 2);
    assert.equal((await mem.budget({ namespace: "ts-budget" }))?.max_memories, 2);
    for (const text of ["one", "two", "three"]) await mem.add(`Memory ${text}.`, { namespace: "ts-budget" });
    assert.equal(typeof (await mem.fade({ namespace: "ts-budget" })), "number");
    const active = await mem.search("Memory", { namespace: "ts-budget", reinforce: false });
    const all = await mem.search("Memory", {
      namespace: "ts-budget",
      reinforce: false,
      include_dormant: true,
    });
    assert.equal(active.length, 2);
    assert.equal(all.length, 3);
    assert.equal(typeof (await mem.flush()), "number");
    await mem.setBudget({ namespace: "ts-budget" });
    assert.equal(await mem.budget({ namespace: "ts-budget" }), null);
  });

  it("reads health and metrics", async () => {
    assert.equal((await mem.health()).status, "ok");
    assert.match(await mem.metrics(), /engramdb_/);
  });

  it("says what the server is and who asks, and reads the audit log", async () => {
    const about = await mem.server();
    assert.equal(about.key.access, "admin");
    assert.equal(about.key.name, "ts-admin");
    assert.equal(about.encrypted, false);
    await mem.add("Audited.", { namespace: "ts-audit" });
    const log = await mem.audit({ namespace: "ts-audit", limit: 5 });
    assert.ok(log.entries.some((entry) => entry.action === "add" && entry.status === 201));
    const reader = new EngramClient({ url: server.url, apiKey: server.readerKey });
    assert.equal((await reader.server()).key.access, "read");
    assert.equal((await failure(reader.audit())).code, "forbidden");
  });
});

describe("errors", () => {
  it("maps not_found to NotFoundError, an EngramError with the code and status", async () => {
    const error = await failure(mem.get("0".repeat(32), { namespace: "ts-basics" }));
    assert.ok(error instanceof NotFoundError);
    assert.ok(error instanceof EngramError);
    assert.equal(error.code, "not_found");
    assert.equal(error.status, 404);
    assert.equal(error.name, "NotFoundError");
  });

  it("maps a refused value to InvalidInputError, a size to LimitExceededError", async () => {
    const error = await failure(mem.search("dog", { namespace: "ts-basics", limit: 0 }));
    assert.ok(error instanceof InvalidInputError);
    assert.equal(error.status, 422);
    const big = await failure(mem.add("x".repeat(40_000), { namespace: "ts-basics" }));
    assert.ok(big instanceof LimitExceededError);
    assert.ok(big instanceof InvalidInputError);
    assert.equal(big.status, 413);
  });

  it("maps a reused idempotency key to ConflictError", async () => {
    await mem.add("First.", { namespace: "ts-errors", idempotency_key: "k-1" });
    await assert.rejects(
      mem.add("Other.", { namespace: "ts-errors", idempotency_key: "k-1" }),
      ConflictError,
    );
  });

  it("maps a missing, wrong or out-of-scope key to AccessDeniedError", async () => {
    const anonymous = new EngramClient({ url: server.url });
    const none = await failure(anonymous.namespaces());
    assert.ok(none instanceof AccessDeniedError);
    assert.equal(none.status, 401);
    const wrong = new EngramClient({ url: server.url, apiKey: "eng_000000000000_" + "0".repeat(48) });
    await assert.rejects(wrong.namespaces(), AccessDeniedError);
    const reader = new EngramClient({ url: server.url, apiKey: server.readerKey });
    const readOnly = await failure(reader.add("No.", { namespace: "shared-1" }));
    assert.ok(readOnly instanceof AccessDeniedError);
    assert.equal(readOnly.status, 403);
    assert.equal((await failure(reader.search("x", { namespace: "ts-basics" }))).code, "forbidden");
    assert.deepEqual(await reader.search("x", { namespace: "shared-1" }), []);
  });

  it("refuses a namespace or id that would name another route, before sending", async () => {
    await assert.rejects(mem.get("..", { namespace: "ts-basics" }), InvalidInputError);
    await assert.rejects(mem.stats({ namespace: "../v1" }), InvalidInputError);
    await assert.rejects(mem.working({ namespace: "ts-basics", session: ".." }), InvalidInputError);
  });

  it("says a server that cannot be reached is a StoreError", async () => {
    const gone = new EngramClient({ url: "http://127.0.0.1:9", apiKey: server.adminKey, timeoutMs: 5_000 });
    const unreachable = await failure(gone.namespaces());
    assert.ok(unreachable instanceof StoreError);
    assert.equal(unreachable.status, null);
  });
});
