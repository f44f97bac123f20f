// The vendor's signed manifest (SPEC §11), checked as the command line checks it
// (crates/sealpass-core/src/manifest.rs `verify` and `differences`,
// crates/sealpass-core/src/trust.rs `vouch`): a link naming the vendor key (`sp4-`) vouches only
// for what that key signed, unexpired, for this server, and only while the server serves exactly
// that. The page keeps no pins, so it checks no serial. Pure apart from WebCrypto.

import { unhex, verifyEd25519 } from "./ed25519.js";
import { vendorFingerprint } from "./fingerprint.js";

/** Largest manifest body read, in bytes. */
export const MAX_MANIFEST_BYTES = 64 * 1024;

/** What the vendor key signs (its compact JSON, as served, is the signed text). */
export interface ManifestBody {
  v: number;
  serial: number;
  issued_at: string;
  expires_at: string;
  urls: string[];
  recipients: string[];
  certificates: { name: string; sha256: string }[];
  receipt_key: string;
}

export interface ManifestSignature {
  key: string;
  sig: string;
}

/** A signed manifest as `/v1/info` serves it. */
export interface SignedManifest {
  manifest: string;
  signatures: ManifestSignature[];
}

/** Why a manifest does not vouch; `expired` is the vendor's to fix, the others may be an attack. */
export type Refusal = "malformed" | "not_signed" | "altered" | "expired" | "wrong_server" | "not_as_signed";

export class ManifestError extends Error {
  constructor(
    readonly reason: Refusal,
    message: string,
  ) {
    super(message);
  }
}

/** What the manifest vouches for, once it did. */
export interface Vouched {
  body: ManifestBody;
  /** When the vendor key rotated: the new key's `sp4-` value, cross-signed by the one expected. */
  movedTo: string | null;
}

const malformed = (why: string): ManifestError => new ManifestError("malformed", `the vendor's manifest is malformed: ${why}`);

/** `value` is an object with exactly these keys (serde's deny_unknown_fields, nothing missing). */
function hasExactly(value: unknown, keys: string[]): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((k) => own.includes(k));
}

const isString = (v: unknown): v is string => typeof v === "string";
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isU64 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 64;

/** The signed manifest as served, or why it is not one. */
function signedOf(value: unknown): SignedManifest {
  if (!hasExactly(value, ["manifest", "signatures"]) || !isString(value.manifest) || !Array.isArray(value.signatures)) {
    throw malformed("not a signed manifest");
  }
  const signatures = value.signatures;
  if (!signatures.every((s) => hasExactly(s, ["key", "sig"]) && isString(s.key) && isString(s.sig))) throw malformed("a signature is not one");
  return { manifest: value.manifest, signatures: signatures as ManifestSignature[] };
}

function bodyOf(text: string): ManifestBody {
  let b: unknown;
  try {
    b = JSON.parse(text);
  } catch (e) {
    throw malformed(e instanceof Error ? e.message : "not JSON");
  }
  const fields = ["v", "serial", "issued_at", "expires_at", "urls", "recipients", "certificates", "receipt_key"];
  if (
    !hasExactly(b, fields) ||
    !isU64(b.v) ||
    !isU64(b.serial) ||
    !isString(b.issued_at) ||
    !isString(b.expires_at) ||
    !isStrings(b.urls) ||
    !isStrings(b.recipients) ||
    !Array.isArray(b.certificates) ||
    !b.certificates.every((c) => hasExactly(c, ["name", "sha256"]) && isString(c.name) && isString(c.sha256)) ||
    !isString(b.receipt_key)
  ) {
    throw malformed("not a manifest body");
  }
  return b as unknown as ManifestBody;
}

/** Strict base64 (padded, canonical), as data_encoding's BASE64 decodes it, or null. */
function unbase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  let again = "";
  for (const b of bytes) again += String.fromCharCode(b);
  return btoa(again) === text ? bytes : null; // unused bits set: not canonical
}

async function signatureHolds(s: ManifestSignature, message: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const [key, sig] = [unhex(s.key), unbase64(s.sig)];
  return key !== null && sig !== null && verifyEd25519(key, sig, message);
}

function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

/** An RFC 3339 time as Unix seconds, or null: what the `time` crate's Rfc3339 parser accepts
 * (any one ASCII separator, any number of fraction digits, `z` for `Z`, a leap second only as the
 * last second of a month in UTC). */
export function unixSeconds(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[\x00-\x7f](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi, s, oh, om] = [1, 2, 3, 4, 5, 6, 8, 9].map((i) => Number(m[i] ?? 0));
  const leapYear = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const monthDays = [31, leapYear ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  if (d < 1 || d > monthDays || h > 23 || mi > 59 || s > 60 || oh > 23 || om > 59) return null;
  const offset = (m[7] === "-" ? -1 : 1) * (oh * 3600 + om * 60);
  const unix = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + Math.min(s, 59) - offset;
  // A leap second stands for 23:59:59.999999999 UTC on a month's last day, and nothing else.
  if (s === 60 && !((unix + 1) % 86400 === 0 && new Date((unix + 1) * 1000).getUTCDate() === 1)) return null;
  return unix;
}

/** The bytes the signing vendor key signs: a context string no receipt or checkpoint shares,
 * then the body's text. */
function message(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`sealpass-manifest-v1\n${text}`);
}

/** The bytes the previous vendor key signs while the vendor key rotates: another context, the
 * new key it hands over to (lowercase hex), then the body — so its signature cannot be grafted
 * next to any other key. */
function handoverMessage(newKeyHex: string, text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`sealpass-manifest-rotate-v1\n${newKeyHex.toLowerCase()}\n${text}`);
}

/** `manifest::verify` without the serial: a valid first signature by the vendor key the link
 * names, or by a new key that key hands over to in the second signature (over the new key and the
 * body, never the body alone); unexpired at `now` (Unix seconds), naming `server` among its URLs. */
export async function verifyManifest(served: unknown, expect: { vendorKey: string; server: string; now: number }): Promise<Vouched> {
  const signed = signedOf(served);
  if (new TextEncoder().encode(signed.manifest).length > MAX_MANIFEST_BYTES || signed.signatures.length < 1 || signed.signatures.length > 2) {
    throw malformed("a manifest has a body of at most 64 KiB and one or two signatures");
  }
  const body = bodyOf(signed.manifest);
  if (body.v !== 1) throw malformed(`version ${body.v} (this page reads version 1)`);
  const expected = expect.vendorKey.trim();
  const validKey = (key: string): boolean => /^[0-9a-fA-F]{64}$/.test(key);
  const isExpected = async (s: ManifestSignature): Promise<boolean> => validKey(s.key) && (await vendorFingerprint(s.key)) === expected;
  const notSigned = new ManifestError("not_signed", `the server's manifest is not signed by the vendor key ${expected} your link names`);
  const altered = new ManifestError("altered", "the manifest's signature by the vendor key does not match its contents: it was altered");
  const signer = signed.signatures[0];
  let movedTo: string | null = null;
  if (!(await isExpected(signer))) {
    const previous = signed.signatures[1];
    if (previous === undefined || !(await isExpected(previous))) throw notSigned;
    if (!validKey(signer.key)) throw altered;
    if (!(await signatureHolds(previous, handoverMessage(signer.key, signed.manifest)))) throw altered;
    movedTo = await vendorFingerprint(signer.key);
  }
  if (!(await signatureHolds(signer, message(signed.manifest)))) throw altered;
  const expires = unixSeconds(body.expires_at);
  if (expires === null) throw malformed("expires_at is not an RFC 3339 time");
  if (expect.now >= expires) {
    throw new ManifestError("expired", `the vendor's manifest expired at ${body.expires_at}: the vendor must sign a new one (sealpass manifest sign)`);
  }
  const server = expect.server.replace(/\/+$/, "");
  if (!body.urls.some((u) => u.replace(/\/+$/, "") === server)) {
    throw new ManifestError("wrong_server", `the vendor's manifest is for ${body.urls.join(", ")}, not for ${server}: this is not the vendor's server`);
  }
  return { body, movedTo };
}

const sorted = (v: string[]): string[] => [...v].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** `manifest::differences`: what the server serves that its manifest does not vouch for (or the
 * other way round); empty when they agree. `certSha256` are hashed here from the served PEMs. */
export function differences(body: ManifestBody, recipients: string[], certSha256: string[], receiptKey: string): string[] {
  const out: string[] = [];
  const [servedKeys, signedKeys] = [sorted(recipients), sorted(body.recipients)];
  if (!same(servedKeys, signedKeys)) out.push(`recipients: the server has ${servedKeys.join(", ")}, the manifest ${signedKeys.join(", ")}`);
  const servedCerts = sorted(certSha256.map((h) => h.toLowerCase()));
  const signedCerts = sorted(body.certificates.map((c) => c.sha256.toLowerCase()));
  if (!same(servedCerts, signedCerts)) {
    out.push(`certificates (SHA-256): the server has [${servedCerts.join(", ")}], the manifest [${signedCerts.join(", ")}]`);
  }
  if (body.receipt_key.toLowerCase() !== receiptKey.toLowerCase()) out.push(`receipt key: the server's is ${receiptKey}, the manifest's ${body.receipt_key}`);
  return out;
}

/** `trust::vouch` for an `sp4-` value: the manifest served must verify and vouch for exactly
 * what is served. Throws a ManifestError saying why not. */
export async function vouch(
  vendorKey: string,
  served: { server: string; manifest: unknown; recipients: string[]; certSha256: string[]; receiptKey: string | null },
  now: number,
): Promise<Vouched> {
  if (served.manifest === undefined || served.manifest === null) {
    throw new ManifestError("not_signed", `your link names the vendor's signing key ${vendorKey.trim()}, but this server serves no manifest signed by it`);
  }
  const verified = await verifyManifest(served.manifest, { vendorKey, server: served.server, now });
  const differs = differences(verified.body, served.recipients, served.certSha256, served.receiptKey ?? "");
  if (differs.length > 0) {
    throw new ManifestError("not_as_signed", `the server serves keys the vendor's signed manifest does not vouch for (${differs.join("; ")})`);
  }
  return verified;
}
