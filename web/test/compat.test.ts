// The page and the CLI speak the same bytes: the same fingerprint for a recipient set, the same
// envelope for the same inputs, byte for byte; what the page seals opens with `sealpass open`
// and the age CLI, and a tampered one is refused.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { envelopeBytes, envelopeJson, fieldError, normaliseField, normaliseThumbprint, noteError, nowRfc3339 } from "../src/envelope.js";
import { covers, fingerprint, serverFingerprint } from "../src/fingerprint.js";
import { verifyReceipt } from "../src/follow.js";
import { choose, seal } from "../src/seal.js";
import { Decrypter, armor } from "age-encryption";
import { catalog, sealpass, scratch } from "./support.js";

const A = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const B = "age1lxfpwx6mt62skudgcut35wsrekt8necz9fu9ttz076tx0nh8kfsqahqk8p";

/** A new identity in `dir/name` and its recipient: post-quantum (the default), or classical for
 * what Debian's age CLI (1.1, no post-quantum keys) must open. */
function identity(dir: string, name: string, classic = false): string {
  const run = sealpass(["keygen", "-o", join(dir, name), ...(classic ? ["--classic"] : [])]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.split("\n")[0];
}

test("fingerprints match the Rust ones", async () => {
  assert.equal(await fingerprint([A]), "sp1-z57f-narr-gfig-qw7r-nzbm-j2si-4e");
  assert.equal(await fingerprint([A, B]), "sp1-asqn-uvvd-kghx-ocmx-u3mg-r6mj-zu");
  assert.equal(await fingerprint([B, ` ${A} `]), await fingerprint([A, B]));
  const dir = scratch();
  const keys = [identity(dir, "a.key"), identity(dir, "b.key"), identity(dir, "c.key")];
  const all = ["a.key", "b.key", "c.key"].map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
  writeFileSync(join(dir, "all.key"), all, { mode: 0o600 });
  const rust = JSON.parse(sealpass(["recipient", "-i", join(dir, "all.key"), "--json"]).stdout) as { fingerprint: string };
  assert.equal(await fingerprint(keys), rust.fingerprint);
});

test("sp2 and sp3 fingerprints match the Rust ones (crypto.rs's vectors)", async () => {
  const cert = "ab".repeat(32);
  const key = "ef".repeat(32);
  assert.equal(await serverFingerprint([A], [cert], null), "sp2-72ne-n5fz-q2md-4s4v-o6dd-ikeo-zy");
  assert.equal(await serverFingerprint([A], [cert], key), "sp3-vkgl-qvub-q5ss-zyhj-pe6y-fhd7-tu");
  const before = await serverFingerprint([A], [], key);
  assert.equal(await covers(before, [A], [cert], key), "recipients");
  assert.equal(await covers(before, [A], [cert], "01".repeat(32)), null);
  assert.equal(await covers("sp3-vkgl-qvub-q5ss-zyhj-pe6y-fhd7-tu", [A], [cert], null), null);
});

/** What `sealpass seal` put inside: the age CLI decrypts it to the envelope's bytes. */
function rustPlaintext(dir: string, args: string[], secret: string): Buffer {
  const recipient = identity(dir, "r.key", true);
  const run = sealpass(["seal", "--to", recipient, ...args, "-o", join(dir, "c.age")], `${secret}\n`);
  assert.equal(run.code, 0, run.stderr);
  return execFileSync("age", ["-d", "-i", join(dir, "r.key"), join(dir, "c.age")]);
}

test("envelopes are byte for byte what the Rust side writes", () => {
  const cases: { kind: string; secret: string; fields: Record<string, string>; note: string | null; args: string[] }[] = [
    {
      kind: "salesforce-password",
      secret: "5=3wNdPM1Rk+3b_xHkKalOcE4$4eKNZJ",
      fields: { username: "kore@acme.example", instance_url: "https://acme.my.salesforce.com" },
      note: null,
      args: ["--kind", "salesforce-password", "-u", "kore@acme.example", "--field", "instance_url=https://acme.my.salesforce.com"],
    },
    {
      kind: "generic",
      secret: 'Zq7#Lm2$"Rv9\\!Xp4&Tb6^ü€😀\u2028ß',
      fields: { "a.b": 'quote " and back\\slash', zeta: "  padded  ", alpha: "é😀" },
      note: 'a note with "quotes", </script> and 中文',
      args: ["--kind", "generic", "--field", 'a.b=quote " and back\\slash', "--field", "zeta=  padded  ", "--field", "alpha=é😀", "--note", 'a note with "quotes", </script> and 中文'],
    },
    {
      kind: "entra-client-secret",
      secret: "abc8Q~defghijklmnopqrstuvwxyz0123456789.",
      fields: { tenant_id: "0f8fad5b-d9cb-469f-a165-70867728950e", client_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7" },
      note: null,
      args: ["--kind", "entra-client-secret", "--field", "tenant_id=0f8fad5b-d9cb-469f-a165-70867728950e", "--field", "client_id=7c9e6679-7425-40de-944b-e07fc1f90ae7"],
    },
  ];
  for (const c of cases) {
    const dir = scratch();
    const rust = rustPlaintext(dir, c.args, c.secret);
    const createdAt = /"created_at":"([^"]+)"/.exec(rust.toString())?.[1] ?? "";
    const policyName = /"policy":"([^"]+)"/.exec(rust.toString())?.[1] ?? null;
    const ours = envelopeBytes({ kind: c.kind, secret: c.secret, fields: c.fields, policy: policyName, note: c.note, request: null, createdAt, sender: null });
    assert.equal(Buffer.from(ours).toString(), rust.toString(), c.kind);
    assert.ok(Buffer.from(ours).equals(rust), `${c.kind}: the same bytes`);
    assert.equal(ours.length % 512, 0);
  }
});

test("a thumbprint as certificate viewers show it is sealed as the CLI seals it", () => {
  const fields = {
    tenant_id: "0f8fad5b-d9cb-469f-a165-70867728950e",
    client_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    environment_url: "https://acme.crm4.dynamics.com",
  };
  const viewers = [
    "3a:f1:09:c2:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90:a1:b2:c3",
    " 3a f1 09 c2 d4 e5 f6 07 18 29 3a 4b 5c 6d 7e 8f 90 a1 b2 c3 ",
    "\u200e3af109c2d4e5f60718293a4b5c6d7e8f90a1b2c3",
    "3A\u00a0F1\u2003:09C2D4E5F60718293A4B5C6D7E8F90A1B2C3\ufeff",
  ];
  for (const thumbprint of viewers) {
    const dir = scratch();
    const args = ["--kind", "entra-certificate", ...Object.entries(fields).flatMap(([k, v]) => ["--field", `${k}=${v}`]), "--field", `thumbprint=${thumbprint}`];
    const rust = rustPlaintext(dir, args, "");
    const createdAt = /"created_at":"([^"]+)"/.exec(rust.toString())?.[1] ?? "";
    const ours = envelopeBytes({
      kind: "entra-certificate",
      secret: null,
      fields: { ...fields, thumbprint: normaliseThumbprint(thumbprint) },
      policy: "identifiers",
      note: null,
      request: null,
      createdAt,
      sender: null,
    });
    assert.equal(Buffer.from(ours).toString(), rust.toString(), JSON.stringify(thumbprint));
    assert.match(rust.toString(), /"thumbprint":"3AF109C2D4E5F60718293A4B5C6D7E8F90A1B2C3"/);
  }
});

test("what the page seals opens with sealpass and age; a tampered one is refused", async () => {
  const dir = scratch();
  const recipient = identity(dir, "v.key", true);
  const plaintext = envelopeBytes({
    kind: "dynamics-app-password",
    secret: "abcdefghijklmnop",
    fields: { username: "svc@acme.onmicrosoft.com", environment_url: "https://acme.crm.dynamics.com" },
    policy: "microsoft-app-password",
    note: null,
    request: null,
    createdAt: nowRfc3339(),
    sender: null,
  });
  const armored = await seal(plaintext, [recipient, B]);
  writeFileSync(join(dir, "c.age"), armored);
  const opened = sealpass(["open", "-i", join(dir, "v.key"), join(dir, "c.age"), "--json", "--reveal"]);
  assert.equal(opened.code, 0, opened.stderr);
  const report = JSON.parse(opened.stdout) as { secret: string; kind: string; fields: Record<string, string>; compliant: boolean };
  assert.equal(report.secret, "abcdefghijklmnop");
  assert.equal(report.kind, "dynamics-app-password");
  assert.equal(report.fields.environment_url, "https://acme.crm.dynamics.com");
  assert.ok(report.compliant);
  const age = spawnSync("age", ["-d", "-i", join(dir, "v.key"), join(dir, "c.age")]);
  assert.equal(age.status, 0, age.stderr.toString());
  assert.ok(age.stdout.toString().startsWith('{"v":1,"kind":"dynamics-app-password"'));
  // One character of the armored payload changed: refused, exit 5.
  const lines = armored.split("\n");
  const i = lines.length - 3;
  lines[i] = (lines[i][0] === "A" ? "B" : "A") + lines[i].slice(1);
  writeFileSync(join(dir, "bad.age"), lines.join("\n"));
  const tampered = sealpass(["open", "-i", join(dir, "v.key"), join(dir, "bad.age")]);
  assert.equal(tampered.code, 5, tampered.stderr);
});

test("post-quantum both ways: typage opens what sealpass sealed, sealpass opens what the page sealed", async () => {
  const dir = scratch();
  const recipient = identity(dir, "pq.key");
  assert.match(recipient, /^age1pq1[02-9ac-hj-np-z]{1952}$/);
  const keyText = readFileSync(join(dir, "pq.key"), "utf8");
  const secretKey = keyText.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-PQ-1"));
  assert.ok(secretKey !== undefined);
  // sealpass → typage (an independent implementation of the same hybrid recipient).
  const run = sealpass(["seal", "--to", recipient, "--kind", "dynamics-app-password", "-u", "svc@acme.onmicrosoft.com", "-o", join(dir, "rust.age")], "abcdefghijklmnop\n");
  assert.equal(run.code, 0, run.stderr);
  const sealedByRust = readFileSync(join(dir, "rust.age"), "utf8");
  assert.match(sealedByRust, /^-----BEGIN AGE ENCRYPTED FILE-----/);
  const decrypter = new Decrypter();
  decrypter.addIdentity(secretKey);
  const plain = Buffer.from(await decrypter.decrypt(armor.decode(sealedByRust)));
  assert.ok(plain.toString().startsWith('{"v":1,"kind":"dynamics-app-password"'), plain.toString().slice(0, 60));
  // The page → sealpass, which reports how it was sealed.
  const classical = identity(dir, "old.key", true);
  const chosen = choose([classical, recipient]);
  assert.deepEqual(chosen, { to: [recipient], leftOut: [classical], sealing: "post-quantum" });
  const plaintext = envelopeBytes({ kind: "generic", secret: "Zq7#Lm2$Rv9!Xp4&Tb6^ab", fields: {}, policy: null, note: null, request: null, createdAt: nowRfc3339(), sender: null });
  const armored = await seal(plaintext, [classical, recipient]);
  assert.match(Buffer.from(armor.decode(armored)).toString("latin1"), /\n-> mlkem768x25519 /);
  assert.doesNotMatch(Buffer.from(armor.decode(armored)).toString("latin1"), /\n-> X25519 /);
  writeFileSync(join(dir, "page.age"), armored);
  const opened = sealpass(["open", "-i", join(dir, "pq.key"), join(dir, "page.age"), "--json"]);
  assert.equal(opened.code, 0, opened.stderr);
  const report = JSON.parse(opened.stdout) as { kind: string; sealing: string };
  assert.equal(report.kind, "generic");
  assert.equal(report.sealing, "post-quantum");
  // The classical key alone cannot open it: the page did not seal to it.
  const notClassical = sealpass(["open", "-i", join(dir, "old.key"), join(dir, "page.age")]);
  assert.equal(notClassical.code, 5, notClassical.stderr);
  // A classical-only vendor still gets a classical file.
  assert.deepEqual(choose([classical]), { to: [classical], leftOut: [], sealing: "classical" });
  assert.throws(() => choose(["age1pq1short"]), /not age keys/);
  // Exactly the length a hybrid key has (1,959): one character more or less is refused.
  assert.throws(() => choose([recipient.slice(0, -1)]), /not age keys/);
  assert.throws(() => choose([`${recipient}q`]), /not age keys/);
});

test("field checks say what the CLI says", () => {
  const entra = catalog().kinds.find((k) => k.name === "entra-client-secret");
  assert.ok(entra !== undefined);
  assert.equal(fieldError(entra, "tenant_id", "0f8fad5b-d9cb-469f-a165-70867728950e"), null);
  assert.match(fieldError(entra, "tenant_id", "not-a-guid") ?? "", /GUID/);
  assert.match(fieldError(entra, "environment_url", "http://acme.crm.dynamics.com") ?? "", /https/);
  assert.match(fieldError(entra, "client_id", "\u0007") ?? "", /control/);
  assert.throws(() => envelopeJson({ kind: "generic", secret: "\ud800", fields: {}, policy: null, note: null, request: null, createdAt: "x", sender: null }));
});

test("thumbprints as certificate viewers show them are normalised to upper-case hex", () => {
  const hex = "3AF109C2D4E5F60718293A4B5C6D7E8F90A1B2C3";
  const viewers = [
    hex.toLowerCase(),
    "3a:f1:09:c2:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90:a1:b2:c3",
    "3a f1 09 c2 d4 e5 f6 07 18 29 3a 4b 5c 6d 7e 8f 90 a1 b2 c3",
    " 3AF1 09C2 D4E5 F607 1829 3A4B 5C6D 7E8F 90A1 B2C3 ",
    "\u200e3af109c2d4e5f60718293a4b5c6d7e8f90a1b2c3", // Windows' certificate dialog
    "3A\u00a0F1:09 C2d4e5f60718293a4b5c6d7e8f90a1b2c3\ufeff",
  ];
  for (const v of viewers) assert.equal(normaliseThumbprint(v), hex, JSON.stringify(v));
  // Only grouping goes: anything else stays, so the shape check still refuses it; control
  // characters are refused in every field, as the CLI refuses them.
  const cert = catalog().kinds.find((k) => k.name === "entra-certificate");
  assert.ok(cert !== undefined);
  assert.match(fieldError(cert, "thumbprint", `3AF1\t${hex.slice(4)}`) ?? "", /control characters/);
  assert.equal(normaliseThumbprint("3a-f1"), "3A-F1");
  assert.equal(normaliseThumbprint("ﬀ"), "ﬀ", "no Unicode case mapping turns a ligature into hex digits");
  const spec = cert.fields.find((f) => f.name === "thumbprint");
  assert.ok(spec !== undefined && spec.type === "thumbprint");
  for (const v of viewers) {
    assert.equal(fieldError(cert, "thumbprint", v), null, JSON.stringify(v));
    assert.equal(normaliseField(spec, v), hex);
  }
  const sha256 = "ab:".repeat(31) + "ab";
  assert.equal(fieldError(cert, "thumbprint", sha256), null, "a SHA-256 thumbprint too");
  assert.equal(normaliseField(spec, sha256), "AB".repeat(32));
  for (const bad of ["3a:f1", "3a-f1-09-c2-d4-e5-f6-07-18-29-3a-4b-5c-6d-7e-8f-90-a1-b2-c3", `${hex}0`, "zz".repeat(20)]) {
    assert.match(fieldError(cert, "thumbprint", bad) ?? "", /40 hexadecimal digits/, bad);
  }
  // Other fields are only trimmed.
  const tenant = cert.fields.find((f) => f.name === "tenant_id");
  assert.ok(tenant !== undefined);
  assert.equal(normaliseField(tenant, " 0f8fad5b-d9cb-469f-a165-70867728950e "), "0f8fad5b-d9cb-469f-a165-70867728950e");
});

test("a note the receiver would refuse is never sealed: one line, no control characters", () => {
  const base = { kind: "generic", secret: "s3cret-Value-1234", fields: {}, policy: null, request: null, createdAt: "2026-12-01T12:00:00Z", sender: null };
  for (const bad of ["two\nlines", "tab\there", "bell\u0007", "c1\u0085"]) {
    assert.match(noteError(bad) ?? "", /one line|control/, JSON.stringify(bad));
    assert.throws(() => envelopeJson({ ...base, note: bad }), /control/);
  }
  assert.equal(noteError("Rotated on 1 Dec — ticket #42"), null);
  // And the Rust receiver does refuse such a note: sealed by hand (bypassing the page's check),
  // `sealpass open` exits 5.
  const dir = scratch();
  const recipient = sealpass(["keygen", "--classic", "-o", join(dir, "v.key")]).stdout.split("\n")[0];
  const good = envelopeJson({ ...base, note: "one line" });
  const forged = good.replace('"note":"one line"', '"note":"two\\nlines"');
  assert.notEqual(forged, good);
  const plain = join(dir, "forged.json");
  writeFileSync(plain, forged.padEnd(1024, " "));
  execFileSync("age", ["-a", "-r", recipient, "-o", join(dir, "forged.age"), plain]);
  const opened = sealpass(["open", "-i", join(dir, "v.key"), join(dir, "forged.age")]);
  assert.equal(opened.code, 5, opened.stderr);
  assert.match(opened.stderr, /control characters/);
});

test("a receipt verifies against its key, and not once edited or under another key", async () => {
  const hex = (b: ArrayBuffer): string => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const key = hex(await crypto.subtle.exportKey("raw", pair.publicKey));
  const claims = {
    v: 1, server: "https://drop.example.com", drop_id: "a".repeat(26), request_id: null, label: "Acme “prod”",
    received_by: "alice", received_at: "2026-12-01T12:00:00Z", audit_seq: 5, audit_hash: "c".repeat(64),
  };
  const message = new TextEncoder().encode(`sealpass-receipt-v1\n${JSON.stringify(claims)}`);
  const signature = hex(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, message));
  const receipt = { claims, public_key: key, signature };
  assert.equal(await verifyReceipt(receipt, key), true);
  assert.equal(await verifyReceipt({ ...receipt, claims: { ...claims, received_by: "mallory" } }, key), false);
  const other = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const otherKey = hex(await crypto.subtle.exportKey("raw", other.publicKey));
  assert.equal(await verifyReceipt(receipt, otherKey), false, "signed by a key the link does not vouch for");
  assert.equal(await verifyReceipt({ ...receipt, signature: "zz" }, key), false);
});
