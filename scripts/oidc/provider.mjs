// An OpenID Connect provider for the console's sign-in tests: panva/oidc-provider (an
// OpenID-certified implementation), configured like a county's Keycloak realm would be
// for Xinfang — one public client (the console) using the authorization code flow with
// PKCE, access tokens as JWTs for the audience "xinfang" carrying the claims the
// services read (roles, unit, jurisdiction), its keys published at /jwks.
//
//   PORT=... REDIRECT_URI=... ACCOUNTS='{"login": {"roles": [...], "unit": ..., "jurisdiction": ...}}' \
//     node provider.mjs
//
// The login page is the library's development page (any password); the test drives it
// in the browser. Prints "ready <issuer>" once it listens.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const redirect = process.env.REDIRECT_URI;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
const clientId = process.env.CLIENT_ID || 'xinfang-console';
const resource = 'urn:xinfang:api';

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    token_endpoint_auth_method: 'none',
    redirect_uris: [redirect],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  pkce: { required: () => true },
  scopes: ['openid', 'profile'],
  claims: { openid: ['sub'], profile: ['name'] },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid profile',
        audience: 'xinfang',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
      }),
    },
  },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, name: id }),
  }),
  // The claims the services read, in the access token (a Keycloak realm adds them
  // with protocol mappers).
  extraTokenClaims: async (_ctx, token) => {
    const a = accounts[token.accountId];
    return a ? { roles: a.roles, unit: a.unit ?? undefined, jurisdiction: a.jurisdiction } : {};
  },
  // A first-party client: no consent page.
  loadExistingGrant: async (ctx) => {
    const id = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (id) {
      return ctx.oidc.provider.Grant.find(id);
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    grant.addResourceScope(resource, 'openid profile');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
