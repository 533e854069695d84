// EngramClient: the methods of the Python engramdb.Client, over fetch.
//
// Names are the Python client's in camelCase (addMany, forgetNamespace); options and
// answers are the server's JSON, field for field (snake_case: occurred_at, min_relevance),
// typed from its OpenAPI document (schema.ts, generated). A time sent may be a Date or an
// ISO 8601 string with a timezone; a time received is an ISO 8601 string in UTC.

import { EngramError, InvalidInputError, StoreError, errorFromAnswer } from "./errors.js";
import {
  PATH_PARAMETERS,
  type AuditOut,
  type BatchItemIn,
  type BudgetIn,
  type BudgetOut,
  type ConceptOut,
  type ConsolidationOut,
  type ContextIn,
  type ContextOut,
  type CurveOut,
  type DeleteWhereIn,
  type DeletionOut,
  type EngramIn,
  type EngramOut,
  type EngramPatch,
  type ExperienceHitOut,
  type ExperienceIn,
  type ExperienceOut,
  type FactOut,
  type FeedbackOut,
  type HitOut,
  type ListIn,
  type MoodOut,
  type Operations,
  type PageOut,
  type ProfileEntryOut,
  type ProfileProposalOut,
  type RecallExperiencesIn,
  type SearchIn,
  type ServerOut,
  type StatsOut,
  type TtlOut,
  type VersionOut,
  type WeightsOut,
} from "./schema.js";

/** Where the server is and how to reach it. */
export interface ClientOptions {
  /** The server's base URL, e.g. "http://127.0.0.1:8765". */
  url: string;
  /** An API key made by `engram keys create` (eng_<id>_<secret>). */
  apiKey?: string;
  /** How long one request may take before it fails with a StoreError. Default: 30,000. */
  timeoutMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Headers sent with every request, beside the key. */
  headers?: Record<string, string>;
}

/** Which namespace an operation acts on (default: "default", as in Python). */
export interface InNamespace {
  namespace?: string;
}

export type AddOptions = Omit<EngramIn, "text"> & InNamespace;
export type AddManyOptions = InNamespace & { embed?: EngramIn["embed"] };
export type UpdateOptions = EngramPatch & InNamespace;
export type DeleteWhereOptions = DeleteWhereIn & InNamespace;
/** A search of one namespace, or of several: `namespaces` or `namespace_prefix`
 * instead of `namespace` (docs/scopes.md). */
export type SearchOptions = Omit<SearchIn, "query"> &
  InNamespace & { namespaces?: string[]; namespace_prefix?: string };
export type ListOptions = ListIn & InNamespace;
export type ContextOptions = Omit<ContextIn, "query"> & InNamespace;
export type QueryOf<K extends keyof Operations> = Operations[K]["query"];
export type FactsOptions = QueryOf<"GET /v1/namespaces/{namespace}/facts"> & InNamespace;
export type CurveOptions = QueryOf<"GET /v1/namespaces/{namespace}/engrams/{id}/curve"> & InNamespace;
export type NeighboursOptions = QueryOf<"GET /v1/namespaces/{namespace}/engrams/{id}/neighbours"> &
  InNamespace;
export type RetentionOptions = QueryOf<"GET /v1/namespaces/{namespace}/engrams/{id}/retention"> & InNamespace;
export type WorkingOptions = QueryOf<"GET /v1/namespaces/{namespace}/sessions/{session}/working"> &
  InNamespace & { session: string };
export type MoodOptions = QueryOf<"GET /v1/namespaces/{namespace}/mood"> & InNamespace;
export type AuditOptions = QueryOf<"GET /v1/audit">;
export type ProfileOptions = QueryOf<"GET /v1/namespaces/{namespace}/profile"> & InNamespace;
export type PinOptions = InNamespace & { source_id?: string | null };
export type AtTime = InNamespace & { now?: string | Date | null };
export type BudgetOptions = BudgetIn & InNamespace;
/** The search a hit given by its memory's id came from, and when it was judged. */
export type FeedbackOptions = InNamespace & { search_id?: string; now?: string | Date | null };
export type RecordExperienceOptions = Pick<ExperienceIn, "outcome" | "occurred_at"> & InNamespace;
export type RecallExperiencesOptions = Omit<RecallExperiencesIn, "situation"> & InNamespace;

const DEFAULT_NAMESPACE = "default";

export class EngramClient {
  readonly url: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    if (!/^https?:\/\//.test(options.url)) {
      throw new InvalidInputError(`the server's URL must start with http:// or https://: ${options.url}`);
    }
    this.url = options.url.replace(/\/+$/, "");
    this.#headers = { Accept: "application/json", ...options.headers };
    if (options.apiKey !== undefined) this.#headers.Authorization = `Bearer ${options.apiKey}`;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    if (typeof this.#fetch !== "function") {
      throw new EngramError("no fetch: use Node 18 or later, or pass options.fetch");
    }
  }

  // -- writes ---------------------------------------------------------------------

  /** Remember one experience; the memory as stored, or the one already holding it (`repeated`). */
  async add(text: string, options: AddOptions = {}): Promise<EngramOut> {
    const { namespace, ...fields } = options;
    return this.#call("POST /v1/namespaces/{namespace}/engrams", ns(namespace), undefined, {
      text,
      ...fields,
    });
  }

  /** Remember several experiences in one transaction (all or none). */
  async addMany(items: BatchItemIn[], options: AddManyOptions = {}): Promise<EngramOut[]> {
    if (!Array.isArray(items)) throw new InvalidInputError("items must be an array (one object per memory)");
    if (items.length === 0) return [];
    const body = options.embed == null ? { items } : { items, embed: options.embed };
    const found = await this.#call(
      "POST /v1/namespaces/{namespace}/engrams/batch",
      ns(options.namespace),
      undefined,
      body,
    );
    return found.engrams;
  }

  /** Write a new version; the old one stays in `history` with its validity closed. */
  async update(id: string, options: UpdateOptions = {}): Promise<EngramOut> {
    const { namespace, ...fields } = options;
    return this.#call(
      "PATCH /v1/namespaces/{namespace}/engrams/{id}",
      { ...ns(namespace), id },
      undefined,
      fields,
    );
  }

  /** Remove a memory with its whole history and index entries. */
  async delete(id: string, options: InNamespace = {}): Promise<void> {
    await this.#call("DELETE /v1/namespaces/{namespace}/engrams/{id}", { ...ns(options.namespace), id });
  }

  /** Delete every memory that passes the filter (at least one condition), with the
   * facts and summaries it takes along; `dry_run` reports what would go and deletes
   * nothing (docs/security.md, "Delete by filter"). */
  async deleteWhere(options: DeleteWhereOptions): Promise<DeletionOut> {
    const { namespace, ...fields } = options;
    return this.#call("POST /v1/namespaces/{namespace}/delete-where", ns(namespace), undefined, fields);
  }

  /** Erase a namespace entirely; how many memories it held. */
  async forgetNamespace(namespace: string): Promise<number> {
    return (await this.#call("DELETE /v1/namespaces/{namespace}", { namespace })).forgotten;
  }

  // -- reads ----------------------------------------------------------------------

  async get(id: string, options: InNamespace = {}): Promise<EngramOut> {
    return this.#call("GET /v1/namespaces/{namespace}/engrams/{id}", { ...ns(options.namespace), id });
  }

  /** Every version of a memory, oldest first, with validity intervals. */
  async history(id: string, options: InNamespace = {}): Promise<VersionOut[]> {
    const path = { ...ns(options.namespace), id };
    return (await this.#call("GET /v1/namespaces/{namespace}/engrams/{id}/history", path)).versions;
  }

  /** The memories most relevant to `query`, best first, each explained; of several
   * namespaces with `namespaces` or `namespace_prefix`, ranked by relevance, each hit
   * naming its namespace (`POST /v1/search`, docs/scopes.md). */
  async search(query: string, options: SearchOptions = {}): Promise<HitOut[]> {
    const { namespace, namespaces, namespace_prefix, ...fields } = options;
    if (namespaces === undefined && namespace_prefix === undefined) {
      const found = await this.#call("POST /v1/namespaces/{namespace}/search", ns(namespace), undefined, {
        query,
        ...fields,
      });
      return found.hits;
    }
    if (namespace !== undefined && namespace !== "default") {
      throw new InvalidInputError(
        "give namespace, or namespaces / namespace_prefix to search several, not both",
      );
    }
    const scope = namespaces !== undefined ? { namespaces } : { namespace_prefix };
    const found = await this.#call("POST /v1/search", {}, undefined, { query, ...fields, ...scope });
    return found.hits;
  }

  /** A page of the namespace's memories in time order and the cursor of the next page:
   * pass `next_cursor` back as `cursor` (null on the last page; docs/scopes.md). */
  async list(options: ListOptions = {}): Promise<PageOut> {
    const { namespace, ...fields } = options;
    return this.#call("POST /v1/namespaces/{namespace}/list", ns(namespace), undefined, fields);
  }

  /** Turn the namespace's new episodes into facts and summaries; idempotent. */
  async consolidate(options: AtTime = {}): Promise<ConsolidationOut> {
    const body = options.now == null ? {} : { now: options.now };
    return this.#call("POST /v1/namespaces/{namespace}/consolidate", ns(options.namespace), undefined, body);
  }

  /** Consolidated facts, every past value included; with `as_of`, those that held then. */
  async facts(options: FactsOptions = {}): Promise<FactOut[]> {
    const { namespace, ...query } = options;
    return (await this.#call("GET /v1/namespaces/{namespace}/facts", ns(namespace), query)).facts;
  }

  // -- learning (docs/learning.md) ------------------------------------------------

  /** Remember what was done in a situation and how well it worked (reward -1 to 1). */
  async recordExperience(
    situation: string,
    action: string,
    reward: number,
    options: RecordExperienceOptions = {},
  ): Promise<ExperienceOut> {
    const { namespace, ...fields } = options;
    return this.#call("POST /v1/namespaces/{namespace}/experiences", ns(namespace), undefined, {
      situation,
      action,
      reward,
      ...fields,
    });
  }

  /** The experiences of similar situations, the most useful first (similarity and reward). */
  async recallExperiences(
    situation: string,
    options: RecallExperiencesOptions = {},
  ): Promise<ExperienceHitOut[]> {
    const { namespace, ...fields } = options;
    const found = await this.#call(
      "POST /v1/namespaces/{namespace}/experiences/recall",
      ns(namespace),
      undefined,
      { situation, ...fields },
    );
    return found.experiences;
  }

  /** Teach a concept from examples (one is enough), or refine it with more. */
  async teach(concept: string, examples: string[], options: InNamespace = {}): Promise<ConceptOut> {
    return this.#call("POST /v1/namespaces/{namespace}/concepts", ns(options.namespace), undefined, {
      concept,
      examples,
    });
  }

  /** The namespace's concepts with their examples, threshold and tagged memories. */
  async concepts(options: InNamespace = {}): Promise<ConceptOut[]> {
    return (await this.#call("GET /v1/namespaces/{namespace}/concepts", ns(options.namespace))).concepts;
  }

  /** Compute every concept's prototype again from its examples. */
  async retag(options: InNamespace = {}): Promise<ConceptOut[]> {
    return (await this.#call("POST /v1/namespaces/{namespace}/concepts/retag", ns(options.namespace)))
      .concepts;
  }

  // -- the pinned profile (docs/profile.md) -----------------------------------------

  /** Pin `text` under `key`: every context shows it first; a new version when `key` is pinned. */
  async pin(key: string, text: string, options: PinOptions = {}): Promise<ProfileEntryOut> {
    const { namespace, ...fields } = options;
    return this.#call("PUT /v1/namespaces/{namespace}/profile/{key}", { ...ns(namespace), key }, undefined, {
      text,
      ...fields,
    });
  }

  /** Stop showing `key`; its version, closed (kept in `profile({ history: true })`). */
  async unpin(key: string, options: InNamespace = {}): Promise<ProfileEntryOut> {
    return this.#call("DELETE /v1/namespaces/{namespace}/profile/{key}", { ...ns(options.namespace), key });
  }

  /** The pinned entries by key: now, at `as_of`, or every version with `history`. */
  async profile(options: ProfileOptions = {}): Promise<ProfileEntryOut[]> {
    const { namespace, ...query } = options;
    return (await this.#call("GET /v1/namespaces/{namespace}/profile", ns(namespace), query)).entries;
  }

  /** Entries proposed from stable facts; accept one with `pin(key, text, { source_id })`. */
  async profileProposals(options: InNamespace = {}): Promise<ProfileProposalOut[]> {
    const path = ns(options.namespace);
    return (await this.#call("GET /v1/namespaces/{namespace}/profile-proposals", path)).proposals;
  }

  // -- memory dynamics ------------------------------------------------------------

  /** Have the server write its queued recalls now (an admin key); how many memories. */
  async flush(): Promise<number> {
    return (await this.#call("POST /v1/flush", {})).flushed;
  }

  /** R(now) of a memory on its forgetting curve. */
  async retention(id: string, options: RetentionOptions = {}): Promise<number> {
    const { namespace, ...query } = options;
    const path = { ...ns(namespace), id };
    return (await this.#call("GET /v1/namespaces/{namespace}/engrams/{id}/retention", path, query)).retention;
  }

  /** A memory's forgetting curve from its last use: times and R values. */
  async curve(id: string, options: CurveOptions = {}): Promise<Pick<CurveOut, "times" | "retention">> {
    const { namespace, ...query } = options;
    const found = await this.#call(
      "GET /v1/namespaces/{namespace}/engrams/{id}/curve",
      { ...ns(namespace), id },
      query,
    );
    return { times: found.times, retention: found.retention };
  }

  /** The turns around a memory in its session (not including it), in order. */
  async neighbours(id: string, options: NeighboursOptions = {}): Promise<EngramOut[]> {
    const { namespace, ...query } = options;
    const path = { ...ns(namespace), id };
    return (await this.#call("GET /v1/namespaces/{namespace}/engrams/{id}/neighbours", path, query))
      .neighbours;
  }

  /** Store the namespace's budget; both bounds null (or absent) removes it. */
  async setBudget(options: BudgetOptions = {}): Promise<BudgetOut> {
    const body = { max_memories: options.max_memories ?? null, max_bytes: options.max_bytes ?? null };
    return this.#call("PUT /v1/namespaces/{namespace}/budget", ns(options.namespace), undefined, body);
  }

  /** The namespace's stored budget, or null when it has none. */
  async budget(options: InNamespace = {}): Promise<BudgetOut | null> {
    const found = await this.#call("GET /v1/namespaces/{namespace}/budget", ns(options.namespace));
    return found.max_memories === null && found.max_bytes === null ? null : found;
  }

  // -- expiry (docs/expiry.md) ----------------------------------------------------

  /** Set, move or clear (null) when a memory expires, without writing a new version. */
  async setExpiry(
    id: string,
    expiresAt: string | Date | null,
    options: InNamespace = {},
  ): Promise<EngramOut> {
    const path = { ...ns(options.namespace), id };
    const body = { expires_at: expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt };
    return this.#call("PUT /v1/namespaces/{namespace}/engrams/{id}/expiry", path, undefined, body);
  }

  /** Store the namespace's default time to live in seconds (memories added without their
   * own expires_at expire that long after they were recorded); null removes it. */
  async setTtl(ttlS: number | null, options: InNamespace = {}): Promise<TtlOut> {
    return this.#call("PUT /v1/namespaces/{namespace}/ttl", ns(options.namespace), undefined, {
      ttl_s: ttlS,
    });
  }

  /** The namespace's default time to live in seconds, or null when it has none. */
  async ttl(options: InNamespace = {}): Promise<number | null> {
    return (await this.#call("GET /v1/namespaces/{namespace}/ttl", ns(options.namespace))).ttl_s;
  }

  /** Erase the expired memories of `namespace` (absent: of every namespace the key may
   * write), with what they take along; one deletion per namespace that had some. */
  async purge(options: { namespace?: string } = {}): Promise<DeletionOut[]> {
    const found =
      options.namespace === undefined
        ? await this.#call("POST /v1/purge", {})
        : await this.#call("POST /v1/namespaces/{namespace}/purge", ns(options.namespace));
    return found.deletions;
  }

  /** Make dormant what has faded at `now` or exceeds the budget; how many did. */
  async fade(options: AtTime = {}): Promise<number> {
    const body = options.now == null ? {} : { now: options.now };
    return (await this.#call("POST /v1/namespaces/{namespace}/fade", ns(options.namespace), undefined, body))
      .dormant;
  }

  // -- learning (docs/learning.md) ------------------------------------------------

  /** Judge a hit of a search: reward -1 to 1 (useful 1, not useful -1); the server that
   * ran the search learns the namespace's ranker weights from it. */
  async feedback(hit: HitOut | string, reward: number, options: FeedbackOptions = {}): Promise<FeedbackOut> {
    const engramId = typeof hit === "string" ? hit : hit.engram.id;
    const searchId = options.search_id ?? (typeof hit === "string" ? undefined : hit.search_id);
    if (!searchId) {
      throw new InvalidInputError("feedback needs the search_id of the search that returned it");
    }
    const body = { search_id: searchId, engram_id: engramId, reward, now: options.now ?? null };
    return this.#call("POST /v1/namespaces/{namespace}/feedback", ns(options.namespace), undefined, body);
  }

  /** The namespace's ranker weights, each with the prior's and its shift from it. */
  async weights(options: InNamespace = {}): Promise<WeightsOut> {
    return this.#call("GET /v1/namespaces/{namespace}/weights", ns(options.namespace));
  }

  /** Rank with the prior again; the namespace's learned weights and feedback go. */
  async resetWeights(options: InNamespace = {}): Promise<WeightsOut> {
    return this.#call("DELETE /v1/namespaces/{namespace}/weights", ns(options.namespace));
  }

  // -- working memory and context -------------------------------------------------

  /** What to put in a prompt now, within `budget_tokens`; `text` is it rendered. */
  async context(query: string, options: ContextOptions = {}): Promise<ContextOut> {
    const { namespace, ...fields } = options;
    return this.#call("POST /v1/namespaces/{namespace}/context", ns(namespace), undefined, {
      query,
      ...fields,
    });
  }

  /** The session's latest turns, oldest first. */
  async working(options: WorkingOptions): Promise<EngramOut[]> {
    const { namespace, session, ...query } = options;
    const path = { ...ns(namespace), session };
    return (await this.#call("GET /v1/namespaces/{namespace}/sessions/{session}/working", path, query)).turns;
  }

  /** Valence and arousal over the last `window_days` (default 7). */
  async mood(options: MoodOptions = {}): Promise<MoodOut> {
    const { namespace, ...query } = options;
    return this.#call("GET /v1/namespaces/{namespace}/mood", ns(namespace), query);
  }

  // -- namespaces and the server --------------------------------------------------

  /** The namespaces the key covers. */
  async namespaces(): Promise<string[]> {
    return (await this.#call("GET /v1/namespaces", {})).namespaces;
  }

  async stats(options: InNamespace = {}): Promise<StatsOut> {
    return this.#call("GET /v1/namespaces/{namespace}/stats", ns(options.namespace));
  }

  /** The stats of every namespace the key covers. */
  async allStats(): Promise<StatsOut[]> {
    return (await this.#call("GET /v1/stats", {})).namespaces;
  }

  /** What this server is (version, encryption, background consolidation) and the key asking. */
  async server(): Promise<ServerOut> {
    return this.#call("GET /v1/server", {});
  }

  /** The audit log, newest first: who did what to which namespace and when (an admin key). */
  async audit(options: AuditOptions = {}): Promise<AuditOut> {
    return this.#call("GET /v1/audit", {}, options);
  }

  /** The server's health: `{status: "ok", version}`; needs no key. */
  async health(): Promise<Operations["GET /healthz"]["response"]> {
    return this.#call("GET /healthz", {});
  }

  /** Prometheus metrics, as text (an admin key). */
  async metrics(): Promise<string> {
    return this.#call("GET /metrics", {});
  }

  // -- the wire -------------------------------------------------------------------

  async #call<K extends keyof Operations>(
    route: K,
    path: Operations[K]["path"],
    query?: Operations[K]["query"],
    body?: Operations[K]["body"],
  ): Promise<Operations[K]["response"]> {
    const [method, template] = (route as string).split(" ", 2) as [string, string];
    const segments = path as Record<string, string>;
    const url =
      this.url +
      template.replace(/\{(\w+)\}/g, (_, name: string) => segment(name, segments[name])) +
      queryString(query as Record<string, unknown> | undefined);
    const headers = { ...this.#headers };
    let payload: string | undefined;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new StoreError(`cannot reach the engramdb server at ${this.url}: ${String(cause)}`, { cause });
    }
    const text = await response.text();
    if (response.status >= 400)
      throw errorFromAnswer(response.status, text, response.headers.get("Retry-After"));
    const type = response.headers.get("Content-Type") ?? "";
    if (!type.includes("json")) return text as Operations[K]["response"];
    try {
      return JSON.parse(text) as Operations[K]["response"];
    } catch (cause) {
      throw new StoreError(`the server's answer is not JSON: ${text.slice(0, 200)}`, { cause });
    }
  }
}

function ns(namespace: string | undefined): { namespace: string } {
  return { namespace: namespace ?? DEFAULT_NAMESPACE };
}

/** A path segment checked as the server would check it, then percent-encoded: a value
 * such as ".." or "a/b" would otherwise name another route. */
function segment(name: string, value: unknown): string {
  const rule = PATH_PARAMETERS[name];
  const fits =
    typeof value === "string" &&
    value !== "." &&
    value !== ".." &&
    (rule === undefined ||
      (rule.pattern.test(value) && (rule.maxLength === null || value.length <= rule.maxLength)));
  if (!fits)
    throw new InvalidInputError(`${JSON.stringify(value)} is not a valid ${name}`, { code: "invalid_input" });
  return encodeURIComponent(value);
}

function queryString(query: Record<string, unknown> | undefined): string {
  if (query === undefined) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    params.set(key, value instanceof Date ? value.toISOString() : String(value));
  }
  const shown = params.toString();
  return shown ? `?${shown}` : "";
}
