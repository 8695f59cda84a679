// Microsoft's own Node clients against the graphmailer emulator: msal-node
// and @azure/identity, unchanged but for their authority. test.sh starts the
// emulator, passes its banner in GRAPHMAILER_EMULATOR_BANNER and trusts its CA
// with NODE_EXTRA_CA_CERTS, as users of these clients would.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { ClientSecretCredential } from '@azure/identity';

const banner = JSON.parse(process.env.GRAPHMAILER_EMULATOR_BANNER);
const url = banner.url;
const scope = 'https://graph.microsoft.com/.default';

const claims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

beforeEach(async () => {
  const response = await fetch(`${url}/_emulator/reset`, { method: 'POST' });
  assert.equal(response.status, 204);
});

test('msal-node gets a token from the emulator and sends with it', async () => {
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: banner.client_id,
      authority: `${url}/${banner.tenant_id}`,
      clientSecret: banner.client_secret,
      knownAuthorities: [new URL(url).host],
    },
  });
  const result = await app.acquireTokenByClientCredential({ scopes: [scope] });
  assert.deepEqual(claims(result.accessToken).roles, ['Mail.Send']);

  const response = await fetch(`${url}/v1.0/users/${banner.allowed_sender}/sendMail`, {
    method: 'POST',
    headers: { authorization: `Bearer ${result.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      message: { subject: 'from msal-node', toRecipients: [{ emailAddress: { address: 'ap@fabrikam.example' } }] },
    }),
  });
  assert.equal(response.status, 202);
  const stored = await (await fetch(`${url}/_emulator/messages`)).json();
  assert.equal(stored.messages.length, 1);
  assert.equal(stored.messages[0].message.subject, 'from msal-node');
});

test('msal-node surfaces the AADSTS code of a wrong secret', async () => {
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: banner.client_id,
      authority: `${url}/${banner.tenant_id}`,
      clientSecret: '5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c',
      knownAuthorities: [new URL(url).host],
    },
  });
  await assert.rejects(app.acquireTokenByClientCredential({ scopes: [scope] }), (e) => {
    assert.match(String(e.errorMessage ?? e.message), /AADSTS7000215/);
    return true;
  });
});

test('@azure/identity gets a token from the emulator', async () => {
  const credential = new ClientSecretCredential(banner.tenant_id, banner.client_id, banner.client_secret, {
    authorityHost: url,
    disableInstanceDiscovery: true,
  });
  const token = await credential.getToken(scope);
  assert.equal(claims(token.token).appid, banner.client_id);
  assert.ok(token.expiresOnTimestamp > Date.now());
});
