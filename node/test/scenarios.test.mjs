// Every case of tests/scenarios.json (the cases the Rust, Python, Node and C
// suites all run) through the Node package against the emulator.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { inspect } from 'node:util'

import { Mailer } from '../index.mjs'
import { Emulator, at, repoDir, SECRET } from './emulator.mjs'

const { cases } = JSON.parse(readFileSync(join(repoDir, 'tests', 'scenarios.json'), 'utf8'))

// The neutral shape of a case's message to `mailer.send`'s.
function message(m) {
  const out = { from: m.from, to: m.to, cc: m.cc, bcc: m.bcc, replyTo: m.reply_to, subject: m.subject }
  if (m.text !== undefined) out.text = m.text
  if (m.html !== undefined) out.html = m.html
  if (m.importance !== undefined) out.importance = m.importance
  if (m.save_to_sent_items !== undefined) out.saveToSentItems = m.save_to_sent_items
  if (m.headers) out.headers = m.headers
  if (m.attachments) {
    out.attachments = m.attachments.map((a) => ({
      name: a.name,
      content: a.content_base64 !== undefined ? Buffer.from(a.content_base64, 'base64') : a.content,
      contentType: a.content_type,
      inline: a.inline,
      contentId: a.content_id,
    }))
  }
  return out
}

function options(emu, config = {}) {
  const overrides = { maxAttempts: 1 }
  if (config.client_id) overrides.clientId = config.client_id
  if (config.client_secret) overrides.clientSecret = config.client_secret
  if (config.tenant_id) overrides.tenantId = config.tenant_id
  if (config.allowed_senders) overrides.allowedSenders = config.allowed_senders
  return emu.options(overrides)
}

let emu
before(async () => {
  emu = await Emulator.start()
})
after(async () => {
  await emu?.stop()
})
beforeEach(async () => {
  await emu.reset()
})

test('the shared file has the cases every suite runs', () => {
  assert.ok(cases.length >= 20, `only ${cases.length} cases`)
})

for (const c of cases) {
  test(`scenario: ${c.name}`, async () => {
    const mailer = new Mailer(options(emu, c.config))
    const expect = c.expect
    if (expect.ok) {
      const receipt = await mailer.send(message(c.message))
      assert.equal(typeof receipt.clientRequestId, 'string')
      assert.ok(receipt.attempts >= 1)
      const stored = await emu.messages()
      assert.equal(stored.length, 1)
      assert.equal(receipt.requestId, stored[0].request_id)
      for (const [path, want] of Object.entries(expect.stored)) {
        assert.deepEqual(at(stored[0], path), want, path)
      }
    } else {
      const error = await mailer.send(message(c.message)).then(
        () => assert.fail('the send should have been refused'),
        (e) => e,
      )
      assert.ok(error instanceof Error, 'an Error instance')
      assert.equal(error.code, `ERR_${expect.error.toUpperCase()}`, error.message)
      if (expect.code) assert.equal(error.graphCode, expect.code, error.message)
      if (expect.field) assert.equal(error.field, expect.field, error.message)
      for (const word of expect.hint_contains ?? []) {
        assert.ok(error.hint, `no hint in: ${error.message}`)
        assert.ok(error.hint.includes(word), `hint ${JSON.stringify(error.hint)} lacks ${word}`)
        assert.ok(error.message.includes(error.hint), 'the message ends with the hint')
      }
      if (error.graphCode && !expect.field) assert.ok(error.requestId, `no request id: ${error.message}`)
      const shown = [error.message, error.stack, inspect(error), JSON.stringify(error)].join('\n')
      assert.ok(!shown.includes(SECRET), 'the secret leaked into the error')
      if (c.config?.client_secret) assert.ok(!shown.includes(c.config.client_secret), 'the secret leaked')
      assert.deepEqual(await emu.messages(), [], 'nothing may be stored')
    }
    if (expect.token_requests !== undefined) {
      assert.equal((await emu.counters()).token_requests, expect.token_requests)
      assert.equal(mailer.tokenRequests, expect.token_requests)
    }
  })
}
