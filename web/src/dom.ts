// The page's few DOM helpers: elements built from text (never HTML), one screen at a time with
// its own title and focus, refusals, and errors tied to their fields.

export type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

const app = (): HTMLElement => document.getElementById("app") as HTMLElement;

/**
 * Replace the screen: `heading` becomes the h1 and the document's title, and takes the focus,
 * so a screen reader announces the new state and the keyboard starts from it.
 */
export function show(heading: string, ...children: Child[]): void {
  const h1 = el("h1", { id: "title", tabindex: "-1" }, heading);
  app().replaceChildren(h1, ...(children.filter(Boolean) as (Node | string)[]));
  document.title = `${heading} · sealpass`;
  h1.focus();
}

/** Change the screen's heading (and the document's title) in place, as its state moves on; the
 * focus stays where the person left it (a status line announces the change). */
export function retitle(heading: string): void {
  const h1 = document.getElementById("title");
  if (h1 !== null && h1.textContent !== heading) h1.textContent = heading;
  document.title = `${heading} · sealpass`;
}

/** A refusal: what is wrong, that nothing was sent, what to do. */
export function refuse(title: string, why: string, next: string): void {
  show(title, el("div", { class: "alert", role: "alert" }, el("p", {}, why), el("p", {}, el("strong", {}, "Nothing was sent. "), next)));
}

export function setError(input: HTMLElement | null, error: HTMLElement, message: string | null): void {
  error.textContent = message ?? "";
  error.hidden = message === null;
  input?.setAttribute("aria-invalid", message === null ? "false" : "true");
}

/** Attributes that keep password managers and browsers from saving or filling a secret. */
export const NOT_SAVED: Record<string, string> = {
  autocomplete: "off",
  spellcheck: "false",
  autocapitalize: "off",
  "data-1p-ignore": "true",
  "data-lpignore": "true",
  "data-bwignore": "true",
  "data-form-type": "other",
};
