// End to end in a real browser: Debian's Chromium driven by playwright-core against a real
// `sealpass serve`, with `sealpass request` and `sealpass receive` on the vendor's side. The
// page is driven by its labels, as a person would. Screenshots of each state go to
// target/web-shots/, so a test run leaves the tracked tree as it was; SEALPASS_SHOTS=../docs/web
// refreshes the pictures the docs show.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";

import type { BrowserContext, Page, Response } from "playwright-core";
import { chromium } from "playwright-core";

import type { Served } from "./support.js";
import { serve } from "./support.js";

const SHOTS = resolve(process.env.SEALPASS_SHOTS ?? "../target/web-shots");
/** SEALPASS_WEB_DIST=dist: the page's script and stylesheet from that folder rather than the copy
 * embedded in the binary, to test the page as just built without rebuilding the binary. */
const LOCAL_DIST = process.env.SEALPASS_WEB_DIST;
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let server: Served;
let browser: BrowserContext;
/** Every request the browser made, and every page it was given. */
const requests: string[] = [];
const documents: Response[] = [];
const consoleLines: string[] = [];
/** Origins of the servers the tests started (the browser may speak to these only). */
const origins: string[] = [];

before(async () => {
  server = await serve();
  origins.push(new URL(server.url).origin);
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "chromium-")), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: { width: 1024, height: 900 },
  });
  if (LOCAL_DIST !== undefined) {
    await browser.route(/\/web\/(sender\.js|patterns\.js|sender\.css)$/, (route) => {
      const name = new URL(route.request().url()).pathname.split("/").pop() ?? "";
      return route.fulfill({ path: join(resolve(LOCAL_DIST), name), contentType: name.endsWith(".css") ? "text/css" : "text/javascript" });
    });
  }
  browser.on("request", (r) => requests.push(r.url()));
  browser.on("response", (r) => {
    if (r.request().resourceType() === "document") documents.push(r);
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.stop();
});

async function open(url: string, width = 1024): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: 900 });
  page.on("console", (m) => consoleLines.push(m.text()));
  await page.goto(url);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  for (const [suffix, width] of [["desktop", 1024], ["phone", 360]] as const) {
    await page.setViewportSize({ width, height: 800 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= width, `${name} fits ${width} px without sideways scrolling (${wide} px)`);
    await page.screenshot({ path: join(SHOTS, `${name}-${suffix}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1024, height: 900 });
}

function requestLink(kind: string, label: string, ...extra: string[]): string {
  const run = server.staff(["request", "--label", label, "--kind", kind, ...extra, "--json"]);
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { link: string }).link;
}

function receive(pickup: string): { secret: string; kind: string; fields: Record<string, string>; compliant: boolean } {
  const run = server.staff(["receive", pickup, "-i", server.identity, "--json", "--reveal"]);
  assert.ok(run.code === 0 || run.code === 3, run.stderr);
  return JSON.parse(run.stdout) as { secret: string; kind: string; fields: Record<string, string>; compliant: boolean };
}

async function pickupLink(page: Page): Promise<string> {
  await page.getByRole("heading", { name: "Sent" }).waitFor();
  return (await page.locator(".link").innerText()).trim();
}

function uploads(): number {
  return requests.filter((u) => u.endsWith("/v1/drops")).length;
}

test("a request link, a generated password: the vendor receives exactly what the page showed", async () => {
  const link = requestLink("salesforce-password", "Acme Salesforce prod");
  const navigated = performance.now();
  const page = await open(link);
  await page.getByLabel("Username of the account").waitFor();
  const interactive = performance.now() - navigated;
  assert.equal(new URL(page.url()).hash, "", "the upload token left the address bar");
  await page.getByText("Acme Salesforce prod").waitFor();
  await shot(page, "1-request");
  await page.getByLabel("Username of the account").fill("kore@acme.example");
  // Sending before generating is refused with the reason next to it.
  await page.getByRole("button", { name: "Seal and send" }).click();
  await page.getByText("Generate a password first").waitFor();
  await page.getByRole("button", { name: "Generate a password" }).click();
  const password = (await page.locator("#generated").innerText()).trim();
  assert.equal(password.length, 32);
  // What the error complained about changed: it is gone, not left beside the new password.
  await page.getByText("Generate a password first").waitFor({ state: "hidden" });
  assert.equal(await page.locator("#confirm-error").isHidden(), true);
  await page.getByRole("button", { name: "Seal and send" }).click();
  await page.getByText("Set the password on the account first").waitFor();
  await shot(page, "2-generated");
  await page.getByLabel("I have set this password on the account").check();
  const clicked = performance.now();
  await page.getByRole("button", { name: "Seal and send" }).click();
  const pickup = await pickupLink(page);
  const sending = performance.now() - clicked;
  console.log(`# timings: navigation to an interactive form ${interactive.toFixed(0)} ms; Send to the pickup link ${sending.toFixed(0)} ms`);
  await page.getByText("Waiting for the vendor").waitFor();
  await shot(page, "3-sent");
  const got = receive(pickup);
  assert.equal(got.secret, password);
  assert.equal(got.kind, "salesforce-password");
  assert.equal(got.fields.username, "kore@acme.example");
  assert.ok(got.compliant);
  // The page follows the drop: received is good news, said in a status line (not an alert, not
  // the error style) under a heading that follows the state.
  await page.locator("#drop-state", { hasText: "Received by alice" }).waitFor({ timeout: 10_000 });
  await page.getByRole("heading", { name: "Received", exact: true }).waitFor();
  assert.equal(await page.title(), "Received · sealpass");
  assert.equal(await page.locator("#drop-state").getAttribute("role"), "status");
  assert.equal(await page.getByRole("alert").count(), 0, "nothing on the page is an alert");
  assert.equal(await page.locator("#app .alert:visible, #app .error:visible").count(), 0, "nothing in the error style");
  // And fetches the server's signed receipt, checked against the key the link vouches for.
  await page.getByText("Receipt: signed by the vendor's server, received by alice").waitFor({ timeout: 10_000 });
  await shot(page, "4-received");
  const [signed] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download the signed receipt" }).click()]);
  const receiptPath = join(server.dir, "signed-receipt.json");
  await signed.saveAs(receiptPath);
  const info = (await (await fetch(`${server.url}/v1/info`)).json()) as { receipt_key: string };
  const verified = server.staff(["receipt", "verify", receiptPath, "--key", info.receipt_key]);
  assert.equal(verified.code, 0, verified.stderr);
  const storage = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  assert.deepEqual(storage, [0, 0, ""], "nothing in web storage or cookies");
  assert.ok(!consoleLines.some((l) => l.includes(password)), "the password never reached the console");
  await page.close();
});

test("a pasted Dynamics app password and an Entra client secret go through the same way", async () => {
  const app = await open(requestLink("dynamics-app-password", "Acme Dynamics"));
  await app.getByLabel("Username of the account").fill("svc@acme.onmicrosoft.com");
  await app.getByLabel("App password").fill("qwmtzjxnbkcfrlvd");
  await app.getByText("matches").first().waitFor().catch(() => undefined);
  await app.getByRole("button", { name: "Seal and send" }).click();
  const appPickup = await pickupLink(app);
  assert.equal(await app.getByLabel("App password", { exact: false }).count(), 0, "the input is gone once sent");
  const gotApp = receive(appPickup);
  assert.equal(gotApp.secret, "qwmtzjxnbkcfrlvd");
  assert.equal(gotApp.kind, "dynamics-app-password");
  await app.close();

  const entra = await open(requestLink("entra-client-secret", "Acme Entra app"));
  // The environment URL and the expiry are asked for, each marked optional.
  for (const label of ["Environment URL", "When the secret expires"]) {
    assert.match(await entra.locator("label", { hasText: label }).innerText(), /\(optional\)$/, label);
  }
  await entra.getByLabel("Environment URL").fill("https://acme.crm4.dynamics.com");
  await entra.getByLabel("When the secret expires").fill("2027-06-30");
  await entra.getByLabel("Tenant ID (directory)").fill("0f8fad5b-d9cb-469f-a165-70867728950e");
  await entra.getByLabel("Client ID (application)").fill("not a guid");
  await entra.getByLabel("Client secret value").fill("abc8Q~defghijklmnopqrstuvwxyz0123456789.");
  await entra.getByRole("button", { name: "Show" }).click();
  assert.equal(await entra.getByLabel("Client secret value").getAttribute("type"), "text");
  await entra.getByRole("button", { name: "Seal and send" }).click();
  const error = entra.locator("#field-client_id-error");
  await error.waitFor();
  assert.match(await error.innerText(), /GUID/);
  assert.equal(await entra.getByLabel("Client ID (application)").getAttribute("aria-describedby"), "field-client_id-error");
  await shot(entra, "5-field-error");
  await entra.getByLabel("Client ID (application)").fill("7c9e6679-7425-40de-944b-e07fc1f90ae7");
  await entra.getByRole("button", { name: "Seal and send" }).click();
  const got = receive(await pickupLink(entra));
  assert.equal(got.secret, "abc8Q~defghijklmnopqrstuvwxyz0123456789.");
  assert.equal(got.fields.tenant_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
  assert.equal(got.fields.environment_url, "https://acme.crm4.dynamics.com");
  assert.equal(got.fields.expires_on, "2027-06-30");
  await entra.close();
});

test("fields a request makes mandatory (its require list) are asked for as required", async () => {
  const before = uploads();
  const page = await open(requestLink("entra-client-secret", "Acme Entra, environment required", "--require", "environment_url,expires_on"));
  await page.getByLabel("Tenant ID (directory)").waitFor();
  for (const label of ["Environment URL", "When the secret expires"]) {
    const text = await page.locator("label", { hasText: label }).innerText();
    assert.doesNotMatch(text, /optional/, label);
  }
  assert.equal(await page.getByLabel("Environment URL").getAttribute("required"), "");
  await page.getByLabel("Tenant ID (directory)").fill("0f8fad5b-d9cb-469f-a165-70867728950e");
  await page.getByLabel("Client ID (application)").fill("7c9e6679-7425-40de-944b-e07fc1f90ae7");
  await page.getByLabel("Client secret value").fill("abc8Q~defghijklmnopqrstuvwxyz0123456789.");
  await page.getByRole("button", { name: "Seal and send" }).click();
  await page.locator("#field-environment_url-error", { hasText: "Environment URL is required" }).waitFor();
  await page.locator("#field-expires_on-error", { hasText: "is required" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "field-environment_url", "the first missing field has the focus");
  assert.equal(uploads(), before, "nothing was uploaded");
  await page.close();
});

test("a consumer secret Salesforce issues is only pasted, with where to copy it from", async () => {
  const served = (await (await fetch(`${server.url}/v1/policies`)).json()) as { kinds: { name: string; issued_by?: { who: string; where: string } | null }[] };
  const issuer = served.kinds.find((k) => k.name === "salesforce-client-credentials")?.issued_by;
  assert.equal(issuer?.who, "Salesforce", "the server says who issues the consumer secret");
  const page = await open(requestLink("salesforce-client-credentials", "Acme client credentials"));
  await page.getByLabel("Consumer secret").waitFor();
  assert.equal(await page.getByRole("button", { name: /Generate/ }).count(), 0, "no generator");
  assert.equal(await page.getByText("Generate a new password here").count(), 0, "no choice to generate");
  const help = page.locator("#secret-origin");
  assert.equal(await help.innerText(), `Salesforce issues this secret, so it is not generated here: ${issuer.where.replace(/\.+$/, "")}.`);
  assert.match((await page.getByLabel("Consumer secret").getAttribute("aria-describedby")) ?? "", /secret-origin/);
  const key = "3MVG9fTLmJ60pJ5JnY9ZxsxDq1Hh4bFbD.FoNzxmHJmbjTNp3hKzMH8R_tM2vR5L4xKcZYkDq3eZp6WnXoAbCdEf";
  await page.getByLabel("Consumer key").fill(key);
  await page.getByLabel("My Domain URL").fill("https://acme.my.salesforce.com");
  await page.getByLabel("Consumer secret").fill("Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
  await page.getByRole("button", { name: "Seal and send" }).click();
  const got = receive(await pickupLink(page));
  assert.equal(got.kind, "salesforce-client-credentials");
  assert.equal(got.secret, "Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
  assert.equal(got.fields.consumer_key, key);
  await page.close();
});

test("a weak pasted password is refused with the failing rule named, and nothing is uploaded", async () => {
  const before = uploads();
  const page = await open(requestLink("salesforce-password", "Acme weak"));
  await page.getByLabel("Username of the account").fill("kore@acme.example");
  await page.getByLabel("Paste one I already have").check();
  await page.getByLabel("The password").fill("Password123!Password123!Password1");
  await page.getByRole("button", { name: "Seal and send" }).click();
  await page.locator("#secret-error").getByText("Looks random").waitFor();
  await page.locator("li.fail").getByText("Looks random").waitFor();
  await shot(page, "6-weak");
  assert.equal(uploads(), before, "nothing was uploaded");
  // The policy's verdict follows what it depends on: a password holding the username is refused,
  // and the error goes once the username no longer matches.
  await page.getByLabel("The password").fill("Zq7#Lm2$Rv9!kore4-Tb6_Kd3+Xp8=Wn5%");
  await page.locator("#secret-error").waitFor({ state: "hidden" });
  await page.getByRole("button", { name: "Seal and send" }).click();
  await page.locator("#secret-error").getByText("Not the username").waitFor();
  await page.getByLabel("Username of the account").fill("svc@acme.example");
  await page.locator("#secret-error").waitFor({ state: "hidden" });
  assert.equal(await page.getByLabel("The password").getAttribute("aria-invalid"), "false");
  assert.equal(uploads(), before, "nothing was uploaded");
  await page.close();
});

test("a tampered fingerprint is refused before anything is uploaded", async () => {
  const before = uploads();
  const link = requestLink("salesforce-password", "Acme tampered");
  const tampered = link.replace(/\.sp([123])-..../, ".sp$1-aaaa");
  assert.notEqual(tampered, link);
  const page = await open(tampered);
  await page.getByRole("heading", { name: "The vendor's keys do not match this link" }).waitFor();
  await page.getByText("Nothing was sent.").waitFor();
  await shot(page, "7-tampered");
  assert.equal(uploads(), before);
  const broken = await open(link.split("#")[0]);
  await broken.getByRole("heading", { name: "This link does not work" }).waitFor();
  await page.close();
  await broken.close();
});

test("a request already answered says so; revoking from the page works", async () => {
  const link = requestLink("generic", "Acme one-time");
  const page = await open(link);
  await page.getByLabel("Paste one I already have").check();
  await page.getByLabel("The secret").fill("Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
  await page.getByRole("button", { name: "Seal and send" }).click();
  await pickupLink(page);
  // The follow-up file: the command line can follow the drop with it.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download the follow-up file" }).click()]);
  const receiptFile = join(server.dir, "receipt.json");
  await download.saveAs(receiptFile);
  const followed = server.staff(["status", "--drop-file", receiptFile, "--json"]);
  assert.equal(followed.code, 0, followed.stderr);
  assert.equal((JSON.parse(followed.stdout) as { state: string }).state, "waiting");
  await page.getByRole("button", { name: "Revoke it" }).click();
  await page.getByText("Press the button again to revoke").waitFor();
  await page.getByRole("button", { name: "Press again to revoke" }).click();
  await page.getByText("Nobody picked it up").waitFor();
  await page.getByRole("heading", { name: "Revoked", exact: true }).waitFor();
  const revoked = server.staff(["status", (await page.locator(".link").innerText()).trim(), "--json"]);
  assert.equal((JSON.parse(revoked.stdout) as { state: string }).state, "revoked");
  await shot(page, "8-revoked");
  const again = await open(link);
  await again.getByRole("heading", { name: "This request was already answered" }).waitFor();
  await shot(again, "9-answered");
  await page.close();
  await again.close();
});

test("the anonymous page shows the fingerprint, checks one in its address, and is off when uploads are", async () => {
  const info = (await (await fetch(`${server.url}/v1/info`)).json()) as { fingerprint: string };
  const page = await open(`${server.url}/send#${info.fingerprint}`);
  await page.getByText("It matches the fingerprint in the address you were given").waitFor();
  assert.equal(await page.locator(".fingerprint").innerText(), info.fingerprint);
  assert.equal(new URL(page.url()).hash, `#${info.fingerprint}`, "the fingerprint (not a secret) stays in the address");
  // No kind is chosen for the sender, and legacy kinds come last, labelled as such.
  const picker = page.getByLabel("What are you sending?");
  assert.equal(await picker.inputValue(), "", "nothing selected");
  assert.equal(await page.getByRole("button", { name: "Seal and send" }).count(), 0, "no form before a kind is chosen");
  const options = await picker.locator("option:not([value=''])").evaluateAll((os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent ?? ""]));
  const legacy = options.filter(([, text]) => text.endsWith("(legacy)")).map(([value]) => value);
  assert.deepEqual(legacy, ["salesforce-password", "dynamics-app-password"]);
  assert.deepEqual(options.slice(-2).map(([value]) => value), legacy, "legacy kinds last");
  // Switching kinds back and forth leaves one form, and a double click sends once.
  const sentBefore = uploads();
  for (const kind of ["salesforce-password", "entra-client-secret", "generic"]) await page.getByLabel("What are you sending?").selectOption(kind);
  await page.getByLabel("Paste one I already have").check();
  await page.getByLabel("The secret").fill("Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
  await page.getByLabel("A note for the vendor").fill("two\nlines are one here");
  await page.getByRole("button", { name: "Seal and send" }).dblclick();
  const got = receive(await pickupLink(page));
  assert.equal(uploads(), sentBefore + 1, "one upload");
  assert.equal(got.secret, "Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
  assert.equal(got.kind, "generic");
  await page.close();

  const unchecked = await open(`${server.url}/send`);
  await unchecked.getByText("Compare it with the fingerprint the vendor published").waitFor();
  await unchecked.close();
  const before = uploads();
  const wrong = await open(`${server.url}/send#sp1-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aa`);
  await wrong.getByRole("heading", { name: "The vendor's keys do not match this link" }).waitFor();
  assert.equal(uploads(), before);
  await wrong.close();

  const closed = await serve("allow_anonymous_uploads = false");
  origins.push(new URL(closed.url).origin);
  try {
    const off = await open(`${closed.url}/send`);
    await off.getByText("takes only requested credentials").waitFor();
    assert.equal(await off.getByRole("button", { name: "Seal and send" }).count(), 0);
    await off.close();
  } finally {
    closed.stop();
  }
});

test("the whole hand-over works from the keyboard alone, and each screen takes the focus", async () => {
  const page = await open(requestLink("salesforce-password", "Acme keyboard"));
  await page.getByLabel("Username of the account").waitFor();
  assert.equal(await page.title(), "Send a credential · sealpass");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "title", "the heading has the focus");
  /** Tab until the element `id` has the focus (it must be reachable), within `most` presses. */
  const tabTo = async (id: string, most = 12): Promise<void> => {
    for (let i = 0; i < most; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent)) === id) return;
    }
    assert.fail(`${id} is not reachable with Tab`);
  };
  await tabTo("field-username");
  await page.keyboard.type("kore@acme.example");
  await tabTo("Generate a password");
  await page.keyboard.press("Enter");
  const password = (await page.locator("#generated").innerText()).trim();
  assert.equal(password.length, 32);
  await tabTo("confirm-set");
  await page.keyboard.press("Space");
  await tabTo("Seal and send");
  await page.keyboard.press("Enter");
  const pickup = await pickupLink(page);
  assert.equal(await page.title(), "Sent · sealpass");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "title");
  assert.equal(receive(pickup).secret, password);
  await page.close();
});

test("a certificate hand-over: the page offers the vendor's certificate, takes only identifiers, and checks the thumbprint", async () => {
  const { readFileSync } = await import("node:fs");
  const { sealpass, scratch } = await import("./support.js");
  const certs = scratch();
  const made = sealpass(["cert", "new", "--name", "kore", "--days", "30", "-o", certs, "--json"]);
  assert.equal(made.code, 0, made.stderr);
  const cert = JSON.parse(made.stdout) as { sha1_thumbprint: string; sha256: string };
  const pem = readFileSync(join(certs, "kore.crt"), "utf8");
  const vendor = await serve(`[[certificates]]\nname = "kore"\nfile = "${join(certs, "kore.crt")}"\n`);
  origins.push(new URL(vendor.url).origin);
  try {
    const link = (kind: string): string => {
      const run = vendor.staff(["request", "--label", "Acme org", "--kind", kind, "--json"]);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(run.stdout) as { link: string }).link;
    };
    const page = await open(link("salesforce-jwt"));
    await page.getByRole("heading", { name: "1. Register the vendor's certificate" }).waitFor();
    await page.getByText(cert.sha256.toUpperCase()).first().waitFor({ state: "attached" });
    await page.getByText("Enable the JWT bearer flow and upload the vendor's certificate, kore.crt.").waitFor();
    assert.equal(await page.getByLabel("The secret").count(), 0, "no secret is asked for");
    const [saved] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download kore.crt" }).click()]);
    assert.equal(saved.suggestedFilename(), "kore.crt");
    assert.equal(readFileSync(await saved.path(), "utf8"), pem);
    await shot(page, "9-certificate");
    await page.getByLabel("Consumer key").fill("the consumer secret");
    await page.getByLabel("Username of the integration user").fill("kore@acme.example");
    await page.getByLabel("My Domain URL").fill("https://login.salesforce.com");
    const before = uploads();
    await page.getByRole("button", { name: "Seal and send" }).click();
    assert.match(await page.locator("#field-consumer_key-error").innerText(), /starts with 3MVG/);
    assert.match(await page.locator("#field-instance_url-error").innerText(), /^My Domain URL \(Setup > My Domain\) must be the org's My Domain URL/);
    assert.equal(uploads(), before);
    const key = "3MVG9fTLmJ60pJ5JnY9ZxsxDq1Hh4bFbD.FoNzxmHJmbjTNp3hKzMH8R_tM2vR5L4xKcZYkDq3eZp6WnXoAbCdEf";
    await page.getByLabel("Consumer key").fill(key);
    await page.getByLabel("My Domain URL").fill("https://acme.my.salesforce.com");
    await page.getByRole("button", { name: "Seal and send" }).click();
    await page.getByRole("heading", { name: "Sent" }).waitFor();
    const pickup = (await page.locator(".link").innerText()).trim();
    const run = vendor.staff(["receive", pickup, "-i", vendor.identity, "--json", "--reveal"]);
    assert.equal(run.code, 0, run.stderr);
    const got = JSON.parse(run.stdout) as { kind: string; fields: Record<string, string>; compliant: boolean; secret?: string };
    assert.equal(got.kind, "salesforce-jwt");
    assert.deepEqual(got.fields, { consumer_key: key, instance_url: "https://acme.my.salesforce.com", username: "kore@acme.example" });
    assert.equal(got.compliant, true);
    assert.equal(got.secret, undefined);
    await page.close();

    const entra = await open(link("entra-certificate"));
    await entra.getByText(cert.sha1_thumbprint).first().waitFor();
    await entra.getByLabel("Tenant ID (directory)").fill("0f8fad5b-d9cb-469f-a165-70867728950e");
    await entra.getByLabel("Client ID (application)").fill("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    await entra.getByLabel("Environment URL").fill("https://acme.crm4.dynamics.com");
    await entra.getByLabel("Certificate thumbprint (as Entra ID shows it)").fill("AB".repeat(20));
    await entra.getByRole("button", { name: "Seal and send" }).click();
    assert.match(await entra.locator("#field-thumbprint-error").innerText(), /not the thumbprint of the vendor's certificate/);
    assert.equal(uploads(), before + 1);
    // As certificate viewers show it: lower case, in pairs split by colons or spaces.
    const pairs = cert.sha1_thumbprint.toLowerCase().match(/../g) ?? [];
    const viewer = `${pairs.slice(0, 10).join(":")} ${pairs.slice(10).join(" ")}`;
    assert.notEqual(viewer, cert.sha1_thumbprint);
    await entra.getByLabel("Certificate thumbprint (as Entra ID shows it)").fill(viewer);
    await entra.getByRole("button", { name: "Seal and send" }).click();
    await entra.getByRole("heading", { name: "Sent" }).waitFor();
    const entraPickup = (await entra.locator(".link").innerText()).trim();
    const entraRun = vendor.staff(["receive", entraPickup, "-i", vendor.identity, "--json", "--reveal"]);
    assert.equal(entraRun.code, 0, entraRun.stderr);
    assert.equal((JSON.parse(entraRun.stdout) as { fields: Record<string, string> }).fields.thumbprint, cert.sha1_thumbprint, "sealed normalised");
    await entra.close();

    // A link whose fingerprint predates certificates (sp1) cannot vouch for one: refused.
    const jwt = link("salesforce-jwt");
    const sp1 = (JSON.parse(sealpass(["recipient", "-i", vendor.identity, "--json"]).stdout) as { fingerprint: string }).fingerprint;
    const old = await open(jwt.replace(/\.sp[23]-.*$/, `.${sp1}`));
    await old.getByRole("heading", { name: "This link cannot vouch for the vendor's certificate" }).waitFor();
    await old.close();
  } finally {
    vendor.stop();
  }
});

test("the browser spoke to the server's origin only, and every page had its CSP", () => {
  const elsewhere = requests.filter((u) => !origins.includes(new URL(u).origin) && !u.startsWith("blob:") && !u.startsWith("data:"));
  assert.deepEqual(elsewhere, []);
  assert.ok(documents.length >= 6);
  for (const d of documents) {
    const csp = d.headers()["content-security-policy"] ?? "";
    for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'", "require-trusted-types-for 'script'"]) {
      assert.ok(csp.includes(directive), `${d.url()}: ${csp}`);
    }
    assert.equal(d.headers()["referrer-policy"], "no-referrer");
  }
});
