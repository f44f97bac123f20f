// A real, certified OpenID Provider (panva's oidc-provider) on loopback, for the tests of staff
// sign-in: tests start it, read its issuer URL from the first line of stdout, and stop it.
//
//   node tools/oidc-provider.mjs [--port N] [--kid NAME] [--key-file FILE] [--ttl SECONDS]
//
// Access tokens are JWTs (resource indicators) for the resource https://sealpass.test, with the
// audience "sealpass", living --ttl seconds, signed ES256 with a key made at start (or read from
// --key-file, written there when the file does not exist, so two providers can share a key)
// whose kid is --kid (a restart with another key is a rotation). https://short.test gets the
// same audience and a one-second life; https://other.test the audience "other".
// Machine clients (client credentials, secret "secret-<id>") stand for staff in groups:
// ci-requester, ci-receiver, ci-auditor, ci-admin, ci-nobody (no group). The public client
// sealpass-cli (a native app: any loopback port) may use the device flow and code + PKCE, with
// refresh tokens (for `sealpass login`); people sign in at the development login page with any
// password, and the names in PEOPLE are in those groups (anyone else in none).

import { createServer } from "node:http";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import Provider from "oidc-provider";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    kid: { type: "string" },
    "key-file": { type: "string" },
    ttl: { type: "string", default: "300" },
  },
});
const kid = values.kid ?? randomUUID();
const ttl = Number(values.ttl);

const GROUPS = {
  "ci-requester": ["kore-requesters"],
  "ci-receiver": ["kore-receivers"],
  "ci-auditor": ["kore-auditors"],
  "ci-admin": ["kore-admins"],
  "ci-nobody": [],
};
const PEOPLE = {
  alice: ["kore-requesters", "kore-receivers"],
  audrey: ["kore-auditors"],
};
const RESOURCES = {
  "https://sealpass.test": ["sealpass", ttl],
  "https://short.test": ["sealpass", 1],
  "https://other.test": ["other", ttl],
};

const keyFile = values["key-file"];
const material =
  keyFile !== undefined && existsSync(keyFile)
    ? JSON.parse(readFileSync(keyFile, "utf8"))
    : generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
if (keyFile !== undefined && !existsSync(keyFile)) writeFileSync(keyFile, JSON.stringify(material), { mode: 0o600 });
const jwk = { ...material, kid, alg: "ES256", use: "sig" };

const server = createServer();
server.listen(Number(values.port), "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [
      ...Object.keys(GROUPS).map((id) => ({
        client_id: id,
        client_secret: `secret-${id}`,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        id_token_signed_response_alg: "ES256",
      })),
      {
        client_id: "sealpass-cli",
        application_type: "native",
        token_endpoint_auth_method: "none",
        grant_types: ["urn:ietf:params:oauth:grant-type:device_code", "authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1/callback"],
        id_token_signed_response_alg: "ES256",
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? "https://sealpass.test",
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          const known = RESOURCES[resource];
          if (known === undefined) throw new Error(`unknown resource ${resource}`);
          const [audience, life] = known;
          return { scope: "sealpass", audience, accessTokenTTL: life, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } };
        },
      },
    },
    // Refresh tokens whenever the client may use them (Entra ID and Okta issue them for
    // offline_access without asking for consent again; this provider would want prompt=consent).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    extraTokenClaims: (_ctx, token) => {
      const person = token.accountId;
      if (person !== undefined) return { groups: PEOPLE[person] ?? [], preferred_username: person };
      const id = token.clientId;
      if (!(id in GROUPS)) return undefined;
      return { groups: GROUPS[id], preferred_username: id };
    },
  });
  server.on("request", provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, kid })}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
