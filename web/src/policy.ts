// The rule engine: checks a secret against a policy from the catalog (`GET /v1/policies`, the
// document `sealpass policies --json` prints), rule by rule, exactly as the Rust checker does.
// Pure: no DOM, no network. The looks-random rule needs the pattern analysis (patterns.ts),
// which is passed in, so the structural rules run at once and the dictionaries load only when
// a pattern rule has to run.

export interface CharsetData {
  ascii: string;
  non_ascii: boolean;
}

export interface ClassData {
  name: string;
  chars: CharsetData;
}

export interface FormatData {
  pattern: string;
  what: string;
  legacy_lengths: number[];
  guid_is_an_id: boolean;
}

export interface CheckData {
  accept: CharsetData;
  min_length: number;
  max_length: number | null;
  required: { classes: ClassData[]; at_least: number };
  max_consecutive: number | null;
  username_rule: boolean;
  looks_random: boolean;
  format: FormatData | null;
}

export interface GenerationData {
  alphabet: string;
  length: number;
  required: ClassData[];
  max_consecutive: number | null;
  entropy_bits: number;
}

export interface PolicyEntry {
  name: string;
  summary: string;
  check: CheckData;
  generates: GenerationData | null;
  generated_by: string | null;
  rules: string[];
  warnings: string[];
}

export interface FieldEntry {
  name: string;
  required: boolean;
  /** `text`, `secret`, `date`, or a shape such as `guid`, `url`, `dataverse-url`, `thumbprint`. */
  type: string;
  /** The shape a value must have (the same regular expression the CLI runs), or null. */
  pattern: string | null;
  /** What the shape is, for people. */
  expected: string | null;
}

export interface KindEntry {
  name: string;
  /** Null for the kinds checked by their structure or identifiers. */
  default_policy: string | null;
  has_secret: boolean;
  registers_certificate: boolean;
  /** How to register the vendor's certificate; `{file}` and `{thumbprint}` stand for its own. */
  registration_steps: string[];
  successor: { kinds: string; why: string } | null;
  /** Who issues the kind's secret and where in the CRM to copy it from (null or absent: nobody
   * in particular; servers from before it have no such key). */
  issued_by?: IssuedBy | null;
  fields: FieldEntry[];
}

export interface IssuedBy {
  /** "Salesforce" */
  who: string;
  /** Where in the CRM the secret is shown, for people. */
  where: string;
}

export interface Catalog {
  version: number;
  policies: PolicyEntry[];
  kinds: KindEntry[];
}

export interface RuleResult {
  rule: string;
  ok: boolean;
  detail: string;
}

export interface Report {
  policy: string;
  compliant: boolean;
  rules: RuleResult[];
  warnings: string[];
}

/** What the pattern analysis found: characters analysed and covered by predictable patterns. */
export interface Analysis {
  analysed: number;
  covered: number;
  /** "a common password (chars 1–11)", … */
  findings: string[];
  looksRandom: boolean;
}

/** The secret's characters as Rust sees them: Unicode scalar values. */
export function scalars(s: string): string[] {
  return Array.from(s);
}

/** A set of characters: ASCII members by code point, and whether all non-ASCII ones belong. */
export class Charset {
  private readonly ascii: Set<number>;
  constructor(readonly data: CharsetData) {
    this.ascii = new Set(Array.from(data.ascii, (c) => c.codePointAt(0) as number));
  }
  has(c: string): boolean {
    const cp = c.codePointAt(0) as number;
    return cp < 128 ? this.ascii.has(cp) : this.data.non_ascii;
  }
}

/** Rust's `char::is_control`: general category Cc. */
export function isControl(c: string): boolean {
  const cp = c.codePointAt(0) as number;
  return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
}

/** Characters no policy accepts: controls and invisible format characters (the Rust list). */
export function invisible(c: string): boolean {
  const cp = c.codePointAt(0) as number;
  return (
    isControl(c) ||
    cp === 0x00ad ||
    cp === 0x180e ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2064) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0xfeff
  );
}

/** Rust's `char::is_whitespace` (the Unicode White_Space property). */
export function isWhitespace(c: string): boolean {
  const cp = c.codePointAt(0) as number;
  return (
    (cp >= 0x09 && cp <= 0x0d) ||
    cp === 0x20 ||
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** Rust's `str::trim`: White_Space at both ends (JavaScript's trim also removes U+FEFF). */
export function trimRust(s: string): string {
  const chars = scalars(s);
  let start = 0;
  let end = chars.length;
  while (start < end && isWhitespace(chars[start])) start++;
  while (end > start && isWhitespace(chars[end - 1])) end--;
  return chars.slice(start, end).join("");
}

function kindOf(c: string): string {
  const cp = c.codePointAt(0) as number;
  if (c === " ") return "a space";
  if (isControl(c)) return "a control character";
  if (invisible(c)) return "an invisible formatting character";
  if (cp >= 128) return "a non-ASCII character";
  if (/[A-Za-z0-9]/.test(c)) return "a letter or digit";
  return "a symbol";
}

function positions(list: number[]): string {
  const shown = list.slice(0, 5).map((p) => String(p + 1));
  const more = list.length > 5 ? ` and ${list.length - 5} more` : "";
  return shown.join(", ") + more;
}

export function lengthRange(check: CheckData): string {
  if (check.max_length === null) return `≥ ${check.min_length}`;
  if (check.max_length === check.min_length) return String(check.max_length);
  return `${check.min_length}–${check.max_length}`;
}

function acceptsLength(check: CheckData, len: number): boolean {
  return len >= check.min_length && (check.max_length === null || len <= check.max_length);
}

/** A GUID as the Entra portal shows it, braced, or without dashes. */
export function looksLikeGuid(s: string): boolean {
  const inner = s.startsWith("{") && s.endsWith("}") ? s.slice(1, -1) : s;
  return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(inner) ||
    /^[0-9a-fA-F]{32}$/.test(inner);
}

function usernameParts(username: string): string[] {
  const whole = trimRust(username).toLowerCase();
  const parts = [whole];
  const local = (whole.split("@")[0] ?? "").split("\\").pop() ?? "";
  if (scalars(local).length >= 3 && local !== whole) parts.push(local);
  return parts.filter((p) => p.length > 0);
}

/**
 * Check `secret` against `policy`, every rule in the Rust checker's order. `analysis` is the
 * pattern analysis when the policy's looks-random rule applies (undefined: not run yet, which
 * fails the rule until it has run; the page never sends on an unfinished check).
 */
export function check(policy: PolicyEntry, secret: string, username: string | null, analysis?: Analysis): Report {
  const p = policy.check;
  const chars = scalars(secret);
  const len = chars.length;
  const warnings = [...policy.warnings];
  if (len > 0 && (isWhitespace(chars[0]) || isWhitespace(chars[len - 1]))) {
    warnings.push("the secret begins or ends with a space, which many forms trim: check that it is intended");
  }
  let length: RuleResult = acceptsLength(p, len)
    ? { rule: "length", ok: true, detail: `${len} characters (allowed ${lengthRange(p)})` }
    : { rule: "length", ok: false, detail: `${len} characters; needs ${lengthRange(p)}` };
  const rules: RuleResult[] = [];

  const accept = new Charset(p.accept);
  const bad = chars.flatMap((c, i) => (!accept.has(c) || invisible(c) ? [i] : []));
  if (bad.length === 0) {
    rules.push({ rule: "characters", ok: true, detail: "only allowed characters" });
  } else {
    const kinds = [...new Set(bad.map((i) => kindOf(chars[i])))].sort();
    rules.push({
      rule: "characters",
      ok: false,
      detail: `${bad.length} character(s) not allowed at position ${positions(bad)} (${kinds.join(", ")})`,
    });
  }

  if (p.required.classes.length > 0) {
    const classes = p.required.classes.map((c) => ({ name: c.name, set: new Charset(c.chars) }));
    const has = classes.filter((c) => chars.some((ch) => c.set.has(ch)));
    const missing = classes.filter((c) => !has.includes(c)).map((c) => c.name);
    const ok = has.length >= p.required.at_least;
    const all = p.required.at_least >= classes.length;
    const detail = ok
      ? `has ${has.map((c) => c.name).join(", ")}`
      : all
        ? `missing ${missing.join(", ")}`
        : `has ${has.length} of the ${p.required.at_least} needed; add ${missing.join(", ")}`;
    rules.push({ rule: "classes", ok, detail });
  }

  if (p.max_consecutive !== null) {
    let longest = 0;
    let at = 0;
    let run = 0;
    chars.forEach((c, i) => {
      run = i > 0 && chars[i - 1] === c ? run + 1 : 1;
      if (run > longest) {
        longest = run;
        at = i + 1 - run;
      }
    });
    rules.push(
      longest <= p.max_consecutive
        ? { rule: "max-consecutive", ok: true, detail: `longest run of identical characters is ${longest}` }
        : {
            rule: "max-consecutive",
            ok: false,
            detail: `${longest} identical characters in a row from position ${at + 1} (max ${p.max_consecutive})`,
          },
    );
  }

  if (username !== null && trimRust(username) !== "") {
    const lower = secret.toLowerCase();
    const found = usernameParts(username).find((part) => lower.includes(part));
    if (found === undefined) {
      rules.push({ rule: "username", ok: true, detail: "does not contain the username" });
    } else if (found === trimRust(username).toLowerCase()) {
      rules.push({ rule: "username", ok: false, detail: "contains the username; choose a password unrelated to the account" });
    } else {
      rules.push({
        rule: "username",
        ok: false,
        detail: "contains the username's local part (before the @); choose a password unrelated to the account",
      });
    }
  } else if (p.username_rule) {
    warnings.push("the username rule was not checked: give the username to check it");
  }

  if (p.format !== null) {
    const f = p.format;
    if (f.guid_is_an_id && looksLikeGuid(secret)) {
      rules.push({
        rule: "format",
        ok: false,
        detail:
          "this looks like the secret's ID, not its value: copy the Value column of the client secret (shown only once, when the secret is created)",
      });
    } else if (new RegExp(f.pattern, "u").test(secret)) {
      rules.push({ rule: "format", ok: true, detail: `matches the ${f.what} format` });
    } else if (f.legacy_lengths.includes(len) && chars.every((c) => /^[!-~]$/.test(c))) {
      length = { rule: "length", ok: true, detail: `${len} characters (legacy format)` };
      warnings.push(`this is a legacy ${len}-character ${f.what}; it still works, but a new secret would use the current format`);
      rules.push({ rule: "format", ok: true, detail: `legacy ${len}-character ${f.what}` });
    } else {
      rules.push({ rule: "format", ok: false, detail: `does not match the ${f.what} format` });
    }
  }

  if (p.looks_random) {
    if (analysis === undefined) {
      rules.push({ rule: "looks-random", ok: false, detail: "checking for words, keyboard walks, repeats, sequences and dates…" });
    } else if (analysis.looksRandom) {
      rules.push({ rule: "looks-random", ok: true, detail: "no words, keyboard walks, repeats, sequences or dates found" });
    } else {
      rules.push({
        rule: "looks-random",
        ok: false,
        detail: `predictable patterns cover ${analysis.covered} of the first ${analysis.analysed} characters: ${analysis.findings
          .slice(0, 5)
          .join(", ")}; generate one instead`,
      });
    }
  }
  rules.unshift(length);
  return { policy: policy.name, compliant: rules.every((r) => r.ok), rules, warnings };
}

/** The rules a person reads for a rule id. */
export const RULE_NAMES: Record<string, string> = {
  length: "Length",
  characters: "Allowed characters",
  classes: "Character classes",
  "max-consecutive": "No long runs",
  username: "Not the username",
  format: "Format",
  "looks-random": "Looks random",
};
