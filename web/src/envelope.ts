// The envelope (docs/envelope.md), byte for byte as the Rust side writes it: the same keys in
// the same order, the same JSON escaping (JSON.stringify and serde_json agree for well-formed
// strings), padded with spaces to a multiple of 512 bytes (at least 1024). Field values are
// checked as the CLI checks them. Pure.

import type { FieldEntry, KindEntry } from "./policy.js";
import { isControl, isWhitespace, scalars, trimRust } from "./policy.js";

export const PAD_BLOCK = 512;
export const PAD_MIN = 1024;
/** Largest envelope sealpass seals (so its armored ciphertext fits a drop). */
export const MAX_SEALED_BYTES = 80 * 1024;

export interface Envelope {
  kind: string;
  /** Null for the kinds that carry no secret (the key is then left out). */
  secret: string | null;
  fields: Record<string, string>;
  policy: string | null;
  note: string | null;
  request: string | null;
  /** RFC 3339 UTC to the second: 2026-12-01T12:00:00Z. */
  createdAt: string;
  sender: string | null;
}

/** Now, as the Rust side writes `created_at`. */
export function nowRfc3339(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Invisible marks a copied thumbprint brings along: Windows' certificate dialog puts a
 * left-to-right mark (U+200E) before it. The same three the Rust side drops. */
function invisibleMark(c: string): boolean {
  return c === "\u200e" || c === "\u200f" || c === "\ufeff";
}

/**
 * A certificate thumbprint as certificate viewers show it (`3a:f1 09 …`, lower case, grouped by
 * spaces or colons) written the one way Entra ID and the checks expect: the hex digits alone, in
 * upper case. Whatever else is in it is kept, so the shape check still refuses it. As
 * `FieldType::normalise` in the Rust envelope (compat.test.ts compares them).
 */
export function normaliseThumbprint(value: string): string {
  return scalars(value)
    .filter((c) => c !== ":" && !isWhitespace(c) && !invisibleMark(c))
    // ASCII only: "ﬀ".toUpperCase() is "FF", which would make a ligature pass as hex digits.
    .map((c) => (c >= "a" && c <= "z" ? c.toUpperCase() : c))
    .join("");
}

/** A field's value as it is checked and sealed: trimmed; a thumbprint normalised. */
export function normaliseField(spec: Pick<FieldEntry, "type">, value: string): string {
  return spec.type === "thumbprint" ? normaliseThumbprint(value) : trimRust(value);
}

/** Why a field value is refused, or null: as `envelope::validate_field` for known kinds. The
 * message calls the field `label` (what the page's form shows; its name by default). */
export function fieldError(kind: KindEntry, name: string, value: string, label: string = name): string | null {
  if (scalars(value).some(isControl)) return `${label} contains control characters`;
  const spec = kind.fields.find((f) => f.name === name);
  if (spec === undefined) return `kind ${kind.name} has no field ${name}`;
  const v = normaliseField(spec, value);
  if (v === "") return `${label} is empty`;
  // The shape comes from the catalog: the very expression the CLI runs.
  if (spec.pattern !== null && (!new RegExp(spec.pattern, "u").test(v) || (spec.type === "date" && !isDate(v)))) {
    return `${label} must be ${spec.expected ?? "of the expected shape"}`;
  }
  return null;
}

/** `YYYY-MM-DD` that names a real day. */
function isDate(v: string): boolean {
  const [y, m, d] = v.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Why a note is refused, or null: the receiver refuses control characters (newlines too). */
export function noteError(note: string): string | null {
  if (!note.isWellFormed()) return "The note is not well-formed text";
  if (scalars(note).some(isControl)) return "The note must be one line, without control characters";
  return null;
}

/** The envelope's JSON, unpadded, exactly as serde_json writes the Rust `WireOut`. */
export function envelopeJson(e: Envelope): string {
  for (const text of [e.secret, e.note, e.sender, ...Object.values(e.fields)]) {
    if (text !== null && !text.isWellFormed()) throw new Error("the text is not well-formed Unicode");
  }
  // What the receiver would refuse is never sealed (envelope::Envelope::from_json).
  for (const [name, text] of [["note", e.note], ["sender", e.sender]] as const) {
    if (text !== null && scalars(text).some(isControl)) throw new Error(`the ${name} contains control characters`);
  }
  const fields = Object.keys(e.fields)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(trimRust(e.fields[k]))}`)
    .join(",");
  const secret = e.secret === null ? "" : `"secret":${JSON.stringify(e.secret)},`;
  let json = `{"v":1,"kind":${JSON.stringify(e.kind)},${secret}"fields":{${fields}},`;
  json += `"policy":${JSON.stringify(e.policy)},`;
  if (e.note !== null) json += `"note":${JSON.stringify(e.note)},`;
  json += `"request":${JSON.stringify(e.request)},"created_at":${JSON.stringify(e.createdAt)}`;
  if (e.sender !== null) json += `,"sender":${JSON.stringify(e.sender)}`;
  return `${json}}`;
}

/** The padded plaintext to seal. */
export function envelopeBytes(e: Envelope): Uint8Array {
  const json = new TextEncoder().encode(envelopeJson(e));
  const padded = Math.max(Math.ceil(json.length / PAD_BLOCK), PAD_MIN / PAD_BLOCK) * PAD_BLOCK;
  if (padded > MAX_SEALED_BYTES) throw new Error(`the secret and its fields are too large (at most ${MAX_SEALED_BYTES / 1024} KiB)`);
  const out = new Uint8Array(padded).fill(0x20);
  out.set(json);
  json.fill(0);
  return out;
}
