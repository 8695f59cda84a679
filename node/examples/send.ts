// Sends an invoice with graphmailer, configured from the environment
// (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, ...), and explains
// a failure. Checked by `tsc --noEmit` in the tests, and run against the
// emulator there.
//
//   GRAPHMAILER_FROM=erp@contoso.com GRAPHMAILER_TO=accounts@example.com node send.js

import { Mailer, isGraphMailerError, type SendOptions, type SendReceipt, type ErrorCode } from 'graphmailer'

const from = process.env.GRAPHMAILER_FROM ?? 'erp@contoso.com'
const to = process.env.GRAPHMAILER_TO ?? 'accounts@example.com'

// One mailer per application: every send shares its token and connections.
const mailer = Mailer.fromEnv()

const invoice: SendOptions = {
  from,
  to: [{ name: 'Accounts', address: to }],
  bcc: 'archive@contoso.com',
  subject: 'Invoice 4711',
  html: '<p>Please find invoice 4711 attached.</p><img src="cid:logo">',
  importance: 'high',
  headers: { 'x-invoice-id': '4711' },
  attachments: [
    { name: 'invoice-4711.pdf', content: Buffer.from('%PDF-1.4 ...') },
    { name: 'logo.png', content: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), inline: true, contentId: 'logo' },
  ],
  saveToSentItems: true,
}

// What to tell the operator for the errors worth branching on.
const advice: Partial<Record<ErrorCode, string>> = {
  ERR_THROTTLED: 'Graph is throttling this mailbox: queue the mail and try later',
  ERR_AMBIGUOUS_DELIVERY: 'the mail may have gone out: check Sent Items before sending again',
  ERR_ACCESS_DENIED: 'the tenant does not let this app send as this mailbox',
}

async function main(): Promise<number> {
  try {
    const receipt: SendReceipt = await mailer.send(invoice)
    console.log(`accepted after ${receipt.attempts} attempt(s), request id ${receipt.requestId ?? 'unknown'}`)
    return 0
  } catch (error) {
    if (!isGraphMailerError(error)) throw error
    // `error` is a GraphMailerError here: code, graphCode, requestId, hint.
    console.error(`${error.code}: ${advice[error.code] ?? error.message}`)
    if (error.hint) console.error(`hint: ${error.hint}`)
    if (error.requestId) console.error(`request id for Microsoft support: ${error.requestId}`)
    const retryInSeconds: number | undefined = error.retryAfter === undefined ? undefined : error.retryAfter / 1000
    if (retryInSeconds !== undefined) console.error(`retry in ${retryInSeconds} s`)
    return 1
  }
}

main().then((status) => {
  process.exitCode = status
})
