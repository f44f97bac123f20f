// End to end in a real browser: Debian's Chromium driven by playwright-core against a real
// `sealpass serve`, with `sealpass request` and `sealpass receive` on the vendor's side. The
// page is driven by its labels, as a person would. Screenshots of each state go to
// target/web-shots/, so a test run leaves the tracked tree as it was; SEALPASS_SHOTS=../docs/web
// refreshes the pictures the docs show.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";

import type { BrowserContext, Page, Response } from "playwright-core";
import { chromium } from "playwright-core";

import { EXECUTABLE, FLAGS } from "../tools/chromium.mjs";

import type { Served } from "./support.js";
import { sealpass, scratch, serve, serveSigned } from "./support.js";

const SHOTS = resolve(process.env.SEALPASS_SHOTS ?? "../target/web-shots");
/** SEALPASS_WEB_DIST=dist: the page's script and stylesheet from that folder rather than the copy
 * embedded in the binary, to test the page as just built without rebuilding the binary. */
const LOCAL_DIST = process.env.SEALPASS_WEB_DIST;

let server: Served;
let browser: BrowserContext;
const profile = mkdtempSync(join(tmpdir(), "chromium-"));
/** Every request the browser made, and every page it was given. */
const requests: string[] = [];
const documents: Response[] = [];
const consoleLines: string[] = [];
/** Origins of the servers the tests started (the browser may speak to these only). */
const origins: string[] = [];

before(async () => {
  server = await serve();
  origins.push(new URL(server.url).origin);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: EXECUTABLE,
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
  await server?.stop();
  rmSync(profile, { recursive: true, force: true });
});

async function open(url: string, width = 1024, setup?: (page: Page) => Promise<unknown>): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: 900 });
  page.on("console", (m) => consoleLines.push(m.text()));
  await setup?.(page);
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

function receive(pickup: string): { secret: string; kind: string; fields: Record<string, string>; compliant: boolean; sealing: string } {
  const run = server.staff(["receive", pickup, "-i", server.identity, "--json", "--reveal"]);
  assert.ok(run.code === 0 || run.code === 3, run.stderr);
  return JSON.parse(run.stdout) as { secret: string; kind: string; fields: Record<string, string>; compliant: boolean; sealing: string };
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
  // The vendor's key is post-quantum (what keygen makes): the page says so and seals to it.
  assert.match(await page.locator("#sealing").innerText(), /post-quantum protection/);
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
  assert.equal(got.sealing, "post-quantum", "sealed in Chromium to the hybrid key");
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

test("a request the vendor cancelled says so and takes nothing, even from a page opened before", async () => {
  const link = requestLink("generic", "Sent to the wrong person");
  const early = await open(link);
  await early.getByLabel("Paste one I already have").check();
  await early.getByLabel("The secret").fill("Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
  const id = new URL(link).pathname.split("/").pop() ?? "";
  const cancelled = server.staff(["requests", "--cancel", id, "--json"]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal((JSON.parse(cancelled.stdout) as { state: string; id: string }).state, "cancelled");
  // A page already open: the upload is refused, and nothing is stored.
  await early.getByRole("button", { name: "Seal and send" }).click();
  await early.getByText(/cancelled this request/).waitFor();
  const listed = server.staff(["requests", "--state", "cancelled", "--json"]);
  const requests = (JSON.parse(listed.stdout) as { requests: { id: string; drop_id?: string }[] }).requests;
  assert.ok(requests.some((r) => r.id === id && r.drop_id === undefined), listed.stdout);
  // The link opened afresh: refused before anything is asked.
  const again = await open(link);
  await again.getByRole("heading", { name: "The vendor cancelled this request" }).waitFor();
  assert.equal(await again.getByLabel("The secret").count(), 0);
  await shot(again, "9-cancelled");
  await early.close();
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
    await closed.stop();
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
    await vendor.stop();
    rmSync(certs, { recursive: true, force: true });
  }
});

/** A request link from `vendor`'s staff. */
function linkFrom(vendor: Served, kind: string, label: string): string {
  const run = vendor.staff(["request", "--label", label, "--kind", kind, "--json"]);
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { link: string }).link;
}

/** Paste a generic secret and send it; the pickup link. */
async function sendGeneric(page: Page, secret: string): Promise<string> {
  await page.getByLabel("Paste one I already have").check();
  await page.getByLabel("The secret").fill(secret);
  await page.getByRole("button", { name: "Seal and send" }).click();
  return pickupLink(page);
}

/** What `sealpass receive` opened with `identity`. */
function receiveFrom(vendor: Served, pickup: string, identity: string): { secret: string; kind: string } {
  const run = vendor.staff(["receive", pickup, "-i", identity, "--json", "--reveal"]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as { secret: string; kind: string };
}

test("a link naming the vendor key (sp4-) is answered through the page, and still works after a rotation the vendor re-signed", async () => {
  const { readFileSync, writeFileSync } = await import("node:fs");
  const vendor = await serveSigned();
  origins.push(new URL(vendor.url).origin);
  try {
    const link = linkFrom(vendor, "generic", "Acme signed");
    assert.ok(link.startsWith(`${vendor.url}/r/`) && link.endsWith(`.${vendor.vendorKey}`), link);
    const later = linkFrom(vendor, "generic", "Acme after the rotation");
    const page = await open(link);
    await page.getByText(`Sealed to the keys signed by the vendor key ${vendor.vendorKey}, as the link says.`).waitFor();
    const pickup = await sendGeneric(page, "Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
    assert.equal(receiveFrom(vendor, pickup, vendor.identity).secret, "Zq7#Lm2$Rv9!Xp4&Tb6^Kd3*");
    // The receipt is checked against the key the manifest signed.
    await page.getByText("Receipt: signed by the vendor's server, received by alice").waitFor({ timeout: 10_000 });
    await page.close();

    // The vendor rotates: a second recipient, a certificate, a new receipt key, re-signed (serial
    // 2), and the server restarted on the same address.
    const before = (await (await fetch(`${vendor.url}/v1/info`)).json()) as { receipt_key: string };
    const second = join(vendor.dir, "second.key");
    const added = sealpass(["keygen", "-o", second]).stdout.split("\n")[0];
    const cert = sealpass(["cert", "new", "--name", "kore", "--days", "30", "-o", vendor.dir, "--json"]);
    assert.equal(cert.code, 0, cert.stderr);
    const config = readFileSync(vendor.config, "utf8")
      .replace(/^recipients = \["(age1[a-z0-9]+)"\]$/m, `recipients = ["$1", "${added}"]`)
      .replace("receipt.key", "receipt-2.key");
    writeFileSync(vendor.config, `${config}[[certificates]]\nname = "kore"\nfile = "${join(vendor.dir, "kore.crt")}"\n`);
    vendor.sign();
    await vendor.restart();
    const info = (await (await fetch(`${vendor.url}/v1/info`)).json()) as { recipients: string[]; certificates: unknown[]; receipt_key: string; manifest: { manifest: string } };
    assert.equal(info.recipients.length, 2);
    assert.equal(info.certificates.length, 1);
    assert.notEqual(info.receipt_key, before.receipt_key);
    assert.equal((JSON.parse(info.manifest.manifest) as { serial: number }).serial, 2);

    // The link made before it works as it did, sealed to the new recipients, and nothing warns.
    const old = await open(later);
    await old.getByText(`Sealed to the keys signed by the vendor key ${vendor.vendorKey}, as the link says.`).waitFor();
    assert.equal(await old.locator(".alert, .warning").count(), 0, "nothing warns");
    const oldPickup = await sendGeneric(old, "Hn4!Vb8@Qs2#Wd6$Kz9%Lp3^");
    assert.equal(receiveFrom(vendor, oldPickup, second).secret, "Hn4!Vb8@Qs2#Wd6$Kz9%Lp3^", "sealed to the recipient added");
    await old.getByText("Receipt: signed by the vendor's server, received by alice").waitFor({ timeout: 10_000 });
    assert.equal(await old.getByRole("alert").count(), 0);
    await shot(old, "10-signed-received");
    await old.close();

    // The anonymous page takes the vendor key in its address, and offers the certificate added.
    const anonymous = await open(`${vendor.url}/send#${vendor.vendorKey}`);
    await anonymous.getByText("It matches the fingerprint in the address you were given").waitFor();
    assert.equal(await anonymous.locator(".fingerprint").innerText(), vendor.vendorKey);
    await anonymous.getByLabel("What are you sending?").selectOption("salesforce-jwt");
    await anonymous.getByRole("link", { name: "Download kore.crt" }).waitFor();
    await anonymous.close();
  } finally {
    await vendor.stop();
  }
});

test("keys the vendor key did not sign are refused: another vendor's manifest, or a rewritten /v1/info; no certificate is shown, nothing is sent", async () => {
  const { readFileSync } = await import("node:fs");
  const certs = scratch();
  const made = (name: string): { pem: string; sha256: string; sha1_thumbprint: string } => {
    const run = sealpass(["cert", "new", "--name", name, "--days", "30", "-o", certs, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    return { ...(JSON.parse(run.stdout) as { sha256: string; sha1_thumbprint: string }), pem: readFileSync(join(certs, `${name}.crt`), "utf8") };
  };
  made("kore");
  const forged = made("mallory");
  const withCert = `[[certificates]]\nname = "kore"\nfile = "${join(certs, "kore.crt")}"\n`;
  const vendor = await serveSigned(withCert);
  const impostor = await serveSigned(withCert);
  origins.push(new URL(vendor.url).origin, new URL(impostor.url).origin);
  const sent = uploads();
  /** The page refuses `link` as it must: a possible substitution, the value to compare, no certificate. */
  const refused = async (what: string, link: string, setup?: (page: Page) => Promise<unknown>, name?: string): Promise<void> => {
    const page = await open(link, 1024, setup);
    await page.getByRole("heading", { name: "The vendor's keys do not match this link" }).waitFor();
    const text = await page.locator("#app").innerText();
    assert.match(text, /Someone may be substituting their own keys/, what);
    assert.ok(text.includes(`Compare ${vendor.vendorKey} with the value the vendor publishes elsewhere`), `${what}: ${text}`);
    assert.match(text, /do not ask this server/, what);
    assert.match(text, /Nothing was sent/, what);
    assert.equal(await page.locator(".certificate, a[download]").count(), 0, `${what}: no certificate shown`);
    assert.equal(await page.getByRole("button", { name: "Seal and send" }).count(), 0, what);
    if (name !== undefined) await shot(page, name);
    await page.close();
  };
  try {
    // Another vendor key's server, behind a link naming this vendor's key.
    const theirs = linkFrom(impostor, "salesforce-jwt", "Acme org");
    assert.ok(theirs.endsWith(`.${impostor.vendorKey}`));
    await refused("another vendor's manifest", theirs.replace(impostor.vendorKey, vendor.vendorKey), undefined, "11-substituted");

    // The vendor's own server, its /v1/info rewritten on the way.
    const link = linkFrom(vendor, "salesforce-jwt", "Acme org");
    const theirInfo = (await (await fetch(`${impostor.url}/v1/info`)).json()) as Record<string, unknown>;
    const rewrites: [string, (info: Record<string, unknown>) => void][] = [
      ["an extra recipient", (i) => (i.recipients = [...(i.recipients as string[]), (theirInfo.recipients as string[])[0]])],
      ["another certificate", (i) => (i.certificates = [{ name: "kore", pem: forged.pem, sha256: forged.sha256, sha1_thumbprint: forged.sha1_thumbprint, not_after: "2099-01-01T00:00:00Z" }])],
      ["another receipt key", (i) => (i.receipt_key = theirInfo.receipt_key)],
      ["no manifest", (i) => delete i.manifest],
      ["the impostor's manifest and keys", (i) => Object.assign(i, { recipients: theirInfo.recipients, receipt_key: theirInfo.receipt_key, manifest: theirInfo.manifest })],
    ];
    for (const [what, rewrite] of rewrites) {
      await refused(what, link, (page) =>
        page.route("**/v1/info", async (route) => {
          const response = await route.fetch();
          const info = (await response.json()) as Record<string, unknown>;
          rewrite(info);
          await route.fulfill({ response, json: info });
        }),
      );
    }
    assert.equal(uploads(), sent, "nothing was uploaded");

    // Unaltered, the same link shows the vendor's certificate.
    const page = await open(link);
    await page.getByRole("link", { name: "Download kore.crt" }).waitFor();
    await page.close();

    // Expired (the browser's clock past the manifest's 90 days): the vendor must re-sign.
    const late = await open(link, 1024, (p) => p.clock.setFixedTime(Date.now() + 91 * 86_400_000));
    await late.getByRole("heading", { name: "The vendor's signed keys have expired" }).waitFor();
    const text = await late.locator("#app").innerText();
    assert.match(text, /the vendor must sign a new one/);
    assert.match(text, /Nothing was sent/);
    assert.equal(await late.locator(".certificate, a[download]").count(), 0);
    await shot(late, "12-expired");
    await late.close();
    assert.equal(uploads(), sent, "nothing was uploaded");
  } finally {
    await vendor.stop();
    await impostor.stop();
    rmSync(certs, { recursive: true, force: true });
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
