// The page's form (with dom.ts and follow.ts, the only modules that touch the DOM). It reads the
// link, checks the server's keys against it, asks for the kind's fields and the secret
// (generated here or pasted), checks it live, seals it in the browser and uploads it, then hands
// over to follow.ts. Nothing secret goes to the URL, web storage, cookies or the console; inputs
// are cleared once it is sent.

import type { DropCreated, Info, RequestStatus } from "./api.js";
import { ApiError, api, setBase, shown } from "./api.js";
import { NOT_SAVED, el, refuse, setError, show } from "./dom.js";
import { envelopeBytes, fieldError, normaliseField, noteError, nowRfc3339 } from "./envelope.js";
import type { Checked } from "./fingerprint.js";
import { checkedCertificates, covers, serverFingerprint } from "./fingerprint.js";
import type { Vouched } from "./manifest.js";
import { ManifestError, vouch } from "./manifest.js";
import { generate } from "./generate.js";
import { isLegacy, kindChoices, requiredFields, secretOrigin } from "./kinds.js";
import type { Where } from "./link.js";
import { where } from "./link.js";
import type { Analysis, Catalog, FieldEntry, KindEntry, PolicyEntry, Report } from "./policy.js";
import { RULE_NAMES, check } from "./policy.js";
import { follow } from "./follow.js";
import { choose, seal } from "./seal.js";

const FIELD_LABELS: Record<string, string> = {
  username: "Username of the account",
  security_token: "Security token",
  instance_url: "Instance URL",
  environment_url: "Environment URL",
  consumer_key: "Consumer key",
  tenant_id: "Tenant ID (directory)",
  client_id: "Client ID (application)",
  thumbprint: "Certificate thumbprint (as Entra ID shows it)",
  expires_on: "When the secret expires (the Expires column in Entra ID)",
};

/** Labels that depend on the field's shape rather than its name. */
const TYPE_LABELS: Record<string, string> = {
  "my-domain-url": "My Domain URL (Setup > My Domain)",
  email: "Username of the integration user (it looks like an email address)",
};

function labelOf(f: FieldEntry): string {
  return TYPE_LABELS[f.type] ?? FIELD_LABELS[f.name] ?? f.name;
}

const PLACEHOLDERS: Record<string, string> = {
  guid: "00000000-0000-0000-0000-000000000000",
  url: "https://",
  "my-domain-url": "https://yourcompany.my.salesforce.com",
  "dataverse-url": "https://yourorg.crm.dynamics.com",
  email: "integration@yourcompany.example",
};

const KIND_WORDS: Record<string, string> = {
  "salesforce-password": "the password of a Salesforce integration user",
  "salesforce-client-credentials": "a Salesforce connected app's consumer key and secret",
  "dynamics-app-password": "a Microsoft app password for a Dynamics 365 user",
  "dynamics-password": "the password of an Entra ID (Dynamics 365) user",
  "entra-client-secret": "an Entra ID app registration's client secret",
  generic: "a secret",
  "salesforce-jwt": "a Salesforce app that trusts the vendor's certificate (no secret)",
  "entra-certificate": "an Entra ID app registration that trusts the vendor's certificate (no secret)",
  "key-file": "a key file",
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
  /** The vendor's certificates, each hashed here from its PEM. */
  certificates: Checked[];
  /** What the fingerprint in the address vouches for (null: there is none). */
  covered: "everything" | "recipients" | null;
  /** The receipt key the fingerprint in the address (sp3, or sp4's manifest) vouches for; null
   * without one, or for a link from before receipts. */
  receiptKey: string | null;
  /** What to seal to: the manifest's recipients for sp4, else the served ones. */
  recipients: string[];
  /** The vendor key (sp4) the address names, whose manifest vouched; null otherwise. */
  vendorKey: string | null;
}

/** The pattern analysis, loaded only when a looks-random rule must run on a pasted secret. */
let patterns: Promise<typeof import("./patterns.js")> | null = null;
function loadPatterns(): Promise<typeof import("./patterns.js")> {
  patterns ??= (
    import(/* the lazy chunk */ new URL("patterns.js", import.meta.url).href) as Promise<typeof import("./patterns.js")>
  ).catch((e: unknown) => {
    patterns = null; // try again next time
    throw new Error(`the pattern check could not be loaded (${e instanceof Error ? e.message : "network error"}); try again`);
  });
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
  // A request link's fragment holds the upload token: keep it out of the address bar and history
  // from now on. (The anonymous page's fragment is only a fingerprint, and stays.)
  if (here.mode !== "anonymous" && location.hash !== "") history.replaceState(null, "", location.pathname);
  if (here.mode === "broken") {
    refuse("This link does not work", here.why, "Ask the vendor for the link again.");
    return;
  }
  setBase(here.base);
  show("Send a credential", el("p", { role: "status" }, "Checking the link and the vendor's keys…"));
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
  // A link naming the vendor key (sp4) takes keys only from the vendor's signed manifest: any
  // doubt about what is served is a refusal, with no certificate shown.
  const vendorKey = here.fingerprint?.startsWith("sp4-") === true ? here.fingerprint : null;
  let certificates: Checked[];
  try {
    certificates = await checkedCertificates(info.certificates ?? []);
  } catch (e) {
    const why = e instanceof Error ? e.message : "a bad certificate";
    if (vendorKey !== null) substituted(vendorKey, why);
    else refuse("The vendor's server is misconfigured", why, "Tell the vendor; nothing was sent.");
    return;
  }
  const hashes = certificates.map((c) => c.sha256);
  const receiptKey = typeof info.receipt_key === "string" && /^[0-9a-f]{64}$/i.test(info.receipt_key) ? info.receipt_key : null;
  let served: string;
  let recipients = info.recipients;
  let covered: Context["covered"];
  let vouchedKey: string | null;
  if (vendorKey !== null) {
    let vouched: Vouched;
    try {
      const servedKey = typeof info.receipt_key === "string" ? info.receipt_key : null;
      const server = `${location.origin}${here.base}`;
      vouched = await vouch(vendorKey, { server, manifest: info.manifest, recipients: info.recipients, certSha256: hashes, receiptKey: servedKey }, Math.floor(Date.now() / 1000));
    } catch (e) {
      const why = shown(e instanceof Error ? e.message : "unknown error");
      if (e instanceof ManifestError && e.reason === "expired") {
        refuse("The vendor's signed keys have expired", `${sentence(why)}.`, "Tell the vendor, and send once they have signed a new manifest.");
      } else {
        substituted(vendorKey, why);
      }
      return;
    }
    served = vendorKey;
    recipients = vouched.body.recipients;
    covered = "everything";
    vouchedKey = vouched.body.receipt_key.toLowerCase();
  } else {
    served = await serverFingerprint(info.recipients, hashes, receiptKey);
    covered = here.fingerprint === null ? null : await covers(here.fingerprint, info.recipients, hashes, receiptKey);
    if (here.fingerprint !== null && covered === null) {
      refuse(
        "The vendor's keys do not match this link",
        `The server offers keys with fingerprint ${served}, but your link names ${here.fingerprint}. Someone may be substituting their own keys.`,
        "Ask the vendor, through another channel (phone, chat), for a new link.",
      );
      return;
    }
    // Only a fingerprint given in the address vouches for the key: one the page merely showed
    // proves nothing by itself.
    vouchedKey = here.fingerprint?.startsWith("sp3-") === true && covered !== null ? receiptKey : null;
  }
  if (request !== null && request.state !== "open") {
    const why = {
      fulfilled: [
        "This request was already answered",
        "Someone already sent a credential for this request; a request takes one upload.",
        "If it was not you, tell the vendor at once and change the credential. Otherwise there is nothing more to do.",
      ],
      expired: ["This request expired", `It expired at ${shown(request.expires_at)}.`, "Ask the vendor for a new link."],
      cancelled: [
        "The vendor cancelled this request",
        "This link no longer takes a credential: the vendor withdrew it.",
        "Send nothing. If the vendor still needs the credential, ask them for a new link.",
      ],
    }[request.state];
    refuse(why[0], why[1], why[2]);
    return;
  }
  if (here.mode === "anonymous" && !info.anonymous_uploads) {
    refuse("This server takes only requested credentials", "The vendor asks for credentials with request links.", "Ask the vendor for one.");
    return;
  }
  const ctx: Context = { where: here, info, catalog, request, certificates, covered, receiptKey: vouchedKey, recipients, vendorKey };
  const asked = request === null ? undefined : catalog.kinds.find((k) => k.name === request.kind);
  if (asked !== undefined && !offered(ctx, asked)) {
    const why =
      asked.name === "key-file"
        ? ["This request asks for a key file", "Key files are sealed with the sealpass command line.", "Run: sealpass send --file PATH 'the link you were sent'"]
        : [
            "This link cannot vouch for the vendor's certificate",
            "The request asks you to register the vendor's certificate, but the link's fingerprint was made before certificates were covered by it.",
            "Ask the vendor, through another channel, for a new link.",
          ];
    refuse(why[0], why[1], why[2]);
    return;
  }
  form(ctx, served);
}

/** A message that starts a sentence. */
function sentence(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

/** The refusal for a link naming the vendor key when the server's keys are not the ones it
 * signed: never "ask this server", which may be the one substituting them. */
function substituted(vendorKey: string, why: string): void {
  refuse(
    "The vendor's keys do not match this link",
    `${sentence(why)}. Someone may be substituting their own keys.`,
    `Compare ${vendorKey} with the value the vendor publishes elsewhere (its website, your contract, a phone call); do not ask this server for another link.`,
  );
}

/** Whether the page can take this kind here: key files need the command line; registering a
 * certificate needs a fingerprint in the address that covers it. */
function offered(ctx: Context, kind: KindEntry): boolean {
  if (kind.name === "key-file") return false;
  if (kind.registers_certificate) return ctx.covered === "everything" && ctx.certificates.length > 0;
  return true;
}

function kindOf(ctx: Context, name: string): { kind: KindEntry; policy: PolicyEntry | null } {
  const kind = ctx.catalog.kinds.find((k) => k.name === name);
  const policy = kind && (ctx.catalog.policies.find((p) => p.name === kind.default_policy) ?? null);
  if (kind === undefined || policy === undefined || (policy === null && !kind.registers_certificate)) {
    throw new Error(`this page does not know the kind ${name}`);
  }
  return { kind, policy };
}

/** How the credential will be sealed, in words: post-quantum whenever the vendor offers it. */
function sealingNote(recipients: string[]): HTMLElement {
  let chosen;
  try {
    chosen = choose(recipients);
  } catch (e) {
    return el("p", { class: "error", id: "sealing" }, `This page cannot seal to the vendor's keys: ${e instanceof Error ? shown(e.message) : "unknown keys"}. Use the sealpass command line.`);
  }
  const text =
    chosen.sealing === "post-quantum"
      ? `Encrypted with post-quantum protection (ML-KEM-768 with X25519).${
          chosen.leftOut.length > 0 ? ` The vendor's ${chosen.leftOut.length} older classical key(s) are not used: the two kinds are never mixed.` : ""
        }`
      : "Encrypted with classical X25519: the vendor publishes no post-quantum key yet.";
  return el("p", { class: "muted", id: "sealing" }, text);
}

function form(ctx: Context, served: string): void {
  const sealedTo = ctx.vendorKey !== null ? "Sealed to the keys signed by the vendor key" : "Sealed to the vendor's keys with fingerprint";
  const intro =
    ctx.request !== null
      ? el(
          "div",
          { class: "request" },
          el("p", {}, "You were asked for ", el("strong", {}, KIND_WORDS[ctx.request.kind] ?? shown(ctx.request.kind)), ":"),
          el("p", { class: "label", id: "request-label" }, shown(ctx.request.label)),
          el("p", { class: "muted" }, `The link is good until ${shown(ctx.request.expires_at)}. ${sealedTo} ${served}, as the link says.`),
          sealingNote(ctx.recipients),
        )
      : el(
          "div",
          { class: "request" },
          el("p", {}, sealedTo),
          el("p", { class: "fingerprint" }, served),
          el(
            "p",
            { class: "muted" },
            ctx.where.fingerprint !== null
              ? "It matches the fingerprint in the address you were given."
              : "Compare it with the fingerprint the vendor published before you send.",
          ),
          sealingNote(ctx.recipients),
        );
  const formNode = el("form", { novalidate: true, "aria-labelledby": "title" });
  // No kind is chosen for the sender: the kind decides the rules and the fields, and a default
  // would be sent by whoever did not look. Recommended kinds come first, legacy ones last.
  const choices = kindChoices(ctx.catalog.kinds.filter((k) => offered(ctx, k)));
  const option = (k: KindEntry): HTMLOptionElement =>
    el("option", { value: k.name }, `${KIND_WORDS[k.name] ?? k.name}${isLegacy(k) ? " (legacy)" : ""}`);
  const kindPicker =
    ctx.request === null
      ? el(
          "div",
          { class: "field" },
          el("label", { for: "kind" }, "What are you sending?"),
          el(
            "select",
            { id: "kind", required: true, "aria-describedby": "kind-help" },
            el("option", { value: "", selected: true, disabled: true }, "Choose one…"),
            el("optgroup", { label: "Recommended" }, ...choices.recommended.map(option)),
            choices.legacy.length > 0 ? el("optgroup", { label: "Legacy: still works, but prefer a recommended kind" }, ...choices.legacy.map(option)) : null,
          ),
          el("p", { class: "muted", id: "kind-help" }, "The form for it appears once you choose. If you are unsure, ask the vendor which kind they need."),
        )
      : null;
  const body = el("div", {});
  formNode.append(...([kindPicker, body].filter(Boolean) as Node[]));
  show("Send a credential", intro, formNode);
  // One submit handler for the form, whatever kind is chosen, and one send at a time.
  let submit: () => Promise<void> = async () => undefined;
  let busy = false;
  formNode.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    submit()
      .catch((e: unknown) => {
        const error = document.getElementById("send-error");
        if (error !== null) {
          setError(null, error, `Not sent: ${e instanceof Error ? shown(e.message) : "unknown error"}.`);
          error.focus();
        }
      })
      .finally(() => {
        busy = false;
      });
  });
  const render = (kindName: string): void => {
    body.replaceChildren();
    const { kind, policy } = kindOf(ctx, kindName);
    if (kind.successor !== null) {
      body.append(el("p", { class: "muted warning" }, `This is the legacy way: prefer ${kind.successor.kinds}. ${kind.successor.why}.`));
    }
    const required = requiredFields(kind, ctx.request?.require);
    submit = policy === null ? identifiersForm(ctx, kind, required, body) : secretForm(ctx, kind, policy, required, body);
  };
  const select = formNode.querySelector("select");
  if (select !== null) select.addEventListener("change", () => render(select.value));
  if (ctx.request !== null) render(ctx.request.kind);
}

/** A field's input, with its label (marked optional unless the kind or the request requires it). */
function fieldInput(f: FieldEntry, required: boolean): { wrap: HTMLElement; input: HTMLInputElement; error: HTMLElement } {
  const id = `field-${f.name}`;
  const error = el("p", { class: "error", id: `${id}-error`, hidden: true });
  const input = el("input", {
    id,
    name: f.name,
    type: f.type === "secret" ? "password" : f.type === "date" ? "date" : f.type.endsWith("url") ? "url" : "text",
    ...NOT_SAVED,
    "aria-describedby": `${id}-error`,
    required,
    placeholder: PLACEHOLDERS[f.type] ?? "",
  });
  const label = el("label", { for: id }, labelOf(f), required ? "" : el("span", { class: "muted" }, " (optional)"));
  return { wrap: el("div", { class: "field" }, label, input, error), input, error };
}

/** Every field's value, checked as the CLI checks it and as it is sealed (a thumbprint
 * normalised); the first invalid input, if any. */
function readFields(
  kind: KindEntry,
  fields: { input: HTMLInputElement; error: HTMLElement }[],
  required: Set<string>,
): { values: Record<string, string>; firstInvalid: HTMLElement | null } {
  let firstInvalid: HTMLElement | null = null;
  const values: Record<string, string> = {};
  for (const f of fields) {
    const spec = kind.fields.find((k) => k.name === f.input.name) as FieldEntry;
    const value = f.input.value;
    // The messages name the field as its label does, not by its name in the envelope.
    const label = labelOf(spec);
    const problem = value === "" ? (required.has(spec.name) ? `${label} is required` : null) : fieldError(kind, spec.name, value, label);
    setError(f.input, f.error, problem);
    if (problem !== null) firstInvalid ??= f.input;
    else if (value !== "") values[spec.name] = normaliseField(spec, value);
  }
  return { values, firstInvalid };
}

/** The optional one-line note for the vendor. */
function noteField(): { wrap: HTMLElement; input: HTMLInputElement; error: HTMLElement } {
  // One line: the receiver refuses control characters (newlines included) in a note.
  const input = el("input", { id: "note", type: "text", maxlength: "500", autocomplete: "off", "aria-describedby": "note-error note-help" });
  const error = el("p", { class: "error", id: "note-error", hidden: true });
  input.addEventListener("input", () => setError(input, error, null));
  const wrap = el(
    "div",
    { class: "field" },
    el("label", { for: "note" }, "A note for the vendor ", el("span", { class: "muted" }, "(optional)")),
    input,
    error,
    el("p", { class: "muted", id: "note-help" }, "Sealed with the credential. Never put a secret here."),
  );
  return { wrap, input, error };
}

/** Seal the envelope in this browser and upload it, bound to the request when there is one. */
async function sealAndUpload(ctx: Context, plaintext: Uint8Array): Promise<DropCreated> {
  const ciphertext = await seal(plaintext, ctx.recipients);
  plaintext.fill(0);
  const w = ctx.where;
  return api.upload(ciphertext, w.mode === "request" ? { id: w.id, token: w.token } : null);
}

/** A file the browser saves, made here (no request to anyone). */
function download(name: string, text: string, label: string): HTMLElement {
  const href = URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" }));
  return el("a", { href, download: name, class: "button secondary" }, label);
}

/** For the kinds without a secret: the vendor's certificate to register (download, its
 * fingerprints, the steps for this CRM), then the identifiers, checked and sealed. */
function identifiersForm(ctx: Context, kind: KindEntry, required: Set<string>, body: HTMLElement): () => Promise<void> {
  const files = ctx.certificates.map((c) => `${c.name}.crt`).join(" and ");
  const thumbprints = ctx.certificates.map((c) => c.sha1).join(" or ");
  const panel = el(
    "section",
    { class: "certificate", "aria-labelledby": "register-title" },
    el("h2", { id: "register-title" }, "1. Register the vendor's certificate"),
    el("p", {}, "No secret leaves your organisation: your CRM trusts the vendor's certificate, and you send back only the identifiers below."),
    ...ctx.certificates.map((c) =>
      el(
        "div",
        { class: "cert" },
        download(`${c.name}.crt`, c.pem, `Download ${c.name}.crt`),
        el("p", { class: "muted" }, `Valid until ${shown(c.notAfter.slice(0, 10))}.`),
        kind.name === "entra-certificate" ? el("p", {}, "Thumbprint (as Entra ID shows it): ", el("code", { class: "fingerprint" }, c.sha1)) : "",
        el("details", {}, el("summary", {}, "Technical details"), el("p", {}, "SHA-256: ", el("code", { class: "fingerprint" }, c.sha256.toUpperCase()))),
      ),
    ),
    el("ol", { class: "steps" }, ...kind.registration_steps.map((step) => el("li", {}, step.replace("{file}", files).replace("{thumbprint}", thumbprints)))),
    el("p", { class: "muted" }, "This page checked that this is the vendor's certificate, as your link says: you need not compare anything."),
  );
  const fields = kind.fields.map((f) => fieldInput(f, required.has(f.name)));
  for (const f of fields) f.input.addEventListener("input", () => setError(f.input, f.error, null));
  const note = noteField();
  const send = el("button", { type: "submit", class: "primary" }, "Seal and send");
  const sendError = el("div", { class: "error", id: "send-error", role: "alert", tabindex: "-1", hidden: true });
  body.append(panel, el("h2", {}, "2. The identifiers"), ...fields.map((f) => f.wrap), note.wrap, send, sendError);

  return async (): Promise<void> => {
    setError(null, sendError, null);
    let { values, firstInvalid } = readFields(kind, fields, required);
    const thumb = fields.find((f) => f.input.name === "thumbprint");
    if (thumb !== undefined && values.thumbprint !== undefined) {
      const given = values.thumbprint; // normalised: hex digits, upper case
      if (!ctx.certificates.some((c) => c.sha1 === given || c.sha256.toUpperCase() === given)) {
        setError(thumb.input, thumb.error, "This is not the thumbprint of the vendor's certificate shown above: register that certificate and give the thumbprint Entra ID shows for it");
        firstInvalid ??= thumb.input;
      }
    }
    const noteText = note.input.value.trim() === "" ? null : note.input.value;
    const badNote = noteText === null ? null : noteError(noteText);
    setError(note.input, note.error, badNote);
    if (badNote !== null) firstInvalid ??= note.input;
    if (firstInvalid !== null) {
      firstInvalid.focus();
      return;
    }
    send.disabled = true;
    send.textContent = "Sealing and sending…";
    const createdAt = nowRfc3339();
    let created: DropCreated;
    try {
      const plaintext = envelopeBytes({ kind: kind.name, secret: null, fields: values, policy: "identifiers", note: noteText, request: ctx.request?.id ?? null, createdAt, sender: null });
      created = await sealAndUpload(ctx, plaintext);
    } catch (e) {
      send.disabled = false;
      send.textContent = "Seal and send";
      setError(null, sendError, `Not sent: ${e instanceof Error ? shown(e.message) : "unknown error"}.`);
      sendError.focus();
      return;
    }
    for (const f of fields) f.input.value = "";
    note.input.value = "";
    follow(created, ctx.request?.label ?? noteText, kind.name, createdAt, [], ctx.receiptKey);
  };
}

/** The kind's fields and secret, in `body`; returns what the form's submit runs. */
function secretForm(ctx: Context, kind: KindEntry, policy: PolicyEntry, required: Set<string>, body: HTMLElement): () => Promise<void> {
  const fields = kind.fields.map((f) => fieldInput(f, required.has(f.name)));
  const origin = secretOrigin(kind, policy);
  const canGenerate = origin.generated;
  let mode: "generate" | "paste" = canGenerate ? "generate" : "paste";
  let generated: string | null = null;
  let analysis: { secret: string; result: Analysis } | null = null;

  const secretError = el("p", { class: "error", id: "secret-error", hidden: true });
  // The rule list is redrawn as the user types; a screen reader hears only the summary, once
  // typing pauses.
  const rules = el("div", { id: "rules" });
  const summary = el("p", { id: "rules-summary", class: "visually-hidden", role: "status" });
  let summaryTimer: ReturnType<typeof setTimeout> | undefined;
  // Where to copy a secret the page does not make, said next to the field that takes it.
  const originHelp = origin.generated ? null : el("p", { id: "secret-origin" }, origin.how);
  const pasted = el("input", {
    id: "secret",
    type: "password",
    ...NOT_SAVED,
    "aria-describedby": originHelp === null ? "secret-error rules" : "secret-origin secret-error rules",
  });
  const reveal = el("button", { type: "button", class: "secondary", "aria-controls": "secret", "aria-label": "Show what you typed" }, "Show");
  reveal.addEventListener("click", () => {
    const showing = pasted.type === "text";
    pasted.type = showing ? "password" : "text";
    reveal.textContent = showing ? "Show" : "Hide";
    reveal.setAttribute("aria-label", showing ? "Show what you typed" : "Hide what you typed");
  });
  const pasteBox = el(
    "div",
    { class: "field" },
    el("label", { for: "secret" }, SECRET_LABELS[kind.name] ?? "The secret"),
    originHelp,
    el("div", { class: "inline" }, pasted, reveal),
    secretError,
  );
  const generatedOut = el("output", { id: "generated", class: "password", "aria-live": "polite" });
  const copy = el("button", { type: "button", class: "secondary", hidden: true, "aria-label": "Copy the generated password" }, "Copy");
  let copied = false;
  const confirmSet = el("input", { id: "confirm-set", type: "checkbox", "aria-describedby": "confirm-error" });
  const confirmError = el("p", { class: "error", id: "confirm-error", hidden: true });
  const generateButton = el("button", { type: "button", "aria-describedby": "confirm-error" }, "Generate a password");
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
  // A secret the CRM issues is only pasted: no generator, no choice.
  const choice = canGenerate
    ? el(
        "fieldset",
        { class: "choice" },
        el("legend", {}, "Generate or paste?"),
        el("label", {}, el("input", { type: "radio", name: "mode", value: "generate", checked: true }), " Generate a new password here"),
        el("label", {}, el("input", { type: "radio", name: "mode", value: "paste" }), " Paste one I already have"),
      )
    : null;
  const noteBox = noteField();
  const note = noteBox.input;
  const noteProblem = noteBox.error;
  const send = el("button", { type: "submit", class: "primary" }, "Seal and send");
  const sendError = el("div", { class: "error", id: "send-error", role: "alert", tabindex: "-1", hidden: true });
  body.append(
    ...fields.map((f) => f.wrap),
    ...(choice === null ? [] : [choice, generateBox]),
    pasteBox,
    rules,
    summary,
    noteBox.wrap,
    send,
    sendError,
  );

  const username = (): string | null => {
    const f = fields.find((x) => x.input.name === "username");
    return f ? f.input.value : null;
  };
  const secret = (): string => (mode === "generate" ? (generated ?? "") : pasted.value);
  // An error goes as soon as what it complains about changes: the secret's errors when the
  // secret (or how it is given) changes; the policy's verdict follows the username it depends on.
  let policyComplaint = false;
  const secretBox = (): [HTMLElement | null, HTMLElement] => (mode === "generate" ? [null, confirmError] : [pasted, secretError]);
  const policyMessage = (r: Report): string => {
    const failed = r.rules.filter((x) => !x.ok).map((x) => RULE_NAMES[x.rule] ?? x.rule);
    return `It does not meet the policy (${failed.join(", ")}): it cannot be sent.`;
  };
  const clearSecretErrors = (): void => {
    setError(pasted, secretError, null);
    setError(confirmSet, confirmError, null);
    policyComplaint = false;
  };
  const applyMode = (): void => {
    generateBox.hidden = mode !== "generate";
    pasteBox.hidden = mode !== "paste";
    clearSecretErrors();
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
      loadPatterns().then(
        (m) => {
          if (secret() === s) {
            analysis = { secret: s, result: m.analyse(s) };
            refresh();
          }
        },
        (e: unknown) => setError(pasted, secretError, e instanceof Error ? e.message : "the pattern check could not be loaded"),
      );
    }
    return check(policy, s, username(), known);
  };
  const refresh = (): void => {
    const r = report();
    rules.replaceChildren(
      ...(r === null
        ? []
        : [
            el("p", { class: "muted" }, `Checked against ${policy.name}:`),
            reportList(r),
            ...r.warnings.map((w) => el("p", { class: "muted warning" }, `Note: ${w}.`)),
          ]),
    );
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(() => {
      const failed = r?.rules.filter((x) => !x.ok).map((x) => RULE_NAMES[x.rule] ?? x.rule) ?? [];
      summary.textContent =
        r === null ? "" : failed.length === 0 ? `Meets every rule of ${policy.name}.` : `Does not yet meet: ${failed.join(", ")}.`;
    }, 800);
  };
  body.querySelectorAll<HTMLInputElement>('input[name="mode"]').forEach((radio) =>
    radio.addEventListener("change", () => {
      mode = radio.value === "paste" ? "paste" : "generate";
      applyMode();
    }),
  );
  pasted.addEventListener("input", () => {
    clearSecretErrors();
    refresh();
  });
  for (const f of fields) {
    f.input.addEventListener("input", () => {
      setError(f.input, f.error, null);
      if (f.input.name !== "username") return;
      refresh();
      if (policyComplaint) {
        const r = report();
        const [input, box] = secretBox();
        if (r === null || r.compliant) clearSecretErrors();
        else setError(input, box, policyMessage(r));
      }
    });
  }
  generateButton.addEventListener("click", () => {
    // A new password: whatever was said about the last one (or its absence) no longer holds.
    clearSecretErrors();
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
    if (generated === null || navigator.clipboard === undefined) return;
    navigator.clipboard.writeText(generated).then(
      () => {
        copied = true;
        copy.textContent = "Copied";
        setTimeout(() => (copy.textContent = "Copy"), 2000);
      },
      () => setError(null, confirmError, "The browser did not allow copying: select the password and copy it yourself"),
    );
  });
  // Ticking the box answers "set it first" (not a verdict on the password itself).
  confirmSet.addEventListener("change", () => {
    if (!policyComplaint) setError(confirmSet, confirmError, null);
  });
  applyMode();

  return async (): Promise<void> => {
    setError(null, sendError, null);
    clearSecretErrors();
    let { values, firstInvalid } = readFields(kind, fields, required);
    const noteText = note.value.trim() === "" ? null : note.value;
    const badNote = noteText === null ? null : noteError(noteText);
    setError(note, noteProblem, badNote);
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
        const [input, box] = secretBox();
        setError(input, box, policyMessage(r));
        policyComplaint = true;
        firstInvalid ??= mode === "paste" ? pasted : generateButton;
      } else if (mode === "generate" && !confirmSet.checked) {
        setError(confirmSet, confirmError, "Set the password on the account first, then tick this box");
        firstInvalid ??= confirmSet;
      }
    }
    if (badNote !== null) firstInvalid ??= note;
    if (firstInvalid !== null) {
      firstInvalid.focus();
      return;
    }
    send.disabled = true;
    send.textContent = "Sealing and sending…";
    let created: DropCreated;
    const createdAt = nowRfc3339();
    try {
      const plaintext = envelopeBytes({
        kind: kind.name,
        secret: s,
        fields: values,
        policy: policy.name,
        note: noteText,
        request: ctx.request?.id ?? null,
        createdAt,
        sender: null,
      });
      created = await sealAndUpload(ctx, plaintext);
    } catch (e) {
      send.disabled = false;
      send.textContent = "Seal and send";
      const why = e instanceof Error ? shown(e.message) : "unknown error";
      setError(null, sendError, `Not sent: ${why}.${mode === "generate" ? " If you already set the generated password on the account, send it again by pasting it." : ""}`);
      sendError.focus();
      return;
    }
    // Sent: nothing of the secret stays on the page (or, if we put it there, the clipboard).
    pasted.value = "";
    generated = null;
    note.value = "";
    for (const f of fields) f.input.value = "";
    const notes: string[] = [];
    if (copied) {
      const cleared = await navigator.clipboard.writeText("").then(
        () => true,
        () => false,
      );
      notes.push(cleared ? "The clipboard was cleared." : "Clear your clipboard: it still holds the password.");
    }
    follow(created, ctx.request?.label ?? noteText, kind.name, createdAt, notes, ctx.receiptKey);
  };
}

export function main(): void {
  start().catch((e: unknown) => {
    refuse(
      "Something went wrong",
      e instanceof Error ? shown(e.message) : "unknown error",
      "Open the link you were given again, or use the sealpass command line.",
    );
  });
}

