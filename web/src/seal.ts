// Sealing in the browser with age (typage, npm `age-encryption`): to every recipient, armored,
// so `sealpass receive`, `sealpass open` and the age CLI open it.

import { Encrypter, armor } from "age-encryption";

export async function seal(plaintext: Uint8Array, recipients: string[]): Promise<string> {
  if (recipients.length === 0) throw new Error("no recipients to seal to");
  const encrypter = new Encrypter();
  for (const r of recipients) {
    if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r)) throw new Error("the server's recipients are not age X25519 keys");
    encrypter.addRecipient(r);
  }
  return armor.encode(await encrypter.encrypt(plaintext));
}
