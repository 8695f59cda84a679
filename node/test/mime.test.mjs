// Ready RFC 5322 messages: sendMime takes a Buffer, a Uint8Array, a string or
// a stream, sendMimeFile a path; attachments arrive with equal bytes; the
// sender comes from From unless given; core's checks (recipients, size,
// allowlist) apply before any request.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createReadStream, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'

import { Mailer, isGraphMailerError, limits } from '../index.mjs'
import { Emulator, ALLOWED, SHARED, DENIED } from './emulator.mjs'

let emu
let mailer
let dir
before(async () => {
  emu = await Emulator.start()
  mailer = new Mailer(emu.options())
  dir = mkdtempSync(join(tmpdir(), 'graphmailer-node-mime-'))
})
after(async () => {
  await emu?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  await emu.reset()
})

/** A multipart message with a text part and a PDF attachment, LF line ends as scripts write them. */
function mimeWithPdf(pdf, { from = `ERP <${ALLOWED}>`, to = 'Customer <customer@example.com>', subject = 'Invoice 4711' } = {}) {
  const encoded = pdf.toString('base64').replace(/.{76}/g, '$&\n')
  return [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Please find the invoice attached.',
    '--b1',
    'Content-Type: application/pdf; name="invoice-4711.pdf"',
    'Content-Disposition: attachment; filename="invoice-4711.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    encoded,
    '--b1--',
    '',
  ].join('\n')
}

const plain = (headers) => `${headers}\n\nHello.\n`

async function storedOne() {
  const stored = await emu.messages()
  assert.equal(stored.length, 1)
  return stored[0]
}

function pdfBytes(stored) {
  const [attachment, ...others] = stored.message.attachments
  assert.equal(others.length, 0)
  assert.equal(attachment.name, 'invoice-4711.pdf')
  assert.equal(attachment.contentType, 'application/pdf')
  return Buffer.from(attachment.contentBytes, 'base64')
}

test('a Buffer with a PDF attachment arrives with equal bytes, sent as its From address', async () => {
  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(300_000)])
  const receipt = await mailer.sendMime(Buffer.from(mimeWithPdf(pdf)))
  assert.equal(typeof receipt.requestId, 'string')
  assert.equal(receipt.attempts, 1)
  const stored = await storedOne()
  assert.equal(stored.sent_via, 'mime')
  assert.equal(stored.mailbox, ALLOWED)
  assert.equal(stored.request_id, receipt.requestId)
  assert.equal(stored.message.subject, 'Invoice 4711')
  assert.deepEqual(stored.message.toRecipients, [{ emailAddress: { name: 'Customer', address: 'customer@example.com' } }])
  assert.ok(pdfBytes(stored).equals(pdf), 'the PDF changed on the way')
})

test('a Uint8Array and a string (UTF-8) are messages too', async () => {
  await mailer.sendMime(new TextEncoder().encode(plain(`From: ${ALLOWED}\nTo: a@example.com\nSubject: bytes`)))
  assert.equal((await storedOne()).message.subject, 'bytes')
  await emu.call('DELETE', 'messages')
  await mailer.sendMime(`From: ${ALLOWED}\r\nTo: a@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nGrüße ✓\r\n`)
  const stored = await storedOne()
  assert.equal(stored.message.subject, 'Grüße')
  assert.match(stored.mime, /Grüße ✓/)
})

test('a Readable stream is read to its end and sent', async () => {
  const pdf = randomBytes(200_000)
  const path = join(dir, 'streamed.eml')
  writeFileSync(path, mimeWithPdf(pdf, { subject: 'from a stream' }))
  await mailer.sendMime(createReadStream(path, { highWaterMark: 16 * 1024 }))
  let stored = await storedOne()
  assert.equal(stored.message.subject, 'from a stream')
  assert.ok(pdfBytes(stored).equals(pdf))

  // Any async iterable of Buffers and strings, such as a generator.
  await emu.call('DELETE', 'messages')
  async function* parts() {
    yield `From: ${ALLOWED}\n`
    yield Buffer.from('To: a@example.com\nSubject: from a generator\n\n')
    yield new TextEncoder().encode('body\n')
  }
  await mailer.sendMime(parts())
  stored = await storedOne()
  assert.equal(stored.message.subject, 'from a generator')
})

test('sendMimeFile sends an .eml file', async () => {
  const pdf = randomBytes(100_000)
  const path = join(dir, 'invoice.eml')
  writeFileSync(path, mimeWithPdf(pdf, { subject: 'from a file' }))
  await mailer.sendMimeFile(path)
  const stored = await storedOne()
  assert.equal(stored.message.subject, 'from a file')
  assert.ok(pdfBytes(stored).equals(pdf))
  await assert.rejects(mailer.sendMimeFile(join(dir, 'missing.eml')), (e) => {
    assert.equal(e.code, 'ERR_INVALID_MESSAGE')
    assert.equal(e.field, 'mime')
    assert.match(e.message, /missing\.eml/)
    return true
  })
})

test('options.sender overrides From; without either the message is refused naming the sender', async () => {
  await mailer.sendMime(plain(`From: Shop <${ALLOWED}>\nTo: a@example.com\nSubject: as shared`), { sender: SHARED })
  assert.equal((await storedOne()).mailbox, SHARED)
  await assert.rejects(mailer.sendMime(plain('To: a@example.com\nSubject: nobody')), {
    code: 'ERR_INVALID_MESSAGE',
    field: 'sender',
  })
})

test('a message without recipients names mime.To, a bad address its place, no header block names mime', async () => {
  for (const [message, field] of [
    [plain(`From: ${ALLOWED}\nSubject: no recipients`), 'mime.To'],
    [plain(`From: ${ALLOWED}\nTo: a@example.com, root\nSubject: bad`), 'mime.To[1]'],
    ['just a body, no headers\n', 'mime'],
    [Buffer.alloc(0), 'mime'],
  ]) {
    const error = await mailer.sendMime(message).then(
      () => assert.fail(`sent ${JSON.stringify(String(message))}`),
      (e) => e,
    )
    assert.ok(isGraphMailerError(error), String(error))
    assert.equal(error.code, 'ERR_INVALID_MESSAGE')
    assert.equal(error.field, field)
  }
  const counters = await emu.counters()
  assert.deepEqual([counters.token_requests, counters.send_requests], [0, 0])
})

test('a message over the limit is refused as RequestEntityTooLarge, and a stream is read only just past it', async () => {
  const over = Buffer.concat([Buffer.from(`From: ${ALLOWED}\nTo: a@example.com\n\n`), Buffer.alloc(limits.maxMimeBytes, 'x')])
  const tooLarge = { code: 'ERR_INVALID_MESSAGE', field: 'mime', graphCode: 'RequestEntityTooLarge' }
  await assert.rejects(mailer.sendMime(over), tooLarge)
  await assert.rejects(mailer.sendMime(over.toString('latin1')), tooLarge)
  const path = join(dir, 'huge.eml')
  writeFileSync(path, over)
  await assert.rejects(mailer.sendMimeFile(path), tooLarge)

  // An endless stream: read up to one byte past the limit, then refused.
  let produced = 0
  let finished = false
  const chunk = Buffer.alloc(64 * 1024, 'y')
  async function* endless() {
    try {
      yield `From: ${ALLOWED}\nTo: a@example.com\n\n`
      for (;;) {
        produced += chunk.length
        yield chunk
      }
    } finally {
      finished = true
    }
  }
  await assert.rejects(mailer.sendMime(endless()), tooLarge)
  assert.ok(produced <= limits.maxMimeBytes + chunk.length, `read ${produced} bytes of an endless stream`)
  assert.ok(finished, 'the stream was not closed')
  const counters = await emu.counters()
  assert.deepEqual([counters.token_requests, counters.send_requests], [0, 0])
})

test('the allowlist applies to the sender, whether given or taken from From', async () => {
  const restricted = new Mailer(emu.options({ allowedSenders: [ALLOWED] }))
  await assert.rejects(restricted.sendMime(plain(`From: ${SHARED}\nTo: a@example.com`)), {
    code: 'ERR_SENDER_NOT_ALLOWED',
  })
  await assert.rejects(restricted.sendMime(plain(`From: ${ALLOWED}\nTo: a@example.com`), { sender: SHARED }), {
    code: 'ERR_SENDER_NOT_ALLOWED',
  })
  assert.equal((await emu.counters()).send_requests, 0)
  await restricted.sendMime(plain(`From: ${ALLOWED}\nTo: a@example.com`))
  // The tenant's own restriction still answers for a mailbox outside it.
  await assert.rejects(mailer.sendMime(plain(`From: ${DENIED}\nTo: a@example.com`)), { code: 'ERR_ACCESS_DENIED' })
})

test('wrong types are TypeErrors naming the argument; an aborted signal rejects with an AbortError', async () => {
  await assert.rejects(mailer.sendMime(42), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message:
      'The "message" argument must be of type string or an instance of Buffer, Uint8Array or Readable (or an async iterable of Buffers). Received type number (42)',
  })
  await assert.rejects(mailer.sendMime(Readable.from([{ not: 'bytes' }])), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  await assert.rejects(mailer.sendMime('To: a@example.com\n\nx', { sendr: ALLOWED }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
  })
  await assert.rejects(mailer.sendMime('To: a@example.com\n\nx', { sender: 5 }), { code: 'ERR_INVALID_ARG_TYPE' })
  await assert.rejects(mailer.sendMimeFile(5), { code: 'ERR_INVALID_ARG_TYPE' })

  const signal = AbortSignal.abort()
  const message = plain(`From: ${ALLOWED}\nTo: a@example.com`)
  await assert.rejects(mailer.sendMime(message, { signal }), { name: 'AbortError', code: 'ABORT_ERR' })
  await assert.rejects(mailer.sendMime(Readable.from([message]), { signal }), { name: 'AbortError' })
  await assert.rejects(mailer.sendMimeFile(join(dir, 'any.eml'), { signal }), { name: 'AbortError' })
  assert.equal((await emu.counters()).send_requests, 0)
})
