// A real OAuth 2.0 / OpenID Connect authorization server (oidc-provider),
// for the connect tests: one confidential client, PKCE S256 required,
// refresh tokens issued and rotated on every use, the development
// login and consent pages (any login is accepted). Its routes are Google's
// paths, so Portage's Google flow runs against it through an origin override.
//
// PORT (required): where to listen; REDIRECT_URI: the client's redirect URI;
// CLIENT_ID, CLIENT_SECRET: the client. Prints "ready" when it listens.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const configuration = {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  routes: { authorization: '/o/oauth2/v2/auth', token: '/token', revocation: '/revoke' },
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  rotateRefreshToken: true,
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  ttl: { AccessToken: 3600, AuthorizationCode: 60, RefreshToken: 86400, Session: 3600, Interaction: 600, Grant: 86400 },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
};
const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => console.log('ready'));
