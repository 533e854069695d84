// The REST API as the dashboard uses it: the key of this browser session, JSON in and out,
// and refusals as ApiError with the server's own code and message (docs/server.md).

const KEY = "engramdb.key";
// Where the server's routes start: "" at the root, "/prefix" behind a proxy that mounts
// it there (the page is served with it: engramdb/server/ui/__init__.py).
const ROOT = document.querySelector('meta[name="engramdb-root"]')?.content || "";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function key() {
  return sessionStorage.getItem(KEY);
}

export function setKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export async function call(method, path, { body, query, token } = {}) {
  let url = ROOT + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
    }
    const text = params.toString();
    if (text) url += "?" + text;
  }
  const headers = { Accept: "application/json" };
  const secret = token ?? key();
  if (secret) headers.Authorization = "Bearer " + secret;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "network", "the server did not answer: " + error.message);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "error", error.message || text || response.statusText);
  }
  return data;
}

export const ns = (namespace) => "/v1/namespaces/" + encodeURIComponent(namespace);

let schema = null;

/** The server's OpenAPI document (open, no key), read once: which routes it has. */
export async function routes() {
  if (schema === null) {
    const response = await fetch(ROOT + "/openapi.json");
    schema = response.ok ? await response.json() : { paths: {} };
  }
  return schema.paths;
}
