// The outbox's types: open, enqueue and enqueueMime resolve to ids, status to
// a record or null, runUntilEmpty to a summary, run takes a signal.
// Checked by `tsc --noEmit`, never run.
import { Mailer, Outbox, type QueuedMail, type QueueStats, type RunSummary } from 'graphmailer'
import { Readable } from 'node:stream'

declare const mailer: Mailer
const outbox: Outbox = await Outbox.open('sqlite:/var/spool/graphmailer/outbox.db')
const id: string = await outbox.enqueue({ from: 'erp@contoso.com', to: 'a@example.com', subject: 'Invoice', text: '...' })
const fromMime: string = await outbox.enqueueMime(Readable.from(['From: erp@contoso.com\r\n']), { sender: 'erp@contoso.com' })
const mail: QueuedMail | null = await outbox.status(id)
if (mail !== null) {
  const state: 'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'uncertain' = mail.state
  const requestId: string | undefined = mail.requestId
  void [state, requestId, new Date(mail.created)]
}
const summary: RunSummary = await outbox.runUntilEmpty(mailer)
const stats: QueueStats = await outbox.stats()
const deferred: number = stats.byState.deferred
const oldest: number | undefined = stats.oldestUnsentAge
const retried: number = await outbox.retryAllDeferred()
void [deferred, oldest, retried]
const stop = new AbortController()
const running: Promise<void> = outbox.run(mailer, { signal: stop.signal })
stop.abort()
await running
void [fromMime, summary.sent]
