// The page reads the vendor's signed manifest as the command line does
// (crates/sealpass-core/src/manifest.rs, crates/sealpass-core/src/trust.rs): the same sp4- value as
// `sealpass vendor-key show`, a manifest `sealpass manifest sign` made verifies (and one
// cross-signed while the vendor key rotates, under the old value), and every way to abuse one is
// refused: altered, another key's, expired, another server's, or served next to keys it does not
// name.

import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";

import { base32, vendorFingerprint } from "../src/fingerprint.js";
import { where } from "../src/link.js";
import type { ManifestBody, SignedManifest } from "../src/manifest.js";
import { ManifestError, differences, unixSeconds, verifyManifest, vouch } from "../src/manifest.js";
import { sealpass, scratch } from "./support.js";

const BASE = "https://drop.kore.example";
const dir = scratch();
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): string {
  const r = sealpass(args);
  assert.equal(r.code, 0, `sealpass ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function vendorKey(name: string): { file: string; sp4: string; publicKey: string } {
  const file = join(dir, name);
  run(["vendor-key", "new", "-o", file]);
  const shown = JSON.parse(run(["vendor-key", "show", "--vendor-key", file, "--json"])) as { fingerprint: string; public_key: string };
  return { file, sp4: shown.fingerprint, publicKey: shown.public_key };
}

/** A server config (with a certificate and a receipt key) and what it serves. */
function config(name: string): { file: string; recipients: string[]; certSha256: string[]; receiptKey: string } {
  const recipient = run(["keygen", "-o", join(dir, `${name}.age`)]).split("\n")[0];
  const cert = JSON.parse(run(["cert", "new", "--name", name, "--days", "30", "-o", dir, "--json"])) as { sha256: string };
  const file = join(dir, `${name}.toml`);
  writeFileSync(
    file,
    `recipients = ["${recipient}"]\npublic_url = "${BASE}"\nreceipt_key = "${join(dir, `${name}-receipt.key`)}"\n` +
      `[[certificates]]\nname = "${name}"\nfile = "${join(dir, `${name}.crt`)}"\n` +
      `[[staff]]\nname = "alice"\ntoken_sha256 = "${"ab".repeat(32)}"\n`,
  );
  const signed = manifestFile(file, vendor.file, `${name}-probe.json`);
  const body = JSON.parse(signed.manifest) as ManifestBody;
  return { file, recipients: [recipient], certSha256: [cert.sha256], receiptKey: body.receipt_key };
}

function manifestFile(configFile: string, key: string, out: string, ...extra: string[]): SignedManifest {
  const path = join(dir, out);
  run(["manifest", "sign", "--vendor-key", key, "--config", configFile, "-o", path, ...extra]);
  return JSON.parse(readFileSync(path, "utf8")) as SignedManifest;
}

const now = (): number => Math.floor(Date.now() / 1000);

/** The refusal `promise` ends in. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ManifestError, String(e));
    return e.reason;
  }
  assert.fail("accepted");
}

/** A manifest signed here by a key of the test's own (for what `manifest sign` will not make). */
function signedHere(body: ManifestBody, text = JSON.stringify(body)): { signed: SignedManifest; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const hex = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url").toString("hex");
  const sig = sign(null, Buffer.from(`sealpass-manifest-v1\n${text}`), privateKey).toString("base64");
  return { signed: { manifest: text, signatures: [{ key: hex, sig }] }, publicKey: hex };
}

const vendor = vendorKey("vendor.key");
const server = config("kore");

test("the page's sp4- value is the one sealpass vendor-key show prints, by the documented recipe", async () => {
  assert.equal(await vendorFingerprint(vendor.publicKey), vendor.sp4);
  assert.equal(await vendorFingerprint(` ${vendor.publicKey.toUpperCase()} `), vendor.sp4, "trimmed, lower-cased");
  for (const name of ["a.key", "b.key"]) {
    const k = vendorKey(name);
    assert.equal(await vendorFingerprint(k.publicKey), k.sp4);
  }
  const zero = "00".repeat(32);
  const digest = createHash("sha256").update(`sp4\n${zero}`).digest();
  assert.equal((await vendorFingerprint(zero)).replaceAll("-", ""), `sp4${base32(digest.subarray(0, 16))}`);
  assert.match(vendor.sp4, /^sp4-(?:[a-z2-7]{4}-){6}[a-z2-7]{2}$/);
});

test("request links and /send take an sp4- value", () => {
  const token = randomBytes(24).toString("base64url");
  const id = "a".repeat(26);
  assert.deepEqual(where(`/r/${id}`, `#${token}.${vendor.sp4}`), { mode: "request", base: "", id, token, fingerprint: vendor.sp4 });
  assert.deepEqual(where("/prefix/send", `#${vendor.sp4}`), { mode: "anonymous", base: "/prefix", fingerprint: vendor.sp4 });
  assert.equal(where("/send", "#sp5-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aa").mode, "broken");
});

test("a manifest sealpass manifest sign made verifies, and vouches for exactly what the server serves", async () => {
  const signed = manifestFile(server.file, vendor.file, "kore.json");
  const v = await verifyManifest(signed, { vendorKey: vendor.sp4, server: `${BASE}/`, now: now() });
  assert.equal(v.movedTo, null);
  assert.deepEqual(v.body.recipients, server.recipients);
  assert.deepEqual(v.body.urls, [BASE]);
  const served = { server: BASE, manifest: signed, recipients: server.recipients, certSha256: server.certSha256, receiptKey: server.receiptKey };
  assert.equal((await vouch(vendor.sp4, served, now())).body.receipt_key, server.receiptKey);
  // Upper-case hashes and key, and the recipients in another order, are the same set.
  const upper = { ...served, certSha256: server.certSha256.map((h) => h.toUpperCase()), receiptKey: server.receiptKey.toUpperCase() };
  assert.ok(await vouch(vendor.sp4, upper, now()));
});

test("an altered body, another key's signature, an expired manifest and another server's are each refused", async () => {
  const signed = manifestFile(server.file, vendor.file, "refusals.json");
  const expect = { vendorKey: vendor.sp4, server: BASE, now: now() };
  const altered = { ...signed, manifest: signed.manifest.replace(server.recipients[0].slice(0, 12), "age1xxxxxxxx") };
  assert.notEqual(altered.manifest, signed.manifest);
  assert.equal(await refusal(verifyManifest(altered, expect)), "altered");
  const body = JSON.parse(signed.manifest) as ManifestBody;
  // The same body, or one naming an attacker's recipient, signed by another key.
  for (const b of [body, { ...body, recipients: ["age1attacker"] }]) {
    assert.equal(await refusal(verifyManifest(signedHere(b).signed, expect)), "not_signed");
  }
  // The right signature in non-canonical base64 (an unused bit set, as atob would forgive), or
  // with one bit flipped.
  const sig = signed.signatures[0].sig;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const lastBit = alphabet[alphabet.indexOf(sig[85]) ^ 1];
  const flipped = alphabet[alphabet.indexOf(sig[0]) ^ 1];
  for (const garbled of [`${sig.slice(0, 85)}${lastBit}==`, `${flipped}${sig.slice(1)}`]) {
    assert.deepEqual(Buffer.from(garbled, "base64").equals(Buffer.from(sig, "base64")), garbled.startsWith(sig[0]));
    assert.equal(await refusal(verifyManifest({ ...signed, signatures: [{ ...signed.signatures[0], sig: garbled }] }, expect)), "altered");
  }
  // Expired: sealpass signs for a day, checked two days on; and one signed already expired.
  const short = manifestFile(server.file, vendor.file, "short.json", "--days", "1");
  assert.ok(await verifyManifest(short, expect));
  assert.equal(await refusal(verifyManifest(short, { ...expect, now: now() + 2 * 86400 })), "expired");
  const expiresAt = unixSeconds((JSON.parse(short.manifest) as ManifestBody).expires_at) ?? 0;
  assert.equal(await refusal(verifyManifest(short, { ...expect, now: expiresAt })), "expired", "expired at its expiry");
  assert.ok(await verifyManifest(short, { ...expect, now: expiresAt - 1 }));
  const old = signedHere({ ...body, expires_at: "2020-01-01T00:00:00Z" });
  const oldExpect = { ...expect, vendorKey: await vendorFingerprint(old.publicKey) };
  assert.equal(await refusal(verifyManifest(old.signed, oldExpect)), "expired");
  try {
    await verifyManifest(old.signed, oldExpect);
  } catch (e) {
    assert.match((e as Error).message, /expired at 2020-01-01T00:00:00Z: the vendor must sign a new one/);
  }
  // Another server, or none at all.
  assert.equal(await refusal(verifyManifest(signed, { ...expect, server: "https://evil.example" })), "wrong_server");
  assert.equal(await refusal(verifyManifest(signed, { ...expect, server: `${BASE}/prefix` })), "wrong_server");
  const bare = { server: BASE, manifest: undefined, recipients: server.recipients, certSha256: server.certSha256, receiptKey: server.receiptKey };
  assert.equal(await refusal(vouch(vendor.sp4, bare, now())), "not_signed");
});

test("a served recipient, certificate or receipt key the manifest does not name is refused", async () => {
  const signed = manifestFile(server.file, vendor.file, "served.json");
  const served = { server: BASE, manifest: signed, recipients: server.recipients, certSha256: server.certSha256, receiptKey: server.receiptKey as string | null };
  const other = "age1lxfpwx6mt62skudgcut35wsrekt8necz9fu9ttz076tx0nh8kfsqahqk8p";
  const cases = {
    "an extra recipient": { ...served, recipients: [...server.recipients, other] },
    "another recipient": { ...served, recipients: [other] },
    "no recipient": { ...served, recipients: [] },
    "a recipient twice": { ...served, recipients: [server.recipients[0], server.recipients[0]] },
    "an extra certificate": { ...served, certSha256: [...server.certSha256, "cd".repeat(32)] },
    "another certificate": { ...served, certSha256: ["cd".repeat(32)] },
    "no certificate": { ...served, certSha256: [] },
    "another receipt key": { ...served, receiptKey: "ef".repeat(32) },
    "no receipt key": { ...served, receiptKey: null },
  };
  for (const [what, s] of Object.entries(cases)) {
    assert.equal(await refusal(vouch(vendor.sp4, s, now())), "not_as_signed", what);
  }
  const body = JSON.parse(signed.manifest) as ManifestBody;
  const named = differences(body, [...server.recipients, other], [], "ef".repeat(32));
  assert.equal(named.length, 3);
  assert.ok(named[0].includes(other) && named[2].startsWith("receipt key"));
  assert.deepEqual(differences(body, server.recipients, server.certSha256, server.receiptKey), []);
});

test("a cross-signed manifest (the vendor key rotating) is accepted under the old key's value", async () => {
  const next = vendorKey("next.key");
  const rotated = manifestFile(server.file, next.file, "rotated.json", "--previous-key", vendor.file);
  assert.equal(rotated.signatures.length, 2);
  const expect = { vendorKey: vendor.sp4, server: BASE, now: now() };
  assert.equal((await verifyManifest(rotated, expect)).movedTo, next.sp4);
  assert.equal((await verifyManifest(rotated, { ...expect, vendorKey: next.sp4 })).movedTo, null, "under the new key, an ordinary manifest");
  // Signed by the new key alone, it does not vouch under the old value.
  const alone = manifestFile(server.file, next.file, "alone.json");
  assert.equal(await refusal(verifyManifest(alone, expect)), "not_signed");
  // A broken first signature next to a good old one is refused, not moved to.
  const broken = { ...rotated, signatures: [{ ...rotated.signatures[0], sig: rotated.signatures[1].sig }, rotated.signatures[1]] };
  assert.equal(await refusal(verifyManifest(broken, expect)), "altered");
  // The vendor's genuine signature over a manifest, grafted second next to another key's, hands
  // over to nothing (found in review); nor does a hand-over to one key carry over to another.
  const genuine = manifestFile(server.file, vendor.file, "genuine.json");
  const impostor = signedHere(JSON.parse(genuine.manifest) as ManifestBody, genuine.manifest).signed;
  const grafted = { manifest: genuine.manifest, signatures: [impostor.signatures[0], genuine.signatures[0]] };
  assert.equal(await refusal(verifyManifest(grafted, expect)), "altered");
  const elsewhere = signedHere(JSON.parse(rotated.manifest) as ManifestBody, rotated.manifest).signed;
  const handedElsewhere = { manifest: rotated.manifest, signatures: [elsewhere.signatures[0], rotated.signatures[1]] };
  assert.equal(await refusal(verifyManifest(handedElsewhere, expect)), "altered");
});

test("malformed manifests are refused before any signature is believed", async () => {
  const signed = manifestFile(server.file, vendor.file, "malformed.json");
  const expect = { vendorKey: vendor.sp4, server: BASE, now: now() };
  const body = JSON.parse(signed.manifest) as ManifestBody;
  const s = signed.signatures[0];
  const bad: [string, unknown][] = [
    ["three signatures", { ...signed, signatures: [s, s, s] }],
    ["no signature", { ...signed, signatures: [] }],
    ["an unknown field", { ...signed, extra: 1 }],
    ["an unknown signature field", { ...signed, signatures: [{ ...s, alg: "ed25519" }] }],
    ["not an object", "manifest"],
    ["a body over 64 KiB", signedHere({ ...body, urls: [BASE, "x".repeat(64 * 1024)] }).signed],
    ["version 2", signedHere({ ...body, v: 2 }).signed],
    ["an unknown body field", signedHere(body, signed.manifest.replace("{", '{"extra":1,')).signed],
    ["a missing body field", signedHere(body, JSON.stringify({ ...body, receipt_key: undefined })).signed],
    ["a body that is not JSON", signedHere(body, "{").signed],
    ["an expiry that is not RFC 3339", signedHere({ ...body, expires_at: "2099-01-01" }).signed],
  ];
  for (const [what, m] of bad) {
    // Signed here: expected under the key that signed it, so only the malformation can refuse it.
    const key = (m as Partial<SignedManifest>).signatures?.[0]?.key;
    const expected = typeof key === "string" ? await vendorFingerprint(key) : vendor.sp4;
    assert.equal(await refusal(verifyManifest(m, { ...expect, vendorKey: expected })), "malformed", what);
  }
});

test("RFC 3339 times are read as the time crate reads them", () => {
  assert.equal(unixSeconds("2027-03-01T00:00:00Z"), Date.parse("2027-03-01T00:00:00Z") / 1000);
  assert.equal(unixSeconds("2027-03-01t01:30:00.999+01:30"), Date.parse("2027-03-01T00:00:00Z") / 1000);
  assert.equal(unixSeconds("2027-03-01 00:00:00z"), Date.parse("2027-03-01T00:00:00Z") / 1000);
  assert.equal(unixSeconds("1969-12-31T23:59:59Z"), -1);
  assert.equal(unixSeconds("2024-02-29T00:00:00-00:00"), Date.parse("2024-02-29T00:00:00Z") / 1000);
  assert.equal(unixSeconds("2016-12-31T23:59:60Z"), Date.parse("2016-12-31T23:59:59Z") / 1000, "a leap second");
  assert.equal(unixSeconds("2017-01-01T00:59:60+01:00"), Date.parse("2016-12-31T23:59:59Z") / 1000, "a leap second, offset");
  for (const bad of ["2016-12-30T23:59:60Z", "2023-02-29T00:00:00Z", "2027-13-01T00:00:00Z", "2027-03-01T24:00:00Z", "2027-03-01T00:00:00", "2027-03-01T00:00:00+24:00", "2027-03-01T00:00:00+01:60", "2027-03-01T00:00:00.Z", "2027-03-01é00:00:00Z", "27-03-01T00:00:00Z", " 2027-03-01T00:00:00Z"]) {
    assert.equal(unixSeconds(bad), null, bad);
  }
});
