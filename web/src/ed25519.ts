// Ed25519 signature checks with WebCrypto, in one place for the two things the page must not take
// on the server's word: its receipts (follow.ts) and the vendor's signed manifest (manifest.ts).
// Pure apart from WebCrypto.

/** Hex (either case) as bytes, or null when it is not whole bytes of hex. */
export function unhex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^(?:[0-9a-f]{2})*$/i.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/** Whether `signature` is `key`'s Ed25519 signature over `message`; false for a malformed key or
 * signature, never an exception. */
export async function verifyEd25519(key: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>, message: Uint8Array<ArrayBuffer>): Promise<boolean> {
  try {
    const k = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, k, signature, message);
  } catch {
    return false;
  }
}
