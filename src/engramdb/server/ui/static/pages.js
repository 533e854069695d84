// The dashboard's pages. Each takes {server, args, show, flash, go} and returns the nodes of
// <main>, or renders them itself when it updates in place. Every page starts with an <h1>.

import { ApiError, call, ns, routes } from "./api.js";
import { emotionMap, GROUP_COLOURS, growthChart, lineChart, shareBar } from "./charts.js";
import { confirmDialog, day, field, h, percent, refusal, when } from "./dom.js";

// One colour per emotion label of engramdb.dynamics.emotion.EMOTIONS (tested).
const EMOTION_COLOURS = {
  anger: "#c0392b", disgust: "#6d8b3a", fear: "#6b4c9a", joy: "#d4a017",
  neutral: "#8a8a8a", sadness: "#3558a8", surprise: "#e07b39",
};
const KINDS = ["episode", "fact", "summary"];
const SAMPLE = 1000; // memories the overview's pictures read, newest first
const MATCHES = 0.25; // a memory matches the timeline's words at this share of the best relevance

let signalWords = null;

/** The one table of the ranker's signals in plain words (signals.json). */
async function words() {
  if (signalWords === null) signalWords = await (await fetch(new URL("./signals.json", import.meta.url))).json();
  return signalWords;
}

const link = (namespace, rest = "") => "#/ns/" + encodeURIComponent(namespace) + rest;
const memoryLink = (engram) => link(engram.namespace, "/memory/" + engram.id);

function table(headers, rows, caption) {
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows),
  );
}

function engramRow(engram) {
  return h(
    "tr",
    { class: engram.dormant ? "dormant" : null },
    h("td", {}, when(engram.occurred_at)),
    h("td", {}, engram.kind),
    h("td", {}, engram.speaker || "—"),
    h("td", {}, engram.session || "—"),
    h("td", {}, h("a", { href: memoryLink(engram) }, engram.text.length > 140 ? engram.text.slice(0, 140) + "…" : engram.text)),
    h("td", {}, engram.emotion),
    h("td", {}, engram.dormant ? "dormant" : "active"),
  );
}

const ENGRAM_HEADERS = ["When", "Kind", "Speaker", "Session", "Text", "Feeling", "State"];

// -- listing: the REST API's page-by-page listing where the server has one ------------------

async function listing() {
  const paths = await routes();
  const post = paths["/v1/namespaces/{namespace}/list"];
  if (post && post.post) return { method: "POST", path: "/list" };
  const get = paths["/v1/namespaces/{namespace}/engrams"];
  if (get && get.get) return { method: "GET", path: "/engrams", accepted: new Set((get.get.parameters || []).map((p) => p.name)) };
  return null;
}

/** One page of a namespace's memories, newest first: {engrams, cursor}, or null on a server
 * without the listing route (``Memory.list``: docs/scopes.md). */
async function listPage(namespace, filters, cursor, limit = 50) {
  const route = await listing();
  if (!route) return null;
  // newest first; dormant memories are listed too and filtered here (``keep``)
  const options = { order: "occurred_at", descending: true, limit };
  if (cursor) options.cursor = cursor;
  const where = {};
  if (filters.speaker) where.speaker = filters.speaker;
  if (filters.session) where.session = filters.session;
  if (Object.keys(where).length) options.where = where;
  if (filters.kind) options.kinds = [filters.kind];
  if (filters.after) options.occurred_after = filters.after;
  if (filters.before) options.occurred_before = filters.before;
  let page;
  if (route.method === "POST") {
    page = await call("POST", ns(namespace) + route.path, { body: options });
  } else {
    if (options.where) options.where = JSON.stringify(options.where);
    for (const name of Object.keys(options)) if (!route.accepted.has(name)) delete options[name];
    page = await call("GET", ns(namespace) + route.path, { query: options });
  }
  return { engrams: page.engrams || [], cursor: page.next_cursor ?? null };
}

function keep(engram, filters) {
  if (filters.kind && engram.kind !== filters.kind) return false;
  if (filters.emotion && engram.emotion !== filters.emotion) return false;
  if (filters.dormant === "active" && engram.dormant) return false;
  if (filters.dormant === "dormant" && !engram.dormant) return false;
  if (filters.speaker && engram.speaker !== filters.speaker) return false;
  if (filters.session && engram.session !== filters.session) return false;
  if (filters.after && engram.occurred_at < filters.after) return false;
  if (filters.before && engram.occurred_at >= filters.before) return false;
  return true;
}

async function sample(namespace) {
  const found = [];
  let cursor = null;
  do {
    const page = await listPage(namespace, { dormant: "all" }, cursor, 200);
    if (page === null) return null;
    found.push(...page.engrams);
    cursor = page.cursor;
  } while (cursor && found.length < SAMPLE);
  return found;
}

/** Memories counted by the day (over up to 92 days) or the month they happened, every
 * day or month of the span included, so the bars stand on a time axis. */
function growth(memories) {
  const times = memories.map((e) => Date.parse(e.occurred_at)).sort((a, b) => a - b);
  if (!times.length) return Object.assign([], { unit: "day" });
  const byDay = times[times.length - 1] - times[0] <= 92 * 86400000;
  const key = (t) => new Date(t).toISOString().slice(0, byDay ? 10 : 7);
  const counts = new Map();
  for (const t of times) counts.set(key(t), (counts.get(key(t)) || 0) + 1);
  const buckets = [];
  const at = new Date(times[0]);
  at.setUTCHours(0, 0, 0, 0);
  if (!byDay) at.setUTCDate(1);
  while (key(at.getTime()) <= key(times[times.length - 1])) {
    buckets.push({ day: key(at.getTime()), count: counts.get(key(at.getTime())) || 0 });
    if (byDay) at.setUTCDate(at.getUTCDate() + 1);
    else at.setUTCMonth(at.getUTCMonth() + 1);
  }
  return Object.assign(buckets, { unit: byDay ? "day" : "month" });
}

// -- Namespaces -----------------------------------------------------------------------------

export async function namespaces({ server }) {
  const { namespaces: all } = await call("GET", "/v1/stats");
  const rows = all.map((s) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, h("a", { href: link(s.namespace) }, s.namespace)),
      h("td", { class: "num" }, s.engrams),
      h("td", { class: "num" }, s.versions),
      h("td", { class: "num" }, s.sessions),
      h("td", {}, day(s.first_occurred_at) + " – " + day(s.last_occurred_at)),
      h("td", { class: "num" }, s.pending_vectors),
    ),
  );
  return [
    h("h1", {}, "Namespaces"),
    h("p", {}, `engramdb ${server.version}. `, server.encrypted ? "The store is encrypted at rest." : "The store is not encrypted at rest."),
    all.length
      ? table(["Namespace", "Memories", "Versions", "Sessions", "Events from – to", "Awaiting their vector"], rows, "The namespaces this key can see")
      : h("p", {}, "No namespace in this key's scope holds memories yet."),
  ];
}

// -- A namespace's overview -----------------------------------------------------------------

export async function overview({ server, args: [namespace], flash, go }) {
  const [stats, budget, facts, mood, memories] = await Promise.all([
    call("GET", ns(namespace) + "/stats"),
    call("GET", ns(namespace) + "/budget"),
    call("GET", ns(namespace) + "/facts"),
    call("GET", ns(namespace) + "/mood", { query: { window_days: 30 } }),
    sample(namespace),
  ]);
  const current = facts.facts.filter((f) => f.status === "current").length;
  const counts = { episode: null, fact: null, summary: null };
  if (memories) for (const kind of KINDS) counts[kind] = memories.filter((e) => e.kind === kind).length;
  const dormant = memories ? memories.filter((e) => e.dormant).length : null;
  const sampled = memories && memories.length < stats.engrams ? ` (the newest ${memories.length} of ${stats.engrams})` : "";
  const used = budget.max_memories ? `${stats.engrams} of ${budget.max_memories} memories (${percent(stats.engrams / budget.max_memories)})` : "no budget set";
  const figures = h(
    "dl",
    { class: "figures" },
    h("dt", {}, "Memories"), h("dd", {}, stats.engrams),
    h("dt", {}, "Episodes"), h("dd", {}, counts.episode ?? "—"),
    h("dt", {}, "Facts"), h("dd", {}, `${facts.facts.length} (${current} current)`),
    h("dt", {}, "Summaries"), h("dd", {}, counts.summary ?? "—"),
    h("dt", {}, "Dormant"), h("dd", {}, dormant ?? "—"),
    h("dt", {}, "Versions"), h("dd", {}, stats.versions),
    h("dt", {}, "Sessions"), h("dd", {}, stats.sessions),
    h("dt", {}, "Budget"), h("dd", {}, used + (budget.max_bytes ? `, at most ${budget.max_bytes} bytes of text` : "")),
    h("dt", {}, "Encryption"), h("dd", {}, server.encrypted ? "encrypted at rest" : "not encrypted"),
    h("dt", {}, "Mood, last 30 days"), h("dd", {}, mood.memories
      ? `${mood.emotion}, valence ${mood.valence.toFixed(2)}, arousal ${mood.arousal.toFixed(2)} over ${mood.memories} memories`
      : "no memory in the last 30 days"),
  );
  const pictures = [];
  if (memories === null) {
    pictures.push(h("p", {}, "This server has no listing route: the pictures of growth and emotion need one."));
  } else {
    const days = growth(memories);
    pictures.push(
      h("section", {}, h("h2", {}, "Growth over time" + sampled),
        h("p", {}, "Memories by when they happened, with the running total."),
        growthChart(days, { label: `Memories per ${days.unit} by when they happened, over ${days.length} ${days.unit}s; the line is the running total` })),
      h("section", {}, h("h2", {}, "Emotion map" + sampled),
        h("p", {}, "Each dot is a memory: left unpleasant, right pleasant; low calm, high intense."),
        emotionMap(
          memories.filter((e) => e.kind === "episode").map((e) => ({
            valence: e.valence, arousal: e.arousal, colour: EMOTION_COLOURS[e.emotion] || "#8a8a8a",
            label: `${e.emotion}: ${e.text.slice(0, 80)}`,
          })),
          { label: `Valence by arousal of ${memories.length} memories` },
        ),
        h("ul", { class: "legend" }, Object.entries(EMOTION_COLOURS).map(([name, colour]) =>
          h("li", {}, h("span", { class: "swatch", "data-colour": colour }), name)))),
    );
  }
  const status = h("div", { "aria-live": "polite" });
  const forget = h("button", { type: "button", class: "danger" }, "Forget this namespace…");
  forget.addEventListener("click", async () => {
    const yes = await confirmDialog({
      title: `Forget ${namespace}?`,
      body: h("p", {}, `Every one of its ${stats.engrams} memories, their versions, facts, summaries and index entries are erased. This cannot be undone.`),
      confirm: "Forget the namespace",
      typed: namespace,
    });
    if (!yes) return;
    try {
      const done = await call("DELETE", ns(namespace));
      flash(`Forgot ${done.namespace}: ${done.forgotten === 1 ? "1 memory" : done.forgotten + " memories"} erased.`);
      go("#/");
    } catch (error) {
      status.replaceChildren(refusal(error));
    }
  });
  return [
    h("h1", {}, "Namespace ", h("q", {}, namespace)),
    figures,
    ...pictures,
    h("section", {}, h("h2", {}, "Actions"),
      h("p", {}, h("a", { href: link(namespace, "/consolidation") }, "Run consolidation"), " · ",
        h("a", { href: link(namespace, "/timeline") }, "Browse the timeline")),
      forget, status),
  ];
}

// -- Timeline -------------------------------------------------------------------------------

export async function timeline({ args: [namespace], show }) {
  const hasListing = (await listing()) !== null;
  const controls = {
    query: h("input", { type: "search", name: "query" }),
    kind: h("select", { name: "kind" }, h("option", { value: "" }, "any"), KINDS.map((k) => h("option", { value: k }, k))),
    speaker: h("input", { type: "text", name: "speaker" }),
    session: h("input", { type: "text", name: "session" }),
    emotion: h("select", { name: "emotion" }, h("option", { value: "" }, "any"), Object.keys(EMOTION_COLOURS).map((e) => h("option", { value: e }, e))),
    dormant: h("select", { name: "dormant" }, h("option", { value: "all" }, "active and dormant"), h("option", { value: "active" }, "active only"), h("option", { value: "dormant" }, "dormant only")),
    after: h("input", { type: "date", name: "after" }),
    before: h("input", { type: "date", name: "before" }),
  };
  const results = h("div", { "aria-live": "polite", id: "timeline-results" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  let cursor = null;
  let shown = [];

  const filters = () => ({
    kind: controls.kind.value, speaker: controls.speaker.value.trim(), session: controls.session.value.trim(),
    emotion: controls.emotion.value, dormant: controls.dormant.value,
    after: controls.after.value ? controls.after.value + "T00:00:00Z" : "",
    before: controls.before.value ? controls.before.value + "T23:59:59Z" : "",
  });
  const render = () => {
    results.replaceChildren(
      shown.length ? table(ENGRAM_HEADERS, shown.map(engramRow), shown.length === 1 ? "1 memory" : `${shown.length} memories`) : h("p", {}, "No memory matches."),
    );
  };
  async function load(first) {
    const f = filters();
    const query = controls.query.value.trim();
    results.setAttribute("aria-busy", "true");
    try {
      if (query || !hasListing) {
        if (!query) {
          results.replaceChildren(h("p", {}, "Type words to look for: this server has no listing route."));
          return;
        }
        const body = { query, limit: 100, reinforce: false, include_dormant: f.dormant !== "active" };
        body.kinds = f.kind ? [f.kind] : KINDS;
        if (f.emotion) body.emotion = f.emotion;
        if (f.after) body.occurred_after = f.after;
        if (f.before) body.occurred_before = f.before;
        const where = {};
        if (f.speaker) where.speaker = f.speaker;
        if (f.session) where.session = f.session;
        if (Object.keys(where).length) body.where = where;
        const found = await call("POST", ns(namespace) + "/search", { body });
        // A search ranks every memory; the timeline keeps those that match the words about
        // as well as the best does (relevance: docs/recall.md), of every kind.
        const best = Math.max(0, ...found.hits.map((hit) => hit.relevance));
        shown = found.hits.filter((hit) => hit.relevance > 0 && hit.relevance >= MATCHES * best)
          .map((hit) => hit.engram).filter((e) => keep(e, f));
        shown.sort((a, b) => (a.occurred_at < b.occurred_at ? 1 : -1));
        cursor = null;
      } else {
        if (first) { shown = []; cursor = null; }
        const page = await listPage(namespace, f, cursor);
        shown.push(...page.engrams.filter((e) => keep(e, f)));
        cursor = page.cursor;
      }
      more.hidden = !cursor;
      render();
    } catch (error) {
      results.replaceChildren(refusal(error));
    } finally {
      results.setAttribute("aria-busy", "false");
    }
  }
  more.addEventListener("click", () => load(false));
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the timeline" },
    field("Words or meaning", controls.query, "Full-text and semantic search; empty lists everything."),
    field("Kind", controls.kind), field("Speaker", controls.speaker), field("Session", controls.session),
    field("Feeling", controls.emotion), field("Dormant", controls.dormant),
    field("From", controls.after), field("To", controls.before),
    h("button", { type: "submit" }, "Apply filters"),
  );
  form.addEventListener("submit", (event) => { event.preventDefault(); load(true); });
  show(h("h1", {}, "Timeline of ", h("q", {}, namespace)), form, results, more);
  await load(true);
  return null;
}

// -- Search -----------------------------------------------------------------------------------

function explanationView(hit, table) {
  const parts = hit.explain.contributions.filter((c) => c.share >= 0.005);
  const groups = new Map();
  for (const c of parts) {
    const entry = table[c.signal] || { group: "form", words: c.signal };
    groups.set(entry.group, (groups.get(entry.group) || 0) + c.share);
  }
  const bar = shareBar(
    [...groups.entries()].map(([group, share]) => ({ share, colour: GROUP_COLOURS[group], label: group })),
    "Why it came back: " + [...groups.entries()].map(([g, s]) => `${g} ${percent(s)}`).join(", "),
  );
  const found = { dense: "its meaning", lexical: "its words", fact: "a fact", context: "the conversation" };
  return h(
    "div",
    { class: "explain" },
    bar,
    h("ul", { class: "reasons" }, parts.slice(0, 5).map((c) => {
      const entry = table[c.signal] || { group: "form", words: c.signal };
      return h("li", {}, h("span", { class: "swatch", "data-colour": GROUP_COLOURS[entry.group] }), `${percent(c.share)} — ${entry.words}`);
    })),
    hit.explain.paths.length ? h("p", { class: "found" }, "Found by " + hit.explain.paths.map((p) => found[p] || p).join(" and ") + ".") : null,
    hit.explain.retention !== null ? h("p", { class: "found" }, `Held at ${percent(hit.explain.retention)} strength now (stability ${Math.round(hit.explain.stability_days)} days: the higher, the slower it fades).`) : null,
  );
}

export async function search({ args: [namespace], show }) {
  const table = await words();
  const query = h("input", { type: "search", name: "query", required: true });
  const dormant = h("input", { type: "checkbox", name: "dormant" });
  const asOf = h("input", { type: "date", name: "as_of" });
  const results = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Search the memories" },
    field("Question or words", query),
    field("As of (what was true then)", asOf),
    h("div", { class: "field check" }, dormant, h("label", { for: (dormant.id = "search-dormant") }, "Include dormant memories")),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { query: query.value, limit: 10, reinforce: false, include_dormant: dormant.checked };
    if (asOf.value) body.as_of = asOf.value + "T23:59:59Z";
    try {
      const found = await call("POST", ns(namespace) + "/search", { body });
      results.replaceChildren(
        found.hits.length
          ? h("ol", { class: "hits" }, found.hits.map((hit) =>
              h("li", { class: "hit" },
                h("h2", { class: "hit-title" }, h("a", { href: memoryLink(hit.engram) }, hit.engram.text)),
                h("p", { class: "meta" }, `${hit.engram.kind} · ${hit.engram.speaker || "no speaker"} · ${when(hit.engram.occurred_at)} · `,
                  h("strong", {}, `relevance ${percent(hit.relevance)}`)),
                explanationView(hit, table))))
          : h("p", {}, "Nothing relevant was found."),
      );
    } catch (error) {
      results.replaceChildren(refusal(error));
    }
  });
  show(
    h("h1", {}, "Search ", h("q", {}, namespace)),
    h("p", {}, "Each hit shows why it came back, as a bar of the reasons' shares, and how likely it is to be relevant. Searching here does not strengthen the memories it finds."),
    form,
    h("ul", { class: "legend" }, Object.entries(GROUP_COLOURS).map(([group, colour]) => h("li", {}, h("span", { class: "swatch", "data-colour": colour }), group))),
    results,
  );
  query.focus();
  return null;
}

// -- A memory's page --------------------------------------------------------------------------

/** What a delete of ``id`` takes along among ``facts`` (docs/security.md): every fact any one
 * of whose sources goes, transitively. Summaries of its session go too. */
function takenAlong(id, facts) {
  const gone = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const f of facts) {
      if (!gone.has(f.engram_id) && f.sources.some((s) => gone.has(s))) {
        gone.add(f.engram_id);
        grew = true;
      }
    }
  }
  return facts.filter((f) => f.engram_id !== id && gone.has(f.engram_id));
}

export async function memory({ server, args: [namespace, id], show, flash, go }) {
  const base = ns(namespace) + "/engrams/" + id;
  const [engram, history, before, after, facts] = await Promise.all([
    call("GET", base),
    call("GET", base + "/history"),
    call("GET", base + "/neighbours", { query: { before: 2, after: 0 } }),
    call("GET", base + "/neighbours", { query: { before: 0, after: 2 } }),
    call("GET", ns(namespace) + "/facts"),
  ]);
  // the curve from its last use to a little past now, so "now" sits on it
  const lastUsed = Math.max(Date.parse(engram.occurred_at), engram.last_recalled_at ? Date.parse(engram.last_recalled_at) : 0);
  const days = Math.min(36500, Math.max(30, Math.ceil(((Date.now() - lastUsed) / 86400000) * 1.1)));
  const curve = await call("GET", base + "/curve", { query: { days, points: 200 } });
  const status = h("div", { "aria-live": "polite" });
  const asFact = facts.facts.find((f) => f.engram_id === id);
  const produced = facts.facts.filter((f) => f.sources.includes(id));
  const sources = asFact ? await Promise.all(asFact.sources.map((s) =>
    call("GET", ns(namespace) + "/engrams/" + s).catch(() => ({ id: s, namespace, text: "(no longer stored)", kind: "?" })))) : [];

  // Retention: R over the days after its last use, with its recalls and now marked.
  const marks = [{ x: new Date(), label: "now", row: 0 }];
  if (engram.last_recalled_at) marks.push({ x: new Date(engram.last_recalled_at), label: engram.recalls === 1 ? "recalled" : `last of ${engram.recalls} recalls`, row: 1 });
  marks.push({ x: new Date(engram.occurred_at), label: "happened", row: 2 });
  const points = curve.times.map((t, i) => ({ x: new Date(t), y: curve.retention[i] }));
  const retention = lineChart(points, {
    label: `Retention of this memory over ${points.length} points from its last use; stability ${engram.stability_days.toFixed(1)} days`,
    marks: marks.filter((m) => m.x >= points[0].x || m.label === "happened"),
    yLabel: "R",
  });

  const text = h("textarea", { name: "text", rows: 3 }, engram.text);
  const speaker = h("input", { type: "text", name: "speaker", value: engram.speaker || "" });
  const edit = h("form", { class: "card", "aria-label": "Edit this memory" },
    h("h2", {}, "Edit"), field("Text", text), field("Speaker", speaker),
    h("button", { type: "submit" }, "Save a new version"));
  edit.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    if (text.value !== engram.text) body.text = text.value;
    if ((speaker.value || null) !== (engram.speaker || null)) body.speaker = speaker.value || null;
    if (!Object.keys(body).length) return status.replaceChildren(h("p", {}, "Nothing changed."));
    try {
      await call("PATCH", base, { body });
      flash("Saved: a new version, the old one kept in the history.");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      status.replaceChildren(refusal(error));
    }
  });
  const remove = h("button", { type: "button", class: "danger" }, "Delete…");
  remove.addEventListener("click", async () => {
    const along = takenAlong(id, facts.facts);
    // The summary of its session goes too: it may quote it (docs/consolidation.md).
    let summaries = [];
    if (engram.kind === "episode" && engram.session) {
      const found = await call("POST", ns(namespace) + "/search", {
        body: { query: engram.text, kinds: ["summary"], where: { "metadata.session": engram.session }, limit: 5, reinforce: false },
      }).catch(() => ({ hits: [] }));
      summaries = found.hits.map((hit) => hit.engram);
    }
    const yes = await confirmDialog({
      title: "Delete this memory?",
      body: [
        h("p", {}, h("q", {}, engram.text)),
        h("p", {}, "It goes with its whole history and index entries."),
        along.length
          ? [h("p", {}, along.length === 1 ? "The fact learned from it goes too:" : `The ${along.length} facts learned from it go too:`), h("ul", { class: "doomed" }, along.map((f) => h("li", {}, f.text))),
             h("p", {}, "The next consolidation derives again what their other sources say.")]
          : h("p", {}, "No fact was learned from it."),
        summaries.length
          ? [h("p", {}, `The summary of session ${engram.session} goes too (the next consolidation writes a new one from the turns that remain):`),
             h("ul", { class: "doomed" }, summaries.map((e) => h("li", {}, e.text.length > 160 ? e.text.slice(0, 160) + "…" : e.text)))]
          : null,
      ],
      confirm: "Delete",
    });
    if (!yes) return;
    try {
      await call("DELETE", base);
      const derived = along.length + summaries.length;
      flash(`Deleted the memory${derived ? ` and ${derived} derived from it` : ""}.`);
      go(link(namespace, "/facts"));
    } catch (error) {
      status.replaceChildren(refusal(error));
    }
  });

  const versions = history.versions.map((v) =>
    h("tr", {}, h("td", { class: "num" }, v.version), h("td", {}, v.text), h("td", {}, v.speaker || "—"),
      h("td", {}, when(v.valid_from)), h("td", {}, v.valid_to ? when(v.valid_to) : "now (current)")));
  const engramList = (list, empty) => list.length
    ? h("ul", {}, list.map((e) => h("li", {}, h("a", { href: memoryLink({ namespace, id: e.id || e.engram_id }) }, e.text), e.kind ? ` (${e.kind})` : "")))
    : h("p", {}, empty);

  const turns = [...before.neighbours, engram, ...after.neighbours];
  const session = turns.length > 1
    ? h("ol", { class: "session" }, turns.map((e) => h("li", {},
        e.speaker ? h("span", { class: "speaker" }, e.speaker + ": ") : null,
        e.id === id ? h("strong", { "aria-current": "true" }, e.text, " (this memory)") : h("a", { href: memoryLink(e) }, e.text))))
    : h("p", {}, "No neighbouring turn in its session.");
  const times = (n) => (n === 0 ? "never" : n === 1 ? "once" : `${n} times`);

  return [
    h("h1", {}, "Memory"),
    h("blockquote", { class: "memory-text" }, engram.text),
    h("dl", { class: "figures" },
      h("dt", {}, "Kind"), h("dd", {}, engram.kind),
      h("dt", {}, "Speaker"), h("dd", {}, engram.speaker || "—"),
      h("dt", {}, "Session"), h("dd", {}, engram.session || "—"),
      h("dt", {}, "Happened"), h("dd", {}, when(engram.occurred_at)),
      h("dt", {}, "Stored"), h("dd", {}, when(engram.recorded_at)),
      h("dt", {}, "Feeling"), h("dd", {}, `${engram.emotion} (valence ${engram.valence.toFixed(2)}, arousal ${engram.arousal.toFixed(2)})`),
      h("dt", {}, "Importance"), h("dd", {}, engram.importance.toFixed(2)),
      h("dt", {}, "Recalled"), h("dd", {}, times(engram.recalls) + (engram.last_recalled_at ? `, last on ${when(engram.last_recalled_at)}` : "")),
      h("dt", {}, "State"), h("dd", {}, engram.dormant ? "dormant (left out of default search)" : "active"),
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, engram.id))),
    h("section", {}, h("h2", {}, "Around it in its session"), session),
    h("section", {}, h("h2", {}, "Provenance"),
      asFact ? [h("h3", {}, "The memories this fact came from"), engramList(sources, "No source kept.")] : null,
      h("h3", {}, "Facts learned from it"), engramList(produced.map((f) => ({ id: f.engram_id, text: `${f.text} (${f.status})` })), "None yet.")),
    h("section", {}, h("h2", {}, "Version history"),
      table(["Version", "Text", "Speaker", "Valid from", "Valid until"], versions, "Every version with its validity interval")),
    h("section", {}, h("h2", {}, "Retention"),
      h("p", {}, `How strongly it is held: R falls from 1 after each use; each recall makes it fall more slowly. Stability ${engram.stability_days.toFixed(1)} days.`),
      retention),
    h("section", {}, h("h2", {}, "Actions"), edit, remove, status),
  ];
}

// -- Facts --------------------------------------------------------------------------------------

export async function facts({ args: [namespace], show }) {
  const asOf = h("input", { type: "date", name: "as_of" });
  const superseded = h("input", { type: "checkbox", name: "superseded", checked: true });
  const results = h("div", { "aria-live": "polite" });
  async function load() {
    try {
      const query = asOf.value ? { as_of: asOf.value + "T23:59:59Z" } : {};
      const found = await call("GET", ns(namespace) + "/facts", { query });
      let list = found.facts;
      if (asOf.value) {
        const at = asOf.value + "T23:59:59Z";
        list = list.filter((f) => f.valid_from <= at && (!f.valid_to || at < f.valid_to) && f.status !== "stale");
      } else if (!superseded.checked) list = list.filter((f) => f.status === "current");
      const caption = asOf.value ? `What was true on ${asOf.value}: ${list.length} facts` : `${list.length} facts`;
      results.replaceChildren(list.length
        ? table(["Subject", "Attribute", "Value", "Status", "True from", "True until", "Learned"], list.map((f) =>
            h("tr", { class: f.status },
              h("td", {}, f.subject), h("td", {}, f.attribute),
              h("td", {}, h("a", { href: link(namespace, "/memory/" + f.engram_id) }, f.value)),
              h("td", {}, f.status), h("td", {}, day(f.valid_from)), h("td", {}, f.valid_to ? day(f.valid_to) : "—"),
              h("td", {}, day(f.recorded_at)))), caption)
        : h("p", {}, asOf.value ? `No fact was true on ${asOf.value}.` : "No fact yet: run consolidation to learn facts from the episodes."));
    } catch (error) {
      results.replaceChildren(refusal(error));
    }
  }
  asOf.addEventListener("change", load);
  superseded.addEventListener("change", load);
  show(
    h("h1", {}, "Facts of ", h("q", {}, namespace)),
    h("p", {}, "What consolidation learned from the episodes. A changed fact is not overwritten: the old value is kept, superseded, with the time it stopped being true."),
    h("form", { class: "filters", "aria-label": "Choose the facts" },
      field("As of (what was true on this date)", asOf),
      h("div", { class: "field check" }, superseded, h("label", { for: (superseded.id = "facts-superseded") }, "Show superseded facts"))),
    results,
  );
  await load();
  return null;
}

// -- Consolidation ------------------------------------------------------------------------------

export async function consolidation({ server, args: [namespace], show }) {
  const results = h("div", { "aria-live": "polite" });
  const run = h("button", { type: "button" }, "Run consolidation now");
  run.addEventListener("click", async () => {
    run.disabled = true;
    try {
      const r = await call("POST", ns(namespace) + "/consolidate");
      results.replaceChildren(h("h2", {}, "This run"), h("dl", { class: "figures" },
        [["Episodes read", r.episodes], ["New facts", r.facts], ["Merged into a known fact", r.merged], ["Facts superseded", r.superseded],
         ["Derived facts made stale", r.stale], ["Near-duplicate episodes", r.duplicates], ["Summaries written", r.summaries],
         ["Still pending", r.pending], ["Took", r.seconds.toFixed(2) + " s"]].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
      await past();
    } catch (error) {
      results.replaceChildren(refusal(error));
    } finally {
      run.disabled = false;
    }
  });
  const history = h("div", {});
  async function past() {
    if (server.key.access !== "admin") {
      history.replaceChildren(h("p", {}, "Past runs are read from the audit log, which only an admin key may read."));
      return;
    }
    try {
      const found = await call("GET", "/v1/audit", { query: { namespace, limit: 500 } });
      const runs = found.entries.filter((e) => e.action === "consolidate");
      history.replaceChildren(runs.length
        ? table(["When", "By", "Episodes read", "Result"], runs.map((e) => h("tr", {},
            h("td", {}, when(e.at)), h("td", {}, e.actor), h("td", { class: "num" }, e.count ?? "—"),
            h("td", {}, e.status === 0 || (e.status >= 200 && e.status < 300) ? "done" : `refused (${e.status})`))), "Consolidation runs, newest first")
        : h("p", {}, "No run recorded yet."));
    } catch (error) {
      history.replaceChildren(refusal(error));
    }
  }
  const s = server.consolidation;
  show(
    h("h1", {}, "Consolidation of ", h("q", {}, namespace)),
    h("p", {}, "Consolidation reads new episodes and learns facts and session summaries from them; a repeat changes nothing."),
    h("p", {}, s.every_s > 0
      ? `The server consolidates every ${s.every_s} s in the background: ${s.runs} runs, ${s.episodes} episodes, ${s.facts} facts, ${s.summaries} summaries, ${s.failures} failures since it started${s.last_run_at ? ", the last at " + when(s.last_run_at) : ""}.`
      : "Background consolidation is off on this server."),
    run, results,
    h("section", {}, h("h2", {}, "Past runs"), history),
  );
  await past();
  return null;
}

// -- Audit log ------------------------------------------------------------------------------------

export async function audit({ server }) {
  try {
    const found = await call("GET", "/v1/audit", { query: { limit: 500 } });
    return [
      h("h1", {}, "Audit log"),
      h("p", {}, "Who did what to which namespace, and when. Never any memory content."),
      table(["When", "Who", "Action", "Namespace", "Memory", "Status", "Count"], found.entries.map((e) =>
        h("tr", {}, h("td", {}, when(e.at)), h("td", {}, e.actor), h("td", {}, e.action), h("td", {}, e.namespace || "—"),
          h("td", {}, e.target ? h("code", {}, e.target.slice(0, 8)) : "—"), h("td", { class: "num" }, e.status || "local"),
          h("td", { class: "num" }, e.count ?? "—"))), found.more ? "The newest 500 entries" : `${found.entries.length} entries`),
    ];
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403) throw error;
    return [h("h1", {}, "Audit log"), refusal(error)];
  }
}
