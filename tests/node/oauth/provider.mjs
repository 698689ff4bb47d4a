// A local Google-like OpenID Connect provider for auth-api's tests, built on oauth2-mock-server.
//
// Start: `node tests/node/oauth/provider.mjs [port]` (or OAUTH_PORT; default 8090, host 127.0.0.1).
// The issuer is exactly `http://127.0.0.1:<port>`; endpoints: /authorize, /token, /jwks,
// /.well-known/openid-configuration.
//
// What it adds to oauth2-mock-server so tests can drive Google-shaped ID tokens:
// - `login_hint` on /authorize picks the user: `sub` is derived from it (stable across logins),
//   `email` is the hint itself. A hint starting with `unverified.` yields `email_verified: false`.
//   Without a hint the user is `google-user@example.com`.
// - The mock already copies the authorize `nonce` into the ID token (keyed by the code); a test
//   that wants a wrong nonce rewrites it in the authorize URL before following it.
// - A token request whose client_id is `wrong-aud-client` gets an ID token with
//   `aud: "someone-else"`, so auth-api configured with that client id must refuse it.
import { createHash } from "node:crypto";
import { OAuth2Server } from "oauth2-mock-server";

const port = Number(process.argv[2] ?? process.env.OAUTH_PORT ?? 8090);
const host = process.env.OAUTH_HOST ?? "127.0.0.1";
export const WRONG_AUD_CLIENT = "wrong-aud-client";

const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
server.issuer.url = `http://${host}:${port}`;

// code -> login_hint, remembered between /authorize and /token.
const hints = new Map();

server.service.on("beforeAuthorizeRedirect", (redirect, req) => {
  const code = redirect.url.searchParams.get("code");
  const url = new URL(req.url, "http://provider");
  const hint = url.searchParams.get("login_hint");
  if (code && hint) hints.set(code, hint);
});

server.service.on("beforeTokenSigning", (token, req) => {
  const body = req.body ?? {};
  // Both the access token and the ID token pass here; only the ID token carries `aud`=client.
  const isIdToken = "aud" in token.payload && token.payload.aud !== undefined;
  if (!isIdToken) return;
  const email = (body.code && hints.get(body.code)) || "google-user@example.com";
  const sub = createHash("sha256").update(email).digest("hex").slice(0, 21);
  Object.assign(token.payload, {
    sub,
    email,
    email_verified: !email.startsWith("unverified."),
    name: email.split("@")[0],
    picture: "https://example.com/avatar.png",
    azp: token.payload.aud,
  });
  if (token.payload.aud === WRONG_AUD_CLIENT) token.payload.aud = "someone-else";
});

server.service.on("beforeResponse", (_response, req) => {
  const code = req.body?.code;
  if (code) hints.delete(code);
});

await server.start(port, host);
console.log(`oauth provider listening on ${server.issuer.url}`);

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
