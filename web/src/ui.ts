// The page: the only module that touches the DOM. It reads the link, checks the server's keys
// against it, asks for the kind's fields and the secret (generated here or pasted), checks it
// live, seals it in the browser and uploads it, then follows the drop. Nothing secret goes to
// the URL, web storage, cookies or the console; inputs are cleared once it is sent.

import type { DropCreated, DropStatus, Info, RequestStatus } from "./api.js";
import { ApiError, api, setBase, shown } from "./api.js";
import { envelopeBytes, fieldError, nowRfc3339 } from "./envelope.js";
import { fingerprint } from "./fingerprint.js";
import { generate } from "./generate.js";
import type { Where } from "./link.js";
import { where } from "./link.js";
import type { Analysis, Catalog, FieldEntry, KindEntry, PolicyEntry, Report } from "./policy.js";
import { RULE_NAMES, check } from "./policy.js";
import { seal } from "./seal.js";

type Child = Node | string | null | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(
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

function show(...children: Child[]): void {
  app().replaceChildren(...(children.filter(Boolean) as (Node | string)[]));
}

/** A refusal: what is wrong, that nothing was sent, what to do. */
function refuse(title: string, why: string, next: string): void {
  show(
    el("h1", {}, title),
    el("div", { class: "alert", role: "alert" }, el("p", {}, why), el("p", {}, el("strong", {}, "Nothing was sent. "), next)),
  );
}

const FIELD_LABELS: Record<string, string> = {
  username: "Username of the account",
  security_token: "Security token",
  instance_url: "Instance URL",
  environment_url: "Environment URL",
  consumer_key: "Consumer key",
  tenant_id: "Tenant ID (directory)",
  client_id: "Client ID (application)",
};

const KIND_WORDS: Record<string, string> = {
  "salesforce-password": "the password of a Salesforce integration user",
  "salesforce-client-credentials": "a Salesforce connected app's consumer key and secret",
  "dynamics-app-password": "a Microsoft app password for a Dynamics 365 user",
  "dynamics-password": "the password of an Entra ID (Dynamics 365) user",
  "entra-client-secret": "an Entra ID app registration's client secret",
  generic: "a secret",
};

const SECRET_LABELS: Record<string, string> = {
  "salesforce-password": "The password",
  "dynamics-password": "The password",
  "salesforce-client-credentials": "Consumer secret",
  "dynamics-app-password": "App password",
  "entra-client-secret": "Client secret value",
};

interface Context {
  where: Exclude<Where, { mode: "broken" }>;
  info: Info;
  catalog: Catalog;
  request: RequestStatus | null;
}

/** The pattern analysis, loaded only when a looks-random rule must run on a pasted secret. */
let patterns: Promise<typeof import("./patterns.js")> | null = null;
function loadPatterns(): Promise<typeof import("./patterns.js")> {
  patterns ??= import(/* the lazy chunk */ new URL("patterns.js", import.meta.url).href) as Promise<
    typeof import("./patterns.js")
  >;
  return patterns;
}

function reportList(report: Report): HTMLElement {
  return el(
    "ul",
    { class: "rules" },
    ...report.rules.map((r) =>
      el(
        "li",
        { class: r.ok ? "ok" : "fail" },
        el("span", { class: "mark", "aria-hidden": "true" }, r.ok ? "✓" : "✗"),
        el("span", { class: "visually-hidden" }, r.ok ? "Passes: " : "Fails: "),
        el("strong", {}, `${RULE_NAMES[r.rule] ?? r.rule}: `),
        r.detail,
      ),
    ),
  );
}

async function start(): Promise<void> {
  const here = where(location.pathname, location.hash);
  // The fragment holds the upload token: keep it out of the address bar and history from now on.
  if (location.hash !== "") history.replaceState(null, "", location.pathname);
  if (here.mode === "broken") {
    refuse("This link does not work", here.why, "Ask the vendor for the link again.");
    return;
  }
  setBase(here.base);
  show(el("h1", {}, "Send a credential"), el("p", { role: "status" }, "Checking the link and the vendor's keys…"));
  let info: Info;
  let catalog: Catalog;
  let request: RequestStatus | null = null;
  try {
    [info, catalog] = await Promise.all([api.info(), api.catalog()]);
    if (here.mode === "request") request = await api.request(here.id, here.token);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
      refuse(
        "This request is unknown",
        "The server does not know this request: the link is wrong, or the request expired long ago.",
        "Ask the vendor for a new link.",
      );
    } else {
      refuse("The server did not answer", e instanceof Error ? shown(e.message) : "unknown error", "Try again in a moment.");
    }
    return;
  }
  const served = await fingerprint(info.recipients);
  if (here.fingerprint !== null && served !== here.fingerprint) {
    refuse(
      "The vendor's keys do not match this link",
      `The server offers keys with fingerprint ${served}, but your link names ${here.fingerprint}. Someone may be substituting their own keys.`,
      "Ask the vendor, through another channel (phone, chat), for a new link.",
    );
    return;
  }
  if (request !== null && request.state !== "open") {
    refuse(
      request.state === "fulfilled" ? "This request was already answered" : "This request expired",
      request.state === "fulfilled"
        ? "Someone already sent a credential for this request; a request takes one upload."
        : `It expired at ${shown(request.expires_at)}.`,
      request.state === "fulfilled"
        ? "If it was not you, tell the vendor at once and change the credential. Otherwise there is nothing more to do."
        : "Ask the vendor for a new link.",
    );
    return;
  }
  if (here.mode === "anonymous" && !info.anonymous_uploads) {
    refuse("This server takes only requested credentials", "The vendor asks for credentials with request links.", "Ask the vendor for one.");
    return;
  }
  form({ where: here, info, catalog, request }, served);
}

function kindOf(ctx: Context, name: string): { kind: KindEntry; policy: PolicyEntry } {
  const kind = ctx.catalog.kinds.find((k) => k.name === name);
  const policy = kind && ctx.catalog.policies.find((p) => p.name === kind.default_policy);
  if (kind === undefined || policy === undefined) throw new Error(`this page does not know the kind ${name}`);
  return { kind, policy };
}

function form(ctx: Context, served: string): void {
  const intro =
    ctx.request !== null
      ? el(
          "div",
          { class: "request" },
          el("p", {}, "You were asked for ", el("strong", {}, KIND_WORDS[ctx.request.kind] ?? shown(ctx.request.kind)), ":"),
          el("p", { class: "label", id: "request-label" }, shown(ctx.request.label)),
          el("p", { class: "muted" }, `The link is good until ${shown(ctx.request.expires_at)}. Sealed to keys ${served}, as the link says.`),
        )
      : el(
          "div",
          { class: "request" },
          el("p", {}, "Sealed to the vendor's keys with fingerprint"),
          el("p", { class: "fingerprint" }, served),
          el(
            "p",
            { class: "muted" },
            ctx.where.fingerprint !== null
              ? "It matches the fingerprint in the address you were given."
              : "Compare it with the fingerprint the vendor published before you send.",
          ),
        );
  const formNode = el("form", { novalidate: true, "aria-labelledby": "title" });
  const kindPicker =
    ctx.request === null
      ? el(
          "div",
          { class: "field" },
          el("label", { for: "kind" }, "What are you sending?"),
          el(
            "select",
            { id: "kind" },
            ...ctx.catalog.kinds.map((k) => el("option", { value: k.name }, KIND_WORDS[k.name] ?? k.name)),
          ),
        )
      : null;
  const body = el("div", {});
  formNode.append(...([kindPicker, body].filter(Boolean) as Node[]));
  show(el("h1", { id: "title" }, "Send a credential"), intro, formNode);
  const render = (kindName: string): void => {
    body.replaceChildren();
    const { kind, policy } = kindOf(ctx, kindName);
    secretForm(ctx, kind, policy, body, formNode);
  };
  const select = formNode.querySelector("select");
  if (select !== null) select.addEventListener("change", () => render(select.value));
  render(ctx.request?.kind ?? ctx.catalog.kinds[0].name);
}

function fieldInput(f: FieldEntry): { wrap: HTMLElement; input: HTMLInputElement; error: HTMLElement } {
  const id = `field-${f.name}`;
  const error = el("p", { class: "error", id: `${id}-error`, hidden: true });
  const input = el("input", {
    id,
    name: f.name,
    type: f.type === "secret" ? "password" : f.type === "url" ? "url" : "text",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
    "aria-describedby": `${id}-error`,
    required: f.required,
    placeholder: f.type === "guid" ? "00000000-0000-0000-0000-000000000000" : f.type === "url" ? "https://" : "",
  });
  const label = el("label", { for: id }, FIELD_LABELS[f.name] ?? f.name, f.required ? "" : el("span", { class: "muted" }, " (optional)"));
  return { wrap: el("div", { class: "field" }, label, input, error), input, error };
}

function setError(input: HTMLInputElement | null, error: HTMLElement, message: string | null): void {
  error.textContent = message ?? "";
  error.hidden = message === null;
  input?.setAttribute("aria-invalid", message === null ? "false" : "true");
}

function secretForm(ctx: Context, kind: KindEntry, policy: PolicyEntry, body: HTMLElement, formNode: HTMLFormElement): void {
  const fields = kind.fields.map(fieldInput);
  const canGenerate = policy.generates !== null;
  let mode: "generate" | "paste" = canGenerate ? "generate" : "paste";
  let generated: string | null = null;
  let analysis: { secret: string; result: Analysis } | null = null;

  const secretError = el("p", { class: "error", id: "secret-error", hidden: true });
  const rules = el("div", { id: "rules", "aria-live": "polite" });
  const pasted = el("input", {
    id: "secret",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
    "aria-describedby": "secret-error rules",
  });
  const reveal = el("button", { type: "button", class: "secondary", "aria-pressed": "false", "aria-controls": "secret" }, "Show");
  reveal.addEventListener("click", () => {
    const showing = pasted.type === "text";
    pasted.type = showing ? "password" : "text";
    reveal.textContent = showing ? "Show" : "Hide";
    reveal.setAttribute("aria-pressed", showing ? "false" : "true");
  });
  const pasteBox = el(
    "div",
    { class: "field" },
    el("label", { for: "secret" }, SECRET_LABELS[kind.name] ?? "The secret"),
    el("div", { class: "inline" }, pasted, reveal),
    secretError,
  );
  const generatedOut = el("output", { id: "generated", class: "password", "aria-live": "polite" });
  const copy = el("button", { type: "button", class: "secondary", hidden: true }, "Copy");
  const confirmSet = el("input", { id: "confirm-set", type: "checkbox", "aria-describedby": "confirm-error" });
  const confirmError = el("p", { class: "error", id: "confirm-error", hidden: true });
  const generateButton = el("button", { type: "button" }, "Generate a password");
  const generateBox = el(
    "div",
    { class: "generate" },
    el(
      "p",
      {},
      `${policy.generates?.length ?? 0} random characters that meet ${policy.name}'s rules, made in this browser (`,
      `${(policy.generates?.entropy_bits ?? 0).toFixed(0)} bits of entropy). You will see it once: set it on the account, then send it.`,
    ),
    generateButton,
    el("div", { class: "inline" }, generatedOut, copy),
    el("div", { class: "check" }, confirmSet, el("label", { for: "confirm-set" }, "I have set this password on the account")),
    confirmError,
  );
  const choice = canGenerate
    ? el(
        "fieldset",
        { class: "choice" },
        el("legend", {}, "Generate or paste?"),
        el("label", {}, el("input", { type: "radio", name: "mode", value: "generate", checked: true }), " Generate a new password here"),
        el("label", {}, el("input", { type: "radio", name: "mode", value: "paste" }), " Paste one I already have"),
      )
    : el("p", { class: "muted" }, policy.generated_by ?? "");
  const note = el("textarea", { id: "note", rows: "2", maxlength: "500", "aria-describedby": "note-help" });
  const send = el("button", { type: "submit", class: "primary" }, "Seal and send");
  const sendError = el("div", { class: "error", id: "send-error", role: "alert", hidden: true });
  body.append(
    ...fields.map((f) => f.wrap),
    choice,
    generateBox,
    pasteBox,
    rules,
    el(
      "div",
      { class: "field" },
      el("label", { for: "note" }, "A note for the vendor ", el("span", { class: "muted" }, "(optional)")),
      note,
      el("p", { class: "muted", id: "note-help" }, "Sealed with the credential. Never put a secret here."),
    ),
    send,
    sendError,
  );

  const username = (): string | null => {
    const f = fields.find((x) => x.input.name === "username");
    return f ? f.input.value : null;
  };
  const secret = (): string => (mode === "generate" ? (generated ?? "") : pasted.value);
  const applyMode = (): void => {
    generateBox.hidden = mode !== "generate";
    pasteBox.hidden = mode !== "paste";
    refresh();
  };
  /** The report for the current secret; the pattern analysis runs (and loads) when it must. */
  const report = (): Report | null => {
    const s = secret();
    if (s === "") return null;
    if (mode === "generate") {
      // Generated here, uniformly at random: the pattern rule is not run (see generate.ts).
      const structural = { ...policy, check: { ...policy.check, looks_random: false } };
      return check(structural, s, username());
    }
    const needs = policy.check.looks_random;
    const known = needs && analysis !== null && analysis.secret === s ? analysis.result : undefined;
    if (needs && known === undefined) {
      void loadPatterns().then((m) => {
        if (secret() === s) {
          analysis = { secret: s, result: m.analyse(s) };
          refresh();
        }
      });
    }
    return check(policy, s, username(), known);
  };
  const refresh = (): void => {
    const r = report();
    rules.replaceChildren(...(r === null ? [] : [el("p", { class: "muted" }, `Checked against ${policy.name}:`), reportList(r)]));
  };
  formNode.querySelectorAll<HTMLInputElement>('input[name="mode"]').forEach((radio) =>
    radio.addEventListener("change", () => {
      mode = radio.value === "paste" ? "paste" : "generate";
      applyMode();
    }),
  );
  pasted.addEventListener("input", () => {
    setError(pasted, secretError, null);
    refresh();
  });
  for (const f of fields) {
    f.input.addEventListener("input", () => {
      setError(f.input, f.error, null);
      if (f.input.name === "username") refresh();
    });
  }
  generateButton.addEventListener("click", () => {
    try {
      generated = generate(policy, username());
    } catch (e) {
      setError(null, confirmError, e instanceof Error ? e.message : "could not generate");
      return;
    }
    generatedOut.textContent = generated;
    copy.hidden = false;
    confirmSet.checked = false;
    generateButton.textContent = "Generate another";
    refresh();
  });
  copy.addEventListener("click", () => {
    if (generated !== null) void navigator.clipboard?.writeText(generated).then(() => (copy.textContent = "Copied"));
  });
  confirmSet.addEventListener("change", () => setError(confirmSet, confirmError, null));
  applyMode();

  formNode.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit();
  });

  const submit = async (): Promise<void> => {
    setError(null, sendError, null);
    let firstInvalid: HTMLElement | null = null;
    const values: Record<string, string> = {};
    for (const f of fields) {
      const spec = kind.fields.find((k) => k.name === f.input.name) as FieldEntry;
      const value = f.input.value;
      const problem = value === "" ? (spec.required ? `${FIELD_LABELS[spec.name] ?? spec.name} is required` : null) : fieldError(kind, spec.name, value);
      setError(f.input, f.error, problem);
      if (problem !== null) firstInvalid ??= f.input;
      else if (value !== "") values[spec.name] = value;
    }
    const s = secret();
    if (s === "") {
      if (mode === "generate") setError(confirmSet, confirmError, "Generate a password first");
      else setError(pasted, secretError, "Paste the secret");
      firstInvalid ??= mode === "generate" ? generateButton : pasted;
    } else {
      if (mode === "paste" && policy.check.looks_random && (analysis === null || analysis.secret !== s)) {
        const m = await loadPatterns();
        analysis = { secret: s, result: m.analyse(s) };
      }
      const r = report();
      refresh();
      if (r !== null && !r.compliant) {
        const failed = r.rules.filter((x) => !x.ok).map((x) => RULE_NAMES[x.rule] ?? x.rule);
        const target = mode === "generate" ? confirmError : secretError;
        setError(mode === "paste" ? pasted : null, target, `It does not meet the policy (${failed.join(", ")}): it cannot be sent.`);
        firstInvalid ??= mode === "paste" ? pasted : generateButton;
      }
      if (mode === "generate" && !confirmSet.checked) {
        setError(confirmSet, confirmError, "Set the password on the account first, then tick this box");
        firstInvalid ??= confirmSet;
      }
    }
    if (firstInvalid !== null) {
      firstInvalid.focus();
      return;
    }
    send.disabled = true;
    send.textContent = "Sealing and sending…";
    let created: DropCreated;
    try {
      const plaintext = envelopeBytes({
        kind: kind.name,
        secret: s,
        fields: values,
        policy: policy.name,
        note: note.value.trim() === "" ? null : note.value,
        request: ctx.request?.id ?? null,
        createdAt: nowRfc3339(),
        sender: null,
      });
      const ciphertext = await seal(plaintext, ctx.info.recipients);
      plaintext.fill(0);
      const w = ctx.where;
      created = await api.upload(ciphertext, w.mode === "request" ? { id: w.id, token: w.token } : null);
    } catch (e) {
      send.disabled = false;
      send.textContent = "Seal and send";
      const why = e instanceof Error ? shown(e.message) : "unknown error";
      setError(null, sendError, `Not sent: ${why}.${mode === "generate" ? " If you already set the generated password on the account, send it again by pasting it." : ""}`);
      sendError.focus();
      return;
    }
    // Sent: nothing of the secret stays on the page.
    pasted.value = "";
    generated = null;
    note.value = "";
    for (const f of fields) f.input.value = "";
    after(ctx, created);
  };
}

function describe(status: DropStatus): string {
  const by = shown(status.claimed_by ?? "?");
  switch (status.state) {
    case "waiting":
      return `Waiting for the vendor. It expires at ${shown(status.expires_at)}.`;
    case "claimed":
      return `Picked up by ${by} at ${shown(status.claimed_at ?? "?")}, not yet confirmed.`;
    case "received":
      return `Received by ${by} at ${shown(status.received_at ?? "?")}. The server wiped its copy.`;
    case "revoked":
      return status.claimed_by !== null
        ? `Revoked at ${shown(status.revoked_at ?? "?")}, but ${by} had already picked it up.`
        : `Revoked at ${shown(status.revoked_at ?? "?")}. Nobody picked it up.`;
    case "expired":
      return `Expired at ${shown(status.expires_at)}${status.claimed_by !== null ? `, after ${by} picked it up` : " without being picked up"}.`;
  }
}

function after(ctx: Context, created: DropCreated): void {
  const state = el("p", { id: "drop-state", role: "status" }, "Waiting for the vendor.");
  const warning = el("p", { class: "alert", id: "drop-warning", hidden: true });
  const revoke = el("button", { type: "button", class: "secondary", id: "revoke" }, "Revoke it");
  const receipt = el(
    "a",
    {
      href: URL.createObjectURL(
        new Blob(
          [
            JSON.stringify(
              {
                server: ctx.info.public_url,
                id: created.id,
                pickup_url: created.pickup_url,
                expires_at: created.expires_at,
                manage_token: created.manage_token,
              },
              null,
              2,
            ),
          ],
          { type: "application/json" },
        ),
      ),
      download: `sealpass-drop-${created.id}.json`,
      class: "button secondary",
    },
    "Download the drop's receipt",
  );
  show(
    el("h1", {}, "Sent"),
    el(
      "p",
      {},
      "The credential left this browser sealed to the vendor's keys. The vendor receives it from this pickup link, once:",
    ),
    el("p", { class: "link" }, shown(created.pickup_url)),
    state,
    warning,
    el(
      "p",
      { class: "muted" },
      "The receipt holds this drop's manage token: with it, `sealpass status` or this page can follow and revoke the drop. Keep it private; it never leaves your computer otherwise.",
    ),
    el("div", { class: "actions" }, revoke, receipt),
  );
  let timer: number | undefined;
  const update = (status: DropStatus): void => {
    state.textContent = describe(status);
    if (status.claimed_by !== null) {
      warning.hidden = false;
      warning.textContent = `It was picked up by "${shown(status.claimed_by)}". If that is not someone you expect at the vendor, assume the credential is compromised: change it on the account now.`;
    }
    if (status.state !== "waiting" && status.state !== "claimed") {
      revoke.hidden = true;
      if (timer !== undefined) clearInterval(timer);
    }
  };
  const poll = (): void => {
    api.status(created.id, created.manage_token).then(update, () => undefined);
  };
  timer = setInterval(poll, 3000) as unknown as number;
  poll();
  let armed = false;
  revoke.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      revoke.textContent = "Click again to revoke";
      return;
    }
    revoke.disabled = true;
    api.revoke(created.id, created.manage_token).then(update, (e: unknown) => {
      revoke.disabled = false;
      state.textContent = `Not revoked: ${e instanceof Error ? shown(e.message) : "unknown error"}`;
    });
  });
}

export function main(): void {
  start().catch((e: unknown) => {
    refuse("Something went wrong", e instanceof Error ? shown(e.message) : "unknown error", "Reload the page, or use the sealpass command line.");
  });
}
