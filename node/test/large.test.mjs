// Messages over Graph's 4 MB request: with `largeMessages` and an app that
// holds Mail.ReadWrite they go through a draft and upload sessions and arrive
// byte for byte; without either they are refused with a hint naming
// Mail.ReadWrite; a failed chunk is survived; an AbortSignal stops a send
// and leaves no draft behind.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { getEventListeners } from 'node:events'
import { inspect } from 'node:util'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Mailer, Outbox, isGraphMailerError, limits } from '../index.mjs'
import { Emulator, ALLOWED, SHARED, BILLING_CLIENT, BILLING_SECRET, SECRET } from './emulator.mjs'

const MB = 1024 * 1024

let emu
let dir
before(async () => {
  emu = await Emulator.start()
  dir = mkdtempSync(join(tmpdir(), 'graphmailer-node-large-'))
})
after(async () => {
  await emu?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  await emu.reset()
})

/** The Billing app (Mail.Send and Mail.ReadWrite). */
function billing(overrides = {}) {
  return new Mailer(emu.options({ clientId: BILLING_CLIENT, clientSecret: BILLING_SECRET, ...overrides }))
}

/** A temp file of `size` random bytes; returns its path and the bytes. */
function file(name, size) {
  const bytes = randomBytes(size)
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return { path, bytes }
}

function invoice(attachments, extra = {}) {
  return { from: SHARED, to: 'ap@fabrikam.example', subject: 'Invoice 4711', text: 'attached', attachments, ...extra }
}

function attachmentBytes(stored, name) {
  const found = stored.message.attachments.find((a) => a.name === name)
  assert.ok(found, `no attachment ${name} in the stored message`)
  return Buffer.from(found.contentBytes, 'base64')
}

test('a 20 MB file goes through a draft and upload sessions and arrives byte for byte', async () => {
  const big = file('ledger-2024.bin', 20 * MB)
  const mailer = billing({ largeMessages: true })
  assert.equal(mailer.largeMessages, true)
  assert.equal(mailer.toJSON().largeMessages, true)
  const small = Buffer.from('%PDF-1.4 the invoice itself')
  const receipt = await mailer.send(invoice([big.path, { name: 'invoice-4711.pdf', content: small }]))
  assert.equal(typeof receipt.requestId, 'string')
  assert.equal(receipt.attempts, 1)

  const [stored, ...others] = await emu.messages()
  assert.equal(others.length, 0)
  assert.equal(stored.sent_via, 'draft')
  assert.equal(stored.mailbox, SHARED)
  assert.equal(stored.message.subject, 'Invoice 4711')
  assert.ok(attachmentBytes(stored, 'ledger-2024.bin').equals(big.bytes), 'the 20 MB attachment changed on the way')
  assert.ok(attachmentBytes(stored, 'invoice-4711.pdf').equals(small))
  const counters = await emu.counters()
  assert.equal(counters.drafts_created, 1)
  assert.equal(counters.upload_sessions_created, 1, 'only the file of 3 MB or more takes an upload session')
  assert.equal(counters.upload_chunks, Math.ceil((20 * MB) / limits.uploadChunkBytes))
  assert.equal(counters.upload_bytes, 20 * MB)
  assert.deepEqual(await emu.drafts(), [])
})

test('a MIME message over one request goes through a draft; with largeMessages off it is refused, a stream read only just past the limit', async () => {
  const pdf = randomBytes(5 * MB)
  const lines = pdf.toString('base64').match(/.{1,76}/g).join('\r\n')
  const mime = Buffer.from(
    `From: ${SHARED}\r\nTo: archive@example.com\r\nSubject: Scan\r\nMessage-ID: <scan.5mb@contoso.test>\r\n` +
      'In-Reply-To: <request.42@example.com>\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\n5 MB attached.\r\n' +
      '--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="scan.pdf"\r\n' +
      `Content-Transfer-Encoding: base64\r\n\r\n${lines}\r\n--b--\r\n`,
  )
  const mailer = billing({ largeMessages: true })
  assert.equal(mailer.maxMimeBytes, limits.maxLargeMimeBytes)
  const receipt = await mailer.sendMime(mime)
  const [stored] = await emu.messages()
  assert.deepEqual([stored.sent_via, stored.request_id], ['draft', receipt.requestId])
  assert.equal(stored.message.internetMessageId, '<scan.5mb@contoso.test>')
  assert.ok(attachmentBytes(stored, 'scan.pdf').equals(pdf), 'the PDF changed on the way')
  const chunks = (from) =>
    (async function* () {
      for (let at = 0; at < mime.length; at += 64 * 1024) {
        from.produced = at + 64 * 1024
        yield mime.subarray(at, at + 64 * 1024)
      }
    })()
  await mailer.sendMime(chunks({}))
  // The outbox queues it, and its worker sends it the same way.
  const outbox = await Outbox.open(`sqlite:${join(dir, 'large-mime.db')}`)
  await outbox.enqueueMime(chunks({}), { mailer })
  assert.equal((await outbox.runUntilEmpty(mailer)).sent, 1)
  const sent = await emu.messages()
  assert.deepEqual(sent.map((m) => m.sent_via), ['draft', 'draft', 'draft'])
  assert.ok(sent.every((m) => attachmentBytes(m, 'scan.pdf').equals(pdf)))
  // The draft is made of the message itself, less the PDF: a header Graph's
  // JSON form cannot carry arrives.
  for (const m of sent) {
    const inReplyTo = m.message.internetMessageHeaders.find((h) => h.name === 'In-Reply-To')
    assert.equal(inReplyTo?.value, '<request.42@example.com>')
  }
  assert.deepEqual(await emu.drafts(), [])

  const off = billing()
  assert.equal(off.maxMimeBytes, limits.maxMimeBytes)
  const tooLarge = { code: 'ERR_INVALID_MESSAGE', field: 'mime', graphCode: 'RequestEntityTooLarge' }
  await assert.rejects(off.sendMime(mime), tooLarge)
  const read = {}
  await assert.rejects(off.sendMime(chunks(read)), tooLarge)
  // A chunk or two read ahead by the stream, no more.
  assert.ok(read.produced <= limits.maxMimeBytes + 2 * 64 * 1024, `read ${read.produced} bytes`)
  // A string is measured, not copied whole. One just over the limit, whose
  // three-byte characters would be cut two bytes short of what a copy of
  // the limit and one byte more needs, is still refused.
  let head = `From: ${SHARED}\r\nTo: archive@example.com\r\nSubject: Euros\r\n\r\n`
  while ((limits.maxMimeBytes + 1 - head.length) % 3 !== 2) head = `X-Pad: x\r\n${head}`
  const over = head + '€'.repeat(Math.floor((limits.maxMimeBytes - head.length) / 3) + 1)
  assert.ok(Buffer.byteLength(over) > limits.maxMimeBytes && Buffer.byteLength(over) <= limits.maxMimeBytes + 3)
  await assert.rejects(off.sendMime(over), tooLarge)
  const refused = await outbox.enqueueMime(mime, { mailer: off }).catch((e) => e)
  assert.equal(refused.graphCode, 'RequestEntityTooLarge')
  assert.match(refused.hint, /largeMessages|large_messages|LARGE_MESSAGES/)
  assert.equal(off.tokenRequests, 0)
  await off.sendMime(head + '€'.repeat(1000))
  assert.equal((await emu.messages()).length, 4)
})

test('onProgress rises chunk by chunk to the total, and a throwing callback does not stop the send', async () => {
  const scan = file('scan-6mb.bin', 6 * MB)
  const mailer = billing({ largeMessages: true })
  const seen = []
  await mailer.send(invoice([scan.path], { onProgress: (p) => seen.push(p) }))
  assert.ok(seen.length >= 3, JSON.stringify(seen))
  const sent = seen.map((p) => p.sent)
  assert.deepEqual(sent, [...sent].sort((a, b) => a - b))
  assert.ok(sent[0] < 6 * MB)
  assert.deepEqual(seen.at(-1), {
    index: 0,
    name: 'scan-6mb.bin',
    sent: 6 * MB,
    total: 6 * MB,
    messageSent: 6 * MB,
    messageTotal: 6 * MB,
    finished: true,
  })
  assert.equal(seen.filter((p) => p.finished).length, 1)

  // A message sent in one request reports nothing.
  const small = []
  await mailer.send(invoice([], { onProgress: (p) => small.push(p) }))
  assert.deepEqual(small, [])

  const warnings = []
  const onWarning = (w) => warnings.push(w.message)
  process.on('warning', onWarning)
  try {
    await mailer.send(
      invoice([scan.path], {
        onProgress: () => {
          throw new Error('callback failed')
        },
      }),
    )
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', onWarning)
  }
  assert.equal((await emu.messages()).length, 3)
  assert.ok(warnings.some((m) => m.includes('onProgress threw')), JSON.stringify(warnings))

  await assert.rejects(mailer.send(invoice([], { onProgress: 'log' })), {
    name: 'TypeError',
    message: /"message.onProgress" argument must be of type function/,
  })
})

test('without largeMessages the same message is refused before any request, with a hint naming Mail.ReadWrite', async () => {
  const big = file('ledger.bin', 20 * MB)
  const mailer = billing()
  assert.equal(mailer.largeMessages, false)
  const error = await mailer.send(invoice([big.path])).then(
    () => assert.fail('a 20 MB message should be refused without largeMessages'),
    (e) => e,
  )
  assert.ok(isGraphMailerError(error))
  assert.equal(error.code, 'ERR_INVALID_MESSAGE')
  assert.equal(error.field, 'attachments')
  assert.equal(error.graphCode, 'RequestEntityTooLarge')
  assert.match(error.hint, /Mail\.ReadWrite/)
  assert.match(error.message, /Mail\.ReadWrite/, 'the message ends with the hint')
  for (const shown of [inspect(error, { showHidden: true, depth: Infinity }), error.stack, inspect(mailer)]) {
    assert.ok(!shown.includes(BILLING_SECRET), 'the secret leaked')
  }
  const counters = await emu.counters()
  assert.deepEqual([counters.token_requests, counters.send_requests, counters.drafts_created], [0, 0, 0])
})

test('an app without Mail.ReadWrite is refused with a hint naming it, and leaves no draft', async () => {
  const big = file('report.bin', 5 * MB)
  const erp = new Mailer(emu.options({ largeMessages: true }))
  const error = await erp.send({ ...invoice([big.path]), from: ALLOWED }).then(
    () => assert.fail('the ERP app lacks Mail.ReadWrite'),
    (e) => e,
  )
  assert.equal(error.code, 'ERR_ACCESS_DENIED')
  assert.match(error.hint, /Mail\.ReadWrite/)
  assert.ok(error.requestId)
  assert.ok(!error.message.includes(SECRET) && !error.stack.includes(SECRET))
  assert.deepEqual(await emu.drafts(), [])
  assert.deepEqual(await emu.messages(), [])
})

test('a failed upload chunk is sent again and the file arrives intact', async () => {
  const big = file('scan.tif', 8 * MB)
  await emu.faults({ upload: [{ nth: 2, status: 503, retry_after_secs: 0 }] })
  await billing({ largeMessages: true }).send(invoice([big.path]))
  const [stored] = await emu.messages()
  assert.ok(attachmentBytes(stored, 'scan.tif').equals(big.bytes))
  const counters = await emu.counters()
  const chunks = Math.ceil((8 * MB) / limits.uploadChunkBytes)
  assert.equal(counters.upload_chunks, chunks)
  assert.equal(counters.upload_requests, chunks + 1, 'the refused chunk was sent once more')
  assert.equal(counters.faults_injected, 1)
  assert.deepEqual(await emu.drafts(), [])
})

test('aborting a send mid-upload rejects with an AbortError and deletes the draft', async () => {
  const big = file('archive.zip', 12 * MB)
  await emu.faults({ upload_delay_ms: 400 })
  const controller = new AbortController()
  const sending = billing({ largeMessages: true }).send(invoice([big.path], { signal: controller.signal }))
  const outcome = sending.then(
    () => 'resolved',
    (e) => e,
  )
  // Aborted mid-upload (an abort while Graph answers the draft's creation
  // is core's test).
  const drafts = await emu.waitForDrafts((all) => all.some((d) => d.upload_sessions.length))
  assert.equal(drafts.length, 1, `no draft appeared; the send ended with ${await Promise.race([outcome, 'nothing yet'])}`)
  assert.ok(drafts[0].upload_sessions.length, 'no upload started')
  const reason = new Error('the user closed the dialog')
  controller.abort(reason)
  const error = await outcome
  assert.ok(error instanceof Error, `the send ${error} instead of rejecting`)
  assert.equal(error.name, 'AbortError')
  assert.equal(error.code, 'ABORT_ERR')
  assert.equal(error.cause, reason)
  assert.equal(error.mayHaveBeenSent, false, 'an upload sends no mail')
  assert.equal(error.message, 'The operation was aborted')
  assert.equal(isGraphMailerError(error), false)
  assert.deepEqual(await emu.waitForDrafts(0), [], 'the aborted send left its draft')
  assert.deepEqual(await emu.messages(), [])
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})

test('an already aborted signal stops the send before any request', async () => {
  const mailer = billing()
  const signal = AbortSignal.abort()
  await assert.rejects(mailer.send({ ...invoice([]), signal }), (e) => {
    assert.equal(e.name, 'AbortError')
    assert.equal(e.cause, signal.reason)
    assert.equal(e.mayHaveBeenSent, false)
    assert.equal(e.requestId, undefined)
    return true
  })
  const counters = await emu.counters()
  assert.deepEqual([counters.token_requests, counters.send_requests], [0, 0])
})

test('an abort while Graph answers the send says the mail may have been sent', async () => {
  // Graph holds its answer: the request is with Microsoft meanwhile, and
  // sendMail has no idempotency key, so sending again could send it twice.
  await emu.faults({ delay_ms: 30_000 })
  const controller = new AbortController()
  const outcome = billing()
    .send({ ...invoice([]), signal: controller.signal })
    .then(
      () => 'resolved',
      (e) => e,
    )
  await emu.waitForCounter('send_requests', 1)
  controller.abort()
  const error = await outcome
  assert.ok(error instanceof Error, `the send ${error} instead of rejecting`)
  assert.equal(error.name, 'AbortError')
  assert.equal(error.code, 'ABORT_ERR')
  assert.equal(error.mayHaveBeenSent, true)
  assert.match(error.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  assert.match(error.hint, /may have been sent\. Look in billing@contoso\.test's Sent Items/)
  assert.ok(error.message.startsWith('The operation was aborted: the send was cancelled after'), error.message)
  assert.ok(error.message.endsWith(error.hint), error.message)
  assert.equal(isGraphMailerError(error), false)
})

test('a signal that never aborts changes nothing, and each send removes its listener', async () => {
  const controller = new AbortController()
  const mailer = billing()
  const receipts = await Promise.all(
    [1, 2, 3].map((n) => mailer.send({ ...invoice([]), subject: `n${n}`, signal: controller.signal })),
  )
  assert.equal(receipts.length, 3)
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  // A failed send removes it too.
  await assert.rejects(mailer.send({ ...invoice([]), from: 'ceo@contoso.test', signal: controller.signal }), {
    code: 'ERR_ACCESS_DENIED',
  })
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  // Aborting after the mail was accepted changes nothing.
  controller.abort()
  assert.equal((await emu.messages()).length, 3)
})

test('a signal of the wrong type is a TypeError naming it', async () => {
  await assert.rejects(billing().send({ ...invoice([]), signal: 'stop' }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'The "message.signal" argument must be an instance of AbortSignal. Received type string',
  })
  await assert.rejects(billing().send({ ...invoice([]), signal: {} }), { code: 'ERR_INVALID_ARG_TYPE' })
})

test('largeMessages and defaultSender from options, the environment and a file', () => {
  const m = billing({ largeMessages: true, defaultSender: ' cron@contoso.test ' })
  assert.equal(m.defaultSender, 'cron@contoso.test')
  assert.equal(m.toJSON().defaultSender, 'cron@contoso.test')
  assert.equal(billing().defaultSender, null)
  assert.throws(() => billing({ largeMessages: 'yes' }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'The "options.largeMessages" argument must be of type boolean. Received type string',
  })
  assert.throws(() => billing({ defaultSender: 'not a mailbox' }), { code: 'ERR_CONFIG', field: 'GRAPHMAILER_DEFAULT_SENDER' })

  const env = {
    AZURE_TENANT_ID: emu.banner.tenant_id,
    AZURE_CLIENT_ID: BILLING_CLIENT,
    AZURE_CLIENT_SECRET: BILLING_SECRET,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
    GRAPHMAILER_LARGE_MESSAGES: 'true',
    GRAPHMAILER_DEFAULT_SENDER: 'cron@contoso.test',
  }
  const fromEnv = Mailer.fromEnv(env)
  assert.deepEqual([fromEnv.largeMessages, fromEnv.defaultSender], [true, 'cron@contoso.test'])
  assert.throws(() => Mailer.fromEnv({ ...env, GRAPHMAILER_LARGE_MESSAGES: 'maybe' }), {
    code: 'ERR_CONFIG',
    field: 'GRAPHMAILER_LARGE_MESSAGES',
  })

  const toml = join(dir, 'large.toml')
  writeFileSync(
    toml,
    [
      `tenant_id = "${emu.banner.tenant_id}"`,
      `client_id = "${BILLING_CLIENT}"`,
      `client_secret = "${BILLING_SECRET}"`,
      `authority_host = "${emu.url}"`,
      `graph_endpoint = "${emu.url}"`,
      'large_messages = true',
    ].join('\n'),
    // It holds the client secret, which is only read from a private file.
    { mode: 0o600 },
  )
  assert.equal(Mailer.fromFile(toml).largeMessages, true)
})
