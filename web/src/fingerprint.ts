// A recipient set's fingerprint (SPEC §4), as the Rust side computes it: the first 16 bytes of
// SHA-256 over the sorted, newline-joined recipients, lowercase base32, in groups of four.

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

export async function fingerprint(recipients: string[]): Promise<string> {
  const sorted = recipients.map((r) => r.trim()).sort();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sorted.join("\n"))));
  const encoded = base32(digest.slice(0, 16));
  return `sp1-${encoded.match(/.{1,4}/g)?.join("-") ?? ""}`;
}

export function isFingerprint(s: string): boolean {
  return /^sp1-(?:[a-z2-7]{4}-){6}[a-z2-7]{2}$/.test(s);
}
