// What the page offers for a kind, decided from the catalog alone: the order kinds are offered
// in (recommended first, legacy last), whether the secret is generated here or copied from
// whoever issues it, and which fields must be filled in. Pure: no DOM, no network.

import type { FieldEntry, KindEntry, PolicyEntry } from "./policy.js";

/** A legacy kind names its successor: it still works, but is not what anyone should pick first. */
export function isLegacy(kind: KindEntry): boolean {
  return kind.successor !== null && kind.successor !== undefined;
}

/**
 * The kinds to choose from, split in two: the recommended ones (the kinds without a secret
 * first, since nothing secret then leaves the organisation; then the others in the catalog's
 * order) and the legacy ones, in the catalog's order.
 */
export function kindChoices(kinds: KindEntry[]): { recommended: KindEntry[]; legacy: KindEntry[] } {
  const current = kinds.filter((k) => !isLegacy(k));
  return {
    recommended: [...current.filter((k) => !k.has_secret), ...current.filter((k) => k.has_secret)],
    legacy: kinds.filter(isLegacy),
  };
}

/** Where the secret comes from: generated here, or copied from whoever makes it (`how` says who
 * and where). */
export type SecretOrigin = { generated: true } | { generated: false; how: string };

/**
 * Whether the page may generate the kind's secret. Not when the CRM issues it (the kind's
 * `issued_by`, e.g. a Salesforce consumer secret) nor when the policy names who generates it
 * (`generated_by`, e.g. Entra client secrets): a password made here would be one the CRM never
 * accepts.
 */
export function secretOrigin(kind: KindEntry, policy: PolicyEntry): SecretOrigin {
  const issuer = kind.issued_by ?? null;
  if (issuer !== null) {
    // `where` reads as the end of a sentence: "in Setup, open …; copy the Consumer Secret".
    const where = issuer.where.trim().replace(/\.+$/, "");
    return { generated: false, how: `${issuer.who} issues this secret, so it is not generated here: ${where}.` };
  }
  if (policy.generates === null) {
    return { generated: false, how: policy.generated_by ?? "This secret is not generated here: paste the one you were given." };
  }
  return { generated: true };
}

/**
 * The names of the kind's fields that must be filled in: those the kind requires and those the
 * request makes mandatory (`require` from `GET /v1/requests/{id}`; anything but an array of
 * strings, or names the kind does not have, count for nothing).
 */
export function requiredFields(kind: KindEntry, require: unknown): Set<string> {
  const asked = Array.isArray(require) ? require.filter((n): n is string => typeof n === "string") : [];
  return new Set(kind.fields.filter((f: FieldEntry) => f.required || asked.includes(f.name)).map((f) => f.name));
}
