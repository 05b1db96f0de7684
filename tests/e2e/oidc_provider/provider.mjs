// A local OpenID Provider (node-oidc-provider) for orgsecurity's browser tests and `make idp`.
//
// Usage: node provider.mjs CONFIG.json   (or OIDC_PROVIDER_CONFIG=CONFIG.json node provider.mjs)
//
// CONFIG.json (written by tests/e2e/idp_oidc.py; every key is required unless marked optional):
//   issuer        "http://127.0.0.1:8081"          the issuer, also where it listens (host and port)
//   clients       [{client_id, client_secret, redirect_uris, ...}]   client metadata (RFC 7591 names)
//   users         [{login, password, sub, email, email_verified, name, given_name, family_name, groups}]
//   jwks          {keys: [private JWKs]}          signing keys; the first of each algorithm signs
//   cookie_keys   ["..."]                         keys that sign the provider's own cookies
//   skip_consent  true (optional)                 grant requested scopes without the consent screen
//   require_pkce  true (optional)                 every authorization request must carry PKCE (S256)
//   conform_id_token_claims false (optional)      false: scope claims also go into the ID token
//
// Sign-in uses the library's devInteractions login page. devInteractions itself accepts any login and
// password, so a small middleware below checks them against `users` first (wrong ones get a clear page at
// the provider) and hands the user's `sub` on as the account ID.
//
// Logs one line per request and every error event to stdout. SIGTERM or SIGINT stops it.

import { readFileSync } from 'node:fs';
import * as querystring from 'node:querystring';
import { timingSafeEqual } from 'node:crypto';

import Provider from 'oidc-provider';

const configPath = process.argv[2] || process.env.OIDC_PROVIDER_CONFIG;
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json (or set OIDC_PROVIDER_CONFIG)');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const issuer = new URL(config.issuer);
const usersBySub = new Map(config.users.map((user) => [user.sub, user]));
const usersByLogin = new Map(config.users.map((user) => [user.login, user]));

function sameSecret(given, expected) {
  const a = Buffer.from(String(given ?? ''));
  const b = Buffer.from(String(expected));
  return a.length === b.length && timingSafeEqual(a, b);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

async function findAccount(ctx, sub) {
  const user = usersBySub.get(sub);
  if (!user) {
    return undefined;
  }
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email: user.email,
        email_verified: user.email_verified,
        name: user.name,
        given_name: user.given_name,
        family_name: user.family_name,
        preferred_username: user.login,
        groups: user.groups,
      };
    },
  };
}

// First-party clients in real deployments rarely show a consent screen; grant what was asked for.
async function loadExistingGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) {
    return ctx.oidc.provider.Grant.find(grantId);
  }
  if (config.skip_consent === false) {
    return undefined;
  }
  const grant = new ctx.oidc.provider.Grant({
    clientId: ctx.oidc.client.clientId,
    accountId: ctx.oidc.session.accountId,
  });
  grant.addOIDCScope(String(ctx.oidc.params.scope || 'openid'));
  const requested = ctx.oidc.claims || {};
  const claims = [...Object.keys(requested.id_token || {}), ...Object.keys(requested.userinfo || {})];
  if (claims.length) {
    grant.addOIDCClaims(claims);
  }
  await grant.save();
  return grant;
}

// RP-initiated logout's confirmation page: the library's default, without its web font from fonts.googleapis.com
// (nothing is fetched from the internet during a run). `form` is the library's hidden form (xsrf token); the
// buttons submit it, "Yes" with logout=yes, which ends the session here and sends the browser to the client's
// post_logout_redirect_uri.
async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Logout Request</title></head><body>
<h1>Do you want to sign-out from ${escapeHtml(ctx.host)}?</h1>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
</body></html>`;
}

const provider = new Provider(issuer.origin, {
  clients: config.clients,
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  },
  jwks: config.jwks,
  cookies: { keys: config.cookie_keys },
  findAccount,
  loadExistingGrant,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
  },
  conformIdTokenClaims: config.conform_id_token_claims ?? false,
  pkce: { required: () => config.require_pkce ?? true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource },
  },
});

// One line per request, so a failing test's report shows the provider's side of the flow.
provider.use(async (ctx, next) => {
  const started = Date.now();
  try {
    await next();
  } finally {
    console.log(`${new Date().toISOString()} ${ctx.method} ${ctx.originalUrl} -> ${ctx.status} (${Date.now() - started} ms)`);
  }
});

// Password check in front of devInteractions' login form (see the header).
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) {
    return next();
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 16 * 1024) {
      ctx.throw(413, 'request body too large');
    }
    chunks.push(chunk);
  }
  const form = querystring.parse(Buffer.concat(chunks).toString('utf8'));
  if (form.prompt === 'login') {
    const user = usersByLogin.get(String(form.login ?? ''));
    if (!user || !sameSecret(form.password, user.password)) {
      console.log(`sign-in refused for login ${JSON.stringify(form.login)}: unknown login or wrong password`);
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-in failed</title></head><body>
<h1>Sign-in failed</h1><p>Unknown login or wrong password for ${escapeHtml(form.login ?? '')}.</p>
<p><a href="${escapeHtml(ctx.path)}">Try again</a></p></body></html>`;
      return undefined;
    }
    form.login = user.sub;
  }
  ctx.req.body = form;
  return next();
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'end_session.error', 'jwks.error', 'discovery.error', 'check_session.error', 'introspection.error', 'revocation.error']) {
  provider.on(event, (ctx, error) => {
    console.log(`${event}: ${error.name}: ${error.message}${error.error_description ? ` (${error.error_description})` : ''}`);
  });
}

const server = provider.listen(Number(issuer.port), issuer.hostname, () => {
  console.log(`oidc-provider listening on ${issuer.origin}, issuer ${provider.issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
