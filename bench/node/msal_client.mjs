// Microsoft's own Node client, as the project's client checks install it:
// msal-node for the token (its cache, asked before every send, as its
// documentation shows) and Node's fetch for sendMail.
//   node msal_client.mjs cold|serial|parallel [COUNT]
// NODE_EXTRA_CA_CERTS must name the fake's CA (run.sh sets it).
import { createRequire } from 'node:module'

import { BODY, MAILBOXES, SCOPE, drive, env } from './common.mjs'

const require = createRequire(new URL('../../tests/clients/package.json', import.meta.url))
const { ConfidentialClientApplication } = require('@azure/msal-node')

const authority = env('AZURE_AUTHORITY_HOST')
const app = new ConfidentialClientApplication({
  auth: {
    clientId: env('AZURE_CLIENT_ID'),
    clientSecret: env('AZURE_CLIENT_SECRET'),
    authority: `${authority}/${env('AZURE_TENANT_ID')}`,
    knownAuthorities: [new URL(authority).host],
  },
})
const graph = env('GRAPHMAILER_GRAPH_ENDPOINT')

await drive(async (i) => {
  const { accessToken } = await app.acquireTokenByClientCredential({ scopes: [SCOPE] })
  const response = await fetch(`${graph}/v1.0/users/${MAILBOXES[i % MAILBOXES.length]}/sendMail`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
    body: BODY,
  })
  await response.arrayBuffer()
  if (response.status !== 202) throw new Error(`sendMail answered ${response.status}`)
})
