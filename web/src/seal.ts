// Sealing in the browser with age (typage, npm `age-encryption`): armored, so `sealpass receive`,
// `sealpass open` and the age CLI open it. To the vendor's post-quantum keys whenever it publishes
// one, else to its classical ones: never both in one file (the age format forbids mixing them,
// since a classical key would undo the post-quantum protection), as the CLI does
// (crates/sealpass-core/src/crypto.rs `choose`).

import { Encrypter, armor } from "age-encryption";

const BECH32 = "[02-9ac-hj-np-z]";
const CLASSICAL = new RegExp(`^age1${BECH32}{58}$`);
// ML-KEM-768's 1,184-byte key and X25519's 32 bytes in Bech32 (1,946 characters) and its checksum (6).
const POST_QUANTUM = new RegExp(`^age1pq1${BECH32}{1952}$`);

/** What a sender seals to out of what the vendor publishes, and what is left out. */
export interface Chosen {
  to: string[];
  /** Classical keys published beside post-quantum ones: not sealed to. */
  leftOut: string[];
  sealing: "post-quantum" | "classical";
}

export function choose(recipients: string[]): Chosen {
  for (const r of recipients) {
    if (!POST_QUANTUM.test(r) && !CLASSICAL.test(r)) throw new Error("the server's recipients are not age keys this page can seal to");
  }
  const pq = recipients.filter((r) => POST_QUANTUM.test(r));
  const classical = recipients.filter((r) => CLASSICAL.test(r));
  return pq.length > 0 ? { to: pq, leftOut: classical, sealing: "post-quantum" } : { to: classical, leftOut: [], sealing: "classical" };
}

export async function seal(plaintext: Uint8Array, recipients: string[]): Promise<string> {
  const { to } = choose(recipients);
  if (to.length === 0) throw new Error("no recipients to seal to");
  const encrypter = new Encrypter();
  for (const r of to) encrypter.addRecipient(r);
  return armor.encode(await encrypter.encrypt(plaintext));
}
