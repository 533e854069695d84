// The error classes of the client: the tree of engramdb.errors, as far as a client can
// see it. The server answers every error as {"error": {"code", "message"}}; the code
// decides the class (ERROR_CLASS_NAMES, generated from the server's table), so code
// that catches NotFoundError works against any engramdb server.

import { ERROR_CLASS_NAMES, type ErrorClassName } from "./schema.js";

export interface EngramErrorOptions {
  /** The server's error code, e.g. "not_found"; "" when it sent none. */
  code?: string;
  /** The HTTP status; null when no answer came back. */
  status?: number | null;
  cause?: unknown;
}

/** Root of every error the client raises on purpose. */
export class EngramError extends Error {
  readonly code: string;
  readonly status: number | null;

  constructor(message: string, options: EngramErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? "";
    this.status = options.status ?? null;
  }
}

/** A value was refused: malformed, or not what the server's schema admits (422, 400). */
export class InvalidInputError extends EngramError {}

/** A value is above a documented limit: text, metadata, batch, query, body (413). */
export class LimitExceededError extends InvalidInputError {}

/** An idempotency key was used before with other content (409). */
export class ConflictError extends InvalidInputError {}

/** No such memory in this namespace (404). */
export class NotFoundError extends EngramError {}

/** The server's store failed, or the server could not be reached (503). */
export class StoreError extends EngramError {}

/** A value of the server's store failed to decrypt (503). */
export class DecryptionError extends StoreError {}

/** The server's embedding model failed (503). */
export class EmbeddingError extends EngramError {}

/** No API key, a bad one, or one whose scope does not cover the request (401, 403). */
export class AccessDeniedError extends EngramError {}

/** The key is over its rate limit (429); `retryAfterS` says when to try again. */
export class RateLimitedError extends EngramError {
  readonly retryAfterS: number | null;

  constructor(message: string, options: EngramErrorOptions & { retryAfterS?: number | null } = {}) {
    super(message, options);
    this.retryAfterS = options.retryAfterS ?? null;
  }
}

/** The server was installed without the optional extra a feature needs (501). */
export class MissingExtraError extends EngramError {}

// Every class the generated table names must exist here: tsc refuses this object otherwise.
const CLASSES: {
  readonly [K in ErrorClassName]: new (message: string, options?: EngramErrorOptions) => EngramError;
} = {
  AccessDeniedError,
  ConflictError,
  DecryptionError,
  EmbeddingError,
  EngramError,
  InvalidInputError,
  LimitExceededError,
  MissingExtraError,
  NotFoundError,
  RateLimitedError,
  StoreError,
};

/** The error an answer of status >= 400 stands for. */
export function errorFromAnswer(status: number, text: string, retryAfter: string | null): EngramError {
  let code = "";
  let message = `HTTP ${status}: ${text.slice(0, 200)}`;
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (error && typeof error.code === "string" && typeof error.message === "string") {
      code = error.code;
      message = error.message;
    }
  } catch {
    // not JSON: a proxy's page, say; the status and the start of the text say enough
  }
  const name: ErrorClassName = code
    ? (ERROR_CLASS_NAMES[code] ?? "EngramError")
    : status >= 500
      ? "StoreError"
      : "EngramError";
  if (name === "RateLimitedError") {
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
    return new RateLimitedError(message, { code, status, retryAfterS: seconds });
  }
  return new CLASSES[name](message, { code, status });
}
