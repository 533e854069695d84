// Building the page: elements from data (text is always text, never parsed as HTML),
// dates in one form, and the messages a refusal shows.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "data-colour") node.style.backgroundColor = value; // no inline style attribute: CSP
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A labelled form field: <label> and control tied by id. */
export function field(labelText, control, hint) {
  const id = control.id || "f-" + Math.random().toString(36).slice(2, 9);
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control, hint ? h("small", {}, hint) : null);
}

export function when(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/(:\d\d)(\.\d+)?(Z|\+00:00)$/, "$1 UTC");
}

export function day(iso) {
  return iso ? iso.slice(0, 10) : "—";
}

export function percent(value) {
  return Math.round(value * 100) + "%";
}

/** What a refusal says to a person: the server's message, and what to do about it. */
export function refusal(error) {
  const hints = {
    401: "Sign in again with a valid API key.",
    403: "This key's scope does not allow it: ask for a key with more access.",
    404: "It is not there (any more).",
    429: "Too many requests: wait a moment.",
  };
  const hint = hints[error.status] || "";
  return h(
    "div",
    { class: "refusal", role: "alert" },
    h("strong", {}, error.status === 403 ? "Refused: " : error.status ? `Error ${error.status}: ` : "Error: "),
    error.message,
    hint ? h("span", { class: "hint" }, " " + hint) : null,
  );
}

/** A modal confirmation: resolves true when the person confirms. ``typed``: the text to type first. */
export function confirmDialog({ title, body, confirm, typed }) {
  return new Promise((resolve) => {
    const input = typed ? h("input", { type: "text", autocomplete: "off", spellcheck: "false" }) : null;
    const ok = h("button", { type: "submit", class: "danger", disabled: typed ? true : null }, confirm);
    const cancel = h("button", { type: "button" }, "Cancel");
    const dialog = h(
      "dialog",
      { "aria-labelledby": "dialog-title", class: "confirm" },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: "dialog-title" }, title),
        body,
        input ? field(`Type ${typed} to confirm`, input) : null,
        h("div", { class: "actions" }, cancel, ok),
      ),
    );
    if (input) input.addEventListener("input", () => (ok.disabled = input.value !== typed));
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    dialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      close(!input || input.value === typed);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
}
