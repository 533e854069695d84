// The dashboard's shell: sign-in with a key, the navigation, and one page per location hash.
// Pages are modules (page-*.js); each renders into <main> from the REST API's answers.

import { ApiError, call, key, setKey } from "./api.js";
import { h, field, refusal } from "./dom.js";
import * as pages from "./pages.js";

const main = document.getElementById("main");
let server = null; // GET /v1/server: the version, encryption and this key

function flash(text) {
  const box = document.getElementById("flash");
  box.textContent = text;
  if (text) setTimeout(() => box.textContent === text && (box.textContent = ""), 8000);
}

function show(...nodes) {
  main.replaceChildren(...nodes);
  const heading = main.querySelector("h1");
  document.title = (heading ? heading.textContent + " · " : "") + "engramdb dashboard";
  main.focus({ preventScroll: true });
}

function renderNav(namespace) {
  const nav = document.getElementById("nav");
  const links = [["#/", "Namespaces"]];
  if (namespace) {
    const base = "#/ns/" + encodeURIComponent(namespace);
    links.push(
      [base, "Overview"],
      [base + "/timeline", "Timeline"],
      [base + "/search", "Search"],
      [base + "/facts", "Facts"],
      [base + "/consolidation", "Consolidation"],
    );
  }
  links.push(["#/audit", "Audit log"]);
  const here = location.hash || "#/";
  nav.replaceChildren(
    h("ul", {}, links.map(([href, text]) => h("li", {}, h("a", { href, "aria-current": href === here ? "page" : null }, text)))),
  );
  const who = document.getElementById("who");
  if (server) {
    const all = !server.key.namespaces.length || server.key.namespaces.includes("*");
    const scope = all ? "every namespace" : server.key.namespaces.join(", ");
    who.replaceChildren(
      h("span", { class: "badge " + server.key.access }, server.key.access + " key"),
      ` ${server.key.name} (${scope}) `,
      key() ? h("button", { type: "button", onclick: signOut }, "Sign out") : "(a server without keys)",
    );
  } else who.replaceChildren();
}

function signOut() {
  setKey(null);
  server = null;
  if (location.hash === "#/login") loginPage();
  else location.hash = "#/login";
}

function loginPage(message) {
  renderNav(null);
  const input = h("input", { type: "password", name: "key", autocomplete: "off", required: true, placeholder: "eng_…" });
  const status = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card login" },
    field("API key", input, "Kept in this browser tab only (session storage) and sent with each request."),
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      server = await call("GET", "/v1/server", { token: input.value.trim() });
      setKey(input.value.trim());
      if (location.hash === "#/") route();
      else location.hash = "#/";
    } catch (error) {
      status.replaceChildren(refusal(error));
    }
  });
  show(
    h("h1", {}, "Sign in"),
    h("p", {}, "A read key sees and searches, a write key also edits and deletes, an admin key also reads the audit log."),
    message ? h("p", { class: "refusal", role: "alert" }, message) : null,
    form,
  );
  input.focus();
}

const ROUTES = [
  [/^#\/?$/, () => pages.namespaces],
  [/^#\/audit$/, () => pages.audit],
  [/^#\/ns\/([^/]+)$/, () => pages.overview],
  [/^#\/ns\/([^/]+)\/timeline$/, () => pages.timeline],
  [/^#\/ns\/([^/]+)\/search$/, () => pages.search],
  [/^#\/ns\/([^/]+)\/facts$/, () => pages.facts],
  [/^#\/ns\/([^/]+)\/consolidation$/, () => pages.consolidation],
  [/^#\/ns\/([^/]+)\/memory\/([0-9a-f]{32})$/, () => pages.memory],
];

async function route() {
  const hash = location.hash || "#/";
  if (hash === "#/login") return loginPage();
  if (server === null) {
    // without a key too: a server started with --no-auth answers anyone (docs/server.md)
    const given = key();
    try {
      server = await call("GET", "/v1/server");
    } catch (error) {
      setKey(null);
      if (!given && error instanceof ApiError && error.status === 401) return loginPage();
      return loginPage(error instanceof ApiError ? error.message : String(error));
    }
  }
  for (const [pattern, page] of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    const args = match.slice(1).map(decodeURIComponent);
    renderNav(args[0]);
    show(h("p", {}, "Loading…"));
    try {
      const nodes = await page()({ server, show, flash, args, go: (to) => (location.hash = to) });
      if (nodes) show(...nodes);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return loginPage(error.message);
      show(h("h1", {}, "Something went wrong"), refusal(error));
    }
    return;
  }
  renderNav(null);
  show(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the namespaces")));
}

window.addEventListener("hashchange", route);
route();
