// What the page offers for a kind (kinds.ts): recommended kinds before legacy ones, no
// generator for a secret the CRM issues, and the fields a request makes mandatory.

import assert from "node:assert/strict";
import { test } from "node:test";

import { isLegacy, kindChoices, requiredFields, secretOrigin } from "../src/kinds.js";
import type { KindEntry } from "../src/policy.js";
import { catalog, policy } from "./support.js";

function kind(name: string): KindEntry {
  const k = catalog().kinds.find((x) => x.name === name);
  assert.ok(k !== undefined, name);
  return k;
}

test("kinds are offered recommended first (the secret-free ones leading), legacy ones last", () => {
  const all = catalog().kinds;
  const { recommended, legacy } = kindChoices(all);
  assert.deepEqual(legacy.map((k) => k.name), ["salesforce-password", "dynamics-app-password"]);
  assert.ok(legacy.every(isLegacy) && !recommended.some(isLegacy));
  assert.deepEqual(recommended.slice(0, 2).map((k) => k.name), ["salesforce-jwt", "entra-certificate"]);
  assert.equal(recommended.length + legacy.length, all.length, "every kind is offered once");
  assert.deepEqual(new Set([...recommended, ...legacy].map((k) => k.name)), new Set(all.map((k) => k.name)));
  // The legacy default the page used to pick is not the first choice any more.
  assert.notEqual(recommended[0].name, "salesforce-password");
});

test("no generator for a secret the CRM issues: issued_by, or a policy someone else generates for", () => {
  const strong = policy("strong");
  const clientCredentials = kind("salesforce-client-credentials");
  // Before the catalog says who issues it (issued_by absent), it is treated as nobody.
  const { issued_by: _dropped, ...before } = clientCredentials;
  assert.deepEqual(secretOrigin({ ...before }, strong), { generated: true });
  assert.deepEqual(secretOrigin({ ...before, issued_by: null }, strong), { generated: true });
  const issued = secretOrigin({ ...before, issued_by: { who: "Salesforce", where: "in Setup, open the app; copy the Consumer Secret." } }, strong);
  assert.deepEqual(issued, { generated: false, how: "Salesforce issues this secret, so it is not generated here: in Setup, open the app; copy the Consumer Secret." });
  // A policy someone else generates for, and no issued_by: its generated_by says where.
  const { issued_by: _none, ...entraBefore } = kind("entra-client-secret");
  const entra = secretOrigin(entraBefore, policy("entra-client-secret"));
  assert.equal(entra.generated, false);
  assert.match(entra.generated ? "" : entra.how, /Entra ID generates client secrets/);
  assert.deepEqual(secretOrigin(kind("salesforce-password"), policy("salesforce")), { generated: true });
});

test("the catalog says who issues the secrets the CRM makes; the page generates only the others", () => {
  const issuers: Record<string, string> = {};
  for (const k of catalog().kinds) {
    const p = k.default_policy === null ? undefined : policy(k.default_policy);
    if (p === undefined) continue;
    const origin = secretOrigin(k, p);
    if (!origin.generated) issuers[k.name] = k.issued_by?.who ?? "(the policy's generated_by)";
  }
  assert.deepEqual(issuers, {
    "salesforce-client-credentials": "Salesforce",
    "dynamics-app-password": "Microsoft",
    "entra-client-secret": "Microsoft Entra ID",
  });
  const consumer = secretOrigin(kind("salesforce-client-credentials"), policy("strong"));
  assert.match(consumer.generated ? "" : consumer.how, /^Salesforce issues this secret, so it is not generated here: .*Consumer Secret\.$/);
});

test("a request's require list makes optional fields mandatory; a missing or odd one changes nothing", () => {
  const entra = kind("entra-client-secret");
  const base = new Set(["tenant_id", "client_id"]);
  assert.deepEqual(requiredFields(entra, undefined), base);
  assert.deepEqual(requiredFields(entra, null), base);
  assert.deepEqual(requiredFields(entra, "environment_url"), base, "not an array: ignored");
  assert.deepEqual(requiredFields(entra, ["environment_url", "expires_on"]), new Set([...base, "environment_url", "expires_on"]));
  assert.deepEqual(requiredFields(entra, ["no_such_field", 7]), base, "names the kind does not have count for nothing");
  // The kind has both optional fields the staff guide promises.
  const optional = entra.fields.filter((f) => !f.required).map((f) => f.name);
  assert.deepEqual(optional, ["environment_url", "expires_on"]);
});
