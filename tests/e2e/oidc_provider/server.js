// A real OpenID Provider (node-oidc-provider) for the tests and the local demo, on 127.0.0.1 only.
//
// Everything comes from the environment, so the test session decides ports, clients and people:
//   OIDC_PROVIDER_PORT     port to listen on (required)
//   OIDC_PROVIDER_CLIENTS  JSON list of clients: {client_id, client_secret, redirect_uris, post_logout_redirect_uris}
//   OIDC_PROVIDER_USERS    JSON object: login name -> claims (the login name is the sub)
// Sign-in and consent use the library's development interactions: any password is accepted for a known login.
// The signing key is generated at start-up (RS256, kid "test-rsa-<time>"), so nothing is fetched or stored.
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-provider: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('OIDC_PROVIDER_PORT'));
const clients = JSON.parse(required('OIDC_PROVIDER_CLIENTS'));
const users = JSON.parse(process.env.OIDC_PROVIDER_USERS || '{}');
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-rsa-${Date.now()}`, use: 'sig', alg: 'RS256' };

const configuration = {
  clients: clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks: { keys: [signingKey] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  cookies: { keys: [`cookie-key-${Date.now()}-${Math.random()}`] },
  async findAccount(ctx, id) {
    const claims = users[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { ...claims, sub: id }; } };
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => console.error('oidc-provider server_error', error));
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${issuer}`);
});
