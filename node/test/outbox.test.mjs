// The outbox: mail queued durably in a SQLite file, then delivered through
// the real emulator; each mail arrives once and its record says so; bad
// input is refused before anything is stored; run() stops on its signal.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'

import { Mailer, Outbox, isGraphMailerError } from '../index.mjs'
import { Emulator, ALLOWED } from './emulator.mjs'

const MIME = 'From: ERP <erp@contoso.test>\r\nTo: Alice <alice@example.com>\r\nSubject: Queued MIME\r\n\r\nSent from the outbox.\r\n'

let emu
let mailer
let dir
let count = 0
before(async () => {
  emu = await Emulator.start()
  mailer = new Mailer(emu.options({ maxAttempts: 1 }))
  dir = mkdtempSync(join(tmpdir(), 'graphmailer-node-outbox-'))
})
after(async () => {
  await emu?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  await emu.reset()
})

/** A fresh queue file for each test. */
function queueUrl() {
  count += 1
  return `sqlite:${join(dir, `outbox-${count}.db`)}`
}

const invoice = (subject = 'Invoice 4711') => ({ from: ALLOWED, to: 'accounts@example.com', subject, text: 'Please pay.' })

/** How many times the emulator got each internetMessageId. */
async function sentIds() {
  const counts = new Map()
  for (const m of await emu.messages()) {
    const id = m.message.internetMessageId
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

async function assertSentOnce(outbox, id) {
  const mail = await outbox.status(id)
  assert.ok(mail, `no record for ${id}`)
  assert.equal(mail.state, 'sent')
  assert.ok(mail.requestId)
  assert.ok(mail.sentAt >= mail.created)
  const stored = (await emu.messages()).filter((m) => m.message.internetMessageId === mail.internetMessageId)
  assert.equal(stored.length, 1)
  assert.equal(stored[0].request_id, mail.requestId)
  assert.equal(stored[0].mailbox, ALLOWED)
}

test('a message and a MIME message are each delivered once, and their records say so', async () => {
  const outbox = await Outbox.open(queueUrl())
  const first = await outbox.enqueue(invoice())
  const second = await outbox.enqueueMime(Buffer.from(MIME))
  const third = await outbox.enqueueMime(Readable.from([MIME]), { sender: ALLOWED })
  assert.equal(new Set([first, second, third]).size, 3)

  const queued = await outbox.status(first)
  assert.equal(queued.id, first)
  assert.equal(queued.state, 'queued')
  assert.equal(queued.sender, ALLOWED)
  assert.equal(queued.recipients, 1)
  assert.equal(queued.attempts, 0)
  assert.equal(queued.requestId, undefined)
  assert.deepEqual(await emu.messages(), [])

  const summary = await outbox.runUntilEmpty(mailer)
  assert.deepEqual(summary, { sent: 3, deferred: 0, failed: 0, uncertain: 0, reconciled: 0, resent: 0 })
  for (const id of [first, second, third]) await assertSentOnce(outbox, id)
  assert.deepEqual([...(await sentIds()).values()], [1, 1, 1])
  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 0)
  assert.equal((await emu.messages()).length, 3)
})

test('an invalid message is refused before it is stored', async () => {
  const outbox = await Outbox.open(queueUrl())
  const noRecipient = await outbox.enqueue({ from: ALLOWED, subject: 'To nobody', text: '...' }).catch((e) => e)
  assert.ok(isGraphMailerError(noRecipient))
  assert.equal(noRecipient.code, 'ERR_INVALID_MESSAGE')
  assert.ok(noRecipient.field)
  const badTo = await outbox.enqueue({ from: ALLOWED, to: 'not an address', text: '...' }).catch((e) => e)
  assert.equal(badTo.code, 'ERR_INVALID_MESSAGE')
  assert.match(badTo.field, /^to/)
  const mimeWithoutTo = await outbox.enqueueMime('From: erp@contoso.test\r\nSubject: x\r\n\r\nbody\r\n').catch((e) => e)
  assert.equal(mimeWithoutTo.code, 'ERR_INVALID_MESSAGE')
  assert.equal(mimeWithoutTo.field, 'mime.To')
  const wrongType = await outbox.enqueueMime(42).catch((e) => e)
  assert.ok(wrongType instanceof TypeError)
  assert.equal(wrongType.code, 'ERR_INVALID_ARG_TYPE')

  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 0)
  assert.equal((await emu.counters()).send_requests, 0)
})

test('a mailer given refuses now what it could never send, and nothing refused is stored', async () => {
  const outbox = await Outbox.open(queueUrl())
  const alertsOnly = new Mailer(emu.options({ allowedSenders: ['alerts@contoso.test'] }))
  const notAllowed = await outbox.enqueue(invoice(), { mailer: alertsOnly }).catch((e) => e)
  assert.ok(isGraphMailerError(notAllowed), String(notAllowed))
  assert.equal(notAllowed.code, 'ERR_SENDER_NOT_ALLOWED')
  assert.match(notAllowed.message, new RegExp(ALLOWED))
  const mimeNotAllowed = await outbox.enqueueMime(MIME, { mailer: alertsOnly }).catch((e) => e)
  assert.equal(mimeNotAllowed.code, 'ERR_SENDER_NOT_ALLOWED')
  const big = { ...invoice('The ledger'), attachments: [{ name: 'ledger.bin', content: Buffer.alloc(4 << 20) }] }
  const tooLarge = await outbox.enqueue(big, { mailer }).catch((e) => e)
  assert.equal(tooLarge.code, 'ERR_INVALID_MESSAGE')
  assert.equal(tooLarge.graphCode, 'RequestEntityTooLarge')
  assert.match(tooLarge.hint, /large/)
  const notAMailer = await outbox.enqueue(invoice(), { mailer: outbox }).catch((e) => e)
  assert.ok(notAMailer instanceof TypeError)
  assert.equal(notAMailer.code, 'ERR_INVALID_ARG_TYPE')
  assert.match(notAMailer.message, /options\.mailer.*instance of Mailer/)
  const unknown = await outbox.enqueueMime(MIME, { mailer, signal: AbortSignal.timeout(1000) }).catch((e) => e)
  assert.equal(unknown.code, 'ERR_INVALID_ARG_VALUE')

  // What the mailer can send is queued; the big one, queued without a
  // mailer, can only fail in the queue.
  const kept = [
    await outbox.enqueue(invoice(), { mailer }),
    await outbox.enqueueMime(MIME, { mailer, sender: ALLOWED }),
    await outbox.enqueue(big),
  ]
  const summary = await outbox.runUntilEmpty(mailer)
  assert.equal(summary.sent, 2)
  assert.equal(summary.failed, 1)
  const states = await Promise.all(kept.map(async (id) => (await outbox.status(id)).state))
  assert.deepEqual(states, ['sent', 'sent', 'failed'])
  assert.equal((await emu.messages()).length, 2)
})

test('an operator lists, retries, releases and deletes', async () => {
  const outbox = await Outbox.open(queueUrl())
  const ids = new Set([await outbox.enqueue(invoice('one')), await outbox.enqueue(invoice('two'))])
  await emu.faults({ send: [{ status: 400, code: 'ErrorInvalidRecipients' }] })
  assert.equal((await outbox.runUntilEmpty(mailer)).failed, 1)
  const [failed, ...more] = await outbox.list({ state: 'failed' })
  assert.equal(more.length, 0)
  assert.match(failed.lastError, /ErrorInvalidRecipients/)
  const refused = failed.id
  const [kept] = [...ids].filter((id) => id !== refused)
  const doomed = await outbox.enqueue(invoice('doomed'))
  assert.deepEqual(new Set((await outbox.list()).map((m) => m.id)), new Set([refused, kept, doomed]))
  assert.deepEqual((await outbox.list({ state: 'queued' })).map((m) => m.id), [doomed])
  assert.equal((await outbox.list({ limit: 1 })).length, 1)
  // A deleted mail is gone, and never sent.
  await outbox.delete(doomed)
  assert.equal(await outbox.status(doomed), null)
  const gone = await outbox.delete(doomed).catch((e) => e)
  assert.equal(gone.field, 'id')
  assert.match(gone.message, /no mail/)

  // Sent mail cannot be retried; a failed one can, and goes out once.
  const wrongState = await outbox.retry(kept).catch((e) => e)
  assert.ok(isGraphMailerError(wrongState))
  assert.equal(wrongState.field, 'id')
  await outbox.retry(refused)
  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 1)
  await assertSentOnce(outbox, refused)

  // The answer is lost, and this app may not read Sent Items to check: the
  // mail waits for an operator's release.
  await emu.faults({ send: [{ drop_after_body: true }] })
  const lost = await outbox.enqueue(invoice('lost'))
  assert.equal((await outbox.runUntilEmpty(mailer)).uncertain, 1)
  assert.equal((await outbox.retry(lost).catch((e) => e)).field, 'id')
  await outbox.release(lost)
  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 1)
  await assertSentOnce(outbox, lost)

  const badState = await outbox.list({ state: 'lost' }).catch((e) => e)
  assert.equal(badState.field, 'state')
  const badLimit = await outbox.list({ limit: -1 }).catch((e) => e)
  assert.ok(badLimit instanceof RangeError || badLimit instanceof TypeError, String(badLimit))
  const unknownOption = await outbox.list({ sate: 'sent' }).catch((e) => e)
  assert.equal(unknownOption.code, 'ERR_INVALID_ARG_VALUE')
  assert.deepEqual(new Set((await outbox.list({ state: 'sent' })).map((m) => m.id)), new Set([refused, kept, lost]))
})

test('stats count each state, and every deferred mail can be made due at once', async () => {
  const outbox = await Outbox.open(queueUrl())
  const states = ['queued', 'sending', 'sent', 'deferred', 'failed', 'uncertain']
  const empty = await outbox.stats()
  assert.deepEqual(empty.byState, Object.fromEntries(states.map((s) => [s, 0])))
  assert.equal(empty.oldestUnsentAge, undefined)
  assert.equal(await outbox.retryAllDeferred(), 0)

  await outbox.enqueue(invoice('sent'))
  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 1)
  // Graph unavailable: both mails are deferred, their back-off ahead of them.
  await emu.faults({ send: [{ status: 503 }, { status: 503 }] })
  const later = [await outbox.enqueue(invoice('later one')), await outbox.enqueue(invoice('later two'))]
  assert.equal((await outbox.runUntilEmpty(mailer)).deferred, 2)
  const stats = await outbox.stats()
  assert.deepEqual([stats.byState.sent, stats.byState.deferred, stats.byState.queued], [1, 2, 0])
  assert.ok(stats.oldestUnsentAge >= 0 && stats.oldestUnsentAge < 5 * 60 * 1000, String(stats.oldestUnsentAge))
  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 0) // not due yet

  assert.equal(await outbox.retryAllDeferred(), 2)
  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 2)
  for (const id of later) await assertSentOnce(outbox, id)
  assert.deepEqual([...(await sentIds()).values()], [1, 1, 1])
  const done = await outbox.stats()
  assert.equal(done.byState.sent, 3)
  assert.equal(done.oldestUnsentAge, undefined)
})

test('a bad URL is a config error naming outbox', async () => {
  for (const url of ['mysql://db/outbox', 'sqlite:', join(dir, 'no-scheme.db')]) {
    const error = await Outbox.open(url).catch((e) => e)
    assert.ok(isGraphMailerError(error), `${url}: ${error}`)
    assert.equal(error.code, 'ERR_CONFIG')
    assert.equal(error.field, 'outbox')
  }
  const notAString = await Outbox.open(42).catch((e) => e)
  assert.ok(notAString instanceof TypeError)
})

test('an unknown id has no status; a malformed one names the id', async () => {
  const outbox = await Outbox.open(queueUrl())
  assert.equal(await outbox.status('0123456789abcdef'), null)
  const error = await outbox.status('not an id!').catch((e) => e)
  assert.ok(isGraphMailerError(error))
  assert.equal(error.field, 'id')
})

test('run() delivers as mail arrives and resolves once its signal aborts', async () => {
  const outbox = await Outbox.open(queueUrl())
  const stop = new AbortController()
  let settled = false
  const running = outbox.run(mailer, { signal: stop.signal }).finally(() => {
    settled = true
  })
  const id = await outbox.enqueue(invoice())
  let mail
  while ((mail = await outbox.status(id)).state !== 'sent') {
    assert.equal(settled, false, 'run() ended before it was stopped')
    await new Promise((r) => setTimeout(r, 20))
  }
  stop.abort()
  assert.equal(await running, undefined)
  await assertSentOnce(outbox, id)
  assert.equal((await emu.messages()).length, 1)

  const wrongOptions = await Promise.resolve()
    .then(() => outbox.run(mailer, { signal: 'soon' }))
    .catch((e) => e)
  assert.ok(wrongOptions instanceof TypeError)
})
