// engramdb for TypeScript: a client of `engram serve` over fetch, with no dependencies.

export {
  EngramClient,
  type AddManyOptions,
  type AddOptions,
  type AtTime,
  type AuditOptions,
  type BudgetOptions,
  type ClientOptions,
  type ContextOptions,
  type CurveOptions,
  type DeleteWhereOptions,
  type FactsOptions,
  type InNamespace,
  type MoodOptions,
  type NeighboursOptions,
  type RetentionOptions,
  type SearchOptions,
  type UpdateOptions,
  type WorkingOptions,
} from "./client.js";
export {
  AccessDeniedError,
  ConflictError,
  DecryptionError,
  EmbeddingError,
  EngramError,
  type EngramErrorOptions,
  InvalidInputError,
  LimitExceededError,
  MissingExtraError,
  NotFoundError,
  RateLimitedError,
  StoreError,
} from "./errors.js";
export type * from "./schema.js";
export { SERVER_VERSION } from "./schema.js";

import type { EngramOut, FactOut, HitOut, VersionOut } from "./schema.js";
/** A memory, as the server answers it. */
export type Engram = EngramOut;
/** A search hit: the memory, its rank, score, calibrated relevance and explanation. */
export type Hit = HitOut;
export type Fact = FactOut;
export type Version = VersionOut;
