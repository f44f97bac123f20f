// A recipient set's fingerprint (SPEC §4), as the Rust side computes it: the first 16 bytes of
// SHA-256 over the sorted, newline-joined recipients, lowercase base32, in groups of four; once
// a server publishes certificates, its `sp2-` version covering them too (SPEC §9), with each
// certificate read from its PEM here, never from the hashes the server states; and once it
// signs receipts, `sp3-`, covering its receipt key as well (SPEC §10). And `sp4-`, which names
// no keys served but the vendor's own signing key (SPEC §11; manifest.ts checks what it signed).

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

export function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

async function grouped(prefix: string, text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  const encoded = base32(digest.slice(0, 16));
  return `${prefix}-${encoded.match(/.{1,4}/g)?.join("-") ?? ""}`;
}

/** A vendor key's `sp4-` value, as `manifest::fingerprint` computes it from the public key's hex. */
export async function vendorFingerprint(publicKeyHex: string): Promise<string> {
  return grouped("sp4", `sp4\n${publicKeyHex.trim().toLowerCase()}`);
}

/** Rust sorts strings by code point, JavaScript by UTF-16 unit: the same for what is sorted here
 * (age recipients and hex digests are ASCII; anything else fails the recipient check). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function fingerprint(recipients: string[]): Promise<string> {
  return grouped("sp1", recipients.map((r) => r.trim()).sort(byCodePoint).join("\n"));
}

/** What `crypto::server_fingerprint` gives: `sp3-` with a receipt key, `sp2-` with
 * certificates, else `sp1-`. */
export async function serverFingerprint(
  recipients: string[],
  certSha256: string[],
  receiptKey: string | null,
): Promise<string> {
  if (certSha256.length === 0 && receiptKey === null) return fingerprint(recipients);
  const version = receiptKey === null ? "sp2" : "sp3";
  const keys = recipients.map((r) => r.trim()).sort(byCodePoint);
  const certs = certSha256.map((c) => `x509-sha256:${c.trim().toLowerCase()}`).sort(byCodePoint);
  const lines = [version, ...keys, ...certs];
  if (receiptKey !== null) lines.push(`ed25519:${receiptKey.trim().toLowerCase()}`);
  return grouped(version, lines.join("\n"));
}

/** What `expected` vouches for, as `crypto::covers` decides: everything served, the
 * recipients only (a fingerprint from before certificates), or nothing. */
export async function covers(
  expected: string,
  recipients: string[],
  certSha256: string[],
  receiptKey: string | null,
): Promise<"everything" | "recipients" | null> {
  if (expected.startsWith("sp1-")) {
    if ((await fingerprint(recipients)) !== expected) return null;
    return certSha256.length === 0 ? "everything" : "recipients";
  }
  if (expected.startsWith("sp3-")) {
    if (receiptKey === null) return null;
    if ((await serverFingerprint(recipients, certSha256, receiptKey)) === expected) return "everything";
    const before = certSha256.length > 0 && (await serverFingerprint(recipients, [], receiptKey)) === expected;
    return before ? "recipients" : null;
  }
  return (await serverFingerprint(recipients, certSha256, null)) === expected ? "everything" : null;
}

/** A certificate as the page shows it, hashed from its own PEM. */
export interface Checked {
  name: string;
  pem: string;
  sha256: string;
  sha1: string;
  notAfter: string;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One PEM certificate's DER, or null when the text is anything else (a key, several, junk). */
export function certificateDer(pem: string): Uint8Array<ArrayBuffer> | null {
  const m = /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----\r?\n?$/.exec(pem);
  if (m === null) return null;
  try {
    return Uint8Array.from(atob(m[1].replace(/[\r\n]/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The server's certificates, each hashed here from its PEM; the hashes it states must agree. */
export async function checkedCertificates(
  published: { name: string; pem: string; sha256: string; sha1_thumbprint: string; not_after: string }[],
): Promise<Checked[]> {
  if (published.length > 8) throw new Error("the server publishes more certificates than sealpass allows");
  const out: Checked[] = [];
  for (const c of published) {
    const der = certificateDer(c.pem);
    if (der === null || !/^[A-Za-z0-9._-]{1,64}$/.test(c.name)) throw new Error("the server publishes a certificate that is not one");
    const sha256 = hex(await crypto.subtle.digest("SHA-256", der));
    const sha1 = hex(await crypto.subtle.digest("SHA-1", der)).toUpperCase();
    if (sha256 !== c.sha256 || sha1 !== c.sha1_thumbprint) throw new Error("the server states fingerprints that are not its certificate's");
    out.push({ name: c.name, pem: c.pem, sha256, sha1, notAfter: c.not_after });
  }
  return out;
}

export function isFingerprint(s: string): boolean {
  return /^sp[1-4]-(?:[a-z2-7]{4}-){6}[a-z2-7]{2}$/.test(s);
}
