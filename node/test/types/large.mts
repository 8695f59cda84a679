// The types of large messages, raw MIME and cancellation, as the README
// uses them. Checked by `tsc --noEmit`, never run.
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import {
  Mailer,
  limits,
  type MimeInput,
  type SendAbortError,
  type SendMimeOptions,
  type SendOptions,
  type SendReceipt,
} from 'graphmailer'

const mailer = new Mailer({
  tenantId: 'contoso.onmicrosoft.com',
  clientId: '3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14',
  clientSecret: '...',
  largeMessages: true,
  defaultSender: 'cron@contoso.com',
})
const large: boolean = mailer.largeMessages
const fallback: string | null = mailer.defaultSender

const controller = new AbortController()
const ledger: SendOptions = {
  from: 'billing@contoso.com',
  to: 'ap@fabrikam.example',
  subject: 'Ledger 2024',
  attachments: ['./ledger-2024.zip'],
  signal: controller.signal,
}
const sent: SendReceipt = await mailer.send(ledger)
try {
  await mailer.send({ ...ledger, signal: AbortSignal.timeout(120_000) })
} catch (e) {
  const aborted = e as SendAbortError
  if (aborted.name === 'AbortError' && aborted.mayHaveBeenSent) {
    const check: string = `${aborted.requestId ?? ''}: ${aborted.hint ?? ''}`
    void check
  }
}

const options: SendMimeOptions = { sender: 'billing@contoso.com', signal: controller.signal }
const inputs: MimeInput[] = [
  'From: shop@contoso.com\nTo: customer@example.com\n\nThanks\n',
  Buffer.from('...'),
  new Uint8Array(3),
  createReadStream('./invoice.eml'),
  Readable.from(['To: a@example.com\n\n', Buffer.from('x')]),
]
for (const input of inputs) await mailer.sendMime(input, options)
const fromFile: SendReceipt = await mailer.sendMimeFile('./invoice.eml')
await mailer.sendMime('To: a@example.com\n\nx')
const mimeLimit: number = limits.maxMimeBytes + limits.maxRequestBytes

// @ts-expect-error: largeMessages is a boolean
void new Mailer({ tenantId: 't', clientId: 'c', largeMessages: 'yes' })
// @ts-expect-error: a signal is an AbortSignal
void mailer.send({ from: 'a@contoso.com', signal: 'stop' })
// @ts-expect-error: sendMime takes bytes, text or a stream, not a number
void mailer.sendMime(42)
// @ts-expect-error: the options of sendMime are sender and signal
void mailer.sendMime('x', { from: 'a@contoso.com' })
// @ts-expect-error: mayHaveBeenSent is a boolean
const notText: string = ({} as SendAbortError).mayHaveBeenSent
// @ts-expect-error: limits are read-only
limits.maxMimeBytes = 1

export { large, fallback, sent, fromFile, mimeLimit, notText }
