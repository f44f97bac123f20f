// End to end in a real browser: Debian's Chromium driven by playwright-core against a real
// `sealpass serve`, with `sealpass request` and `sealpass receive` on the vendor's side. The
// page is driven by its labels, as a person would. Screenshots of each state go to docs/web/.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";

import type { BrowserContext, Page, Response } from "playwright-core";
import { chromium } from "playwright-core";

import type { Served } from "./support.js";
import { serve } from "./support.js";

const SHOTS = resolve("../docs/web");
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

before(async () => {
  server = await serve();
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "chromium-")), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: { width: 1024, height: 900 },
  });
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
    await page.screenshot({ path: join(SHOTS, `${name}-${suffix}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1024, height: 900 });
}

function requestLink(kind: string, label: string): string {
  const run = server.staff(["request", "--label", label, "--kind", kind, "--json"]);
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
  // The page follows the drop.
  await page.getByText("Received by alice").waitFor({ timeout: 10_000 });
  await shot(page, "4-received");
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
  await entra.close();
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
  await page.close();
});

test("a tampered fingerprint is refused before anything is uploaded", async () => {
  const before = uploads();
  const link = requestLink("salesforce-password", "Acme tampered");
  const tampered = link.replace(/\.sp1-..../, ".sp1-aaaa");
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
  await page.getByRole("button", { name: "Revoke it" }).click();
  await page.getByRole("button", { name: "Click again to revoke" }).click();
  await page.getByText("Nobody picked it up").waitFor();
  await shot(page, "8-revoked");
  const again = await open(link);
  await again.getByRole("heading", { name: "This request was already answered" }).waitFor();
  await shot(again, "9-answered");
  await page.close();
  await again.close();
});

test("the browser spoke to the server's origin only, and every page had its CSP", () => {
  const origin = new URL(server.url).origin;
  const elsewhere = requests.filter((u) => !u.startsWith(origin) && !u.startsWith("blob:") && !u.startsWith("data:"));
  assert.deepEqual(elsewhere, []);
  assert.ok(documents.length >= 6);
  for (const d of documents) {
    const csp = d.headers()["content-security-policy"] ?? "";
    for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'"]) {
      assert.ok(csp.includes(directive), `${d.url()}: ${csp}`);
    }
    assert.equal(d.headers()["referrer-policy"], "no-referrer");
  }
});
