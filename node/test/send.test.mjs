// Every message feature arrives at the emulator exactly as sent, in each of
// the shapes JavaScript callers use; concurrent sends share one token.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Mailer } from '../index.mjs'
import { Emulator, ALLOWED } from './emulator.mjs'

let emu
let mailer
let dir
before(async () => {
  emu = await Emulator.start()
  mailer = new Mailer(emu.options())
  dir = mkdtempSync(join(tmpdir(), 'graphmailer-node-'))
})
after(async () => {
  await emu?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  await emu.call('DELETE', 'messages')
})

async function sendOne(message) {
  const receipt = await mailer.send(message)
  const stored = await emu.messages()
  assert.equal(stored.length, 1)
  return { receipt, stored: stored[0], graph: stored[0].message }
}

test('a receipt carries Graph request id, the client request id and attempts', async () => {
  const { receipt, stored } = await sendOne({ from: ALLOWED, to: 'a@example.com', subject: 'Hi', text: 'x' })
  assert.equal(receipt.requestId, stored.request_id)
  assert.match(receipt.clientRequestId, /^[0-9a-f-]{36}$/)
  assert.equal(receipt.attempts, 1)
  assert.equal(stored.mailbox, ALLOWED)
  assert.equal(stored.app_id, emu.banner.client_id)
})

test('recipients as strings, { name, address } objects, single values and arrays', async () => {
  const { graph } = await sendOne({
    from: ALLOWED,
    to: [{ name: 'Alice Example', address: 'alice@example.com' }, 'bob@example.com'],
    cc: 'carol@example.com',
    bcc: { address: 'dave@example.com' },
    replyTo: [{ name: 'Replies', address: 'replies@contoso.test' }],
    subject: 'Recipients',
    text: 'x',
  })
  assert.deepEqual(graph.toRecipients, [
    { emailAddress: { name: 'Alice Example', address: 'alice@example.com' } },
    { emailAddress: { address: 'bob@example.com' } },
  ])
  assert.deepEqual(graph.ccRecipients, [{ emailAddress: { address: 'carol@example.com' } }])
  assert.deepEqual(graph.bccRecipients, [{ emailAddress: { address: 'dave@example.com' } }])
  assert.deepEqual(graph.replyTo, [{ emailAddress: { name: 'Replies', address: 'replies@contoso.test' } }])
})

test('text and HTML bodies, subject, importance and saveToSentItems', async () => {
  let r = await sendOne({ from: ALLOWED, to: 'a@example.com', subject: 'Plain – ünïcode ✓', text: 'line 1\nline 2' })
  assert.equal(r.graph.subject, 'Plain – ünïcode ✓')
  assert.deepEqual(r.graph.body, { contentType: 'text', content: 'line 1\nline 2' })
  assert.equal(r.stored.save_to_sent_items, true)
  await emu.call('DELETE', 'messages')
  r = await sendOne({
    from: ALLOWED,
    to: 'a@example.com',
    subject: 'HTML',
    html: '<p>Hello <b>there</b></p>',
    importance: 'low',
    saveToSentItems: false,
  })
  assert.deepEqual(r.graph.body, { contentType: 'html', content: '<p>Hello <b>there</b></p>' })
  assert.equal(r.graph.importance, 'low')
  assert.equal(r.stored.save_to_sent_items, false)
})

test('custom headers as an object, as [name, value] pairs and as { name, value } objects', async () => {
  for (const headers of [
    { 'x-invoice-id': '4711', 'X-Customer': 'ACME' },
    [['x-invoice-id', '4711'], ['X-Customer', 'ACME']],
    [{ name: 'x-invoice-id', value: '4711' }, { name: 'X-Customer', value: 'ACME' }],
  ]) {
    await emu.call('DELETE', 'messages')
    const { graph } = await sendOne({ from: ALLOWED, to: 'a@example.com', subject: 'H', text: 'x', headers })
    assert.deepEqual(graph.internetMessageHeaders, [
      { name: 'x-invoice-id', value: '4711' },
      { name: 'X-Customer', value: 'ACME' },
    ])
  }
})

test('attachments from a Buffer, a Uint8Array, a string, a path and a bare path string', async () => {
  const pdf = join(dir, 'invoice-4711.pdf')
  writeFileSync(pdf, Buffer.from('%PDF-1.4 from a file'))
  const csv = join(dir, 'rows.csv')
  writeFileSync(csv, 'a,b\n1,2\n')
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 255])
  const { graph } = await sendOne({
    from: ALLOWED,
    to: 'a@example.com',
    subject: 'Files',
    html: '<img src="cid:logo">',
    attachments: [
      { name: 'report.txt', content: Buffer.from('buffer bytes') },
      { name: 'logo.png', content: png, inline: true, contentId: 'logo' },
      { name: 'note.txt', content: 'a string, sent as UTF-8: ü' },
      { path: pdf },
      { path: csv, name: 'renamed.bin', contentType: 'text/csv' },
      pdf,
    ],
  })
  const a = graph.attachments
  assert.equal(a.length, 6)
  assert.equal(a[0]['@odata.type'], '#microsoft.graph.fileAttachment')
  assert.deepEqual([a[0].name, a[0].contentType, Buffer.from(a[0].contentBytes, 'base64').toString()], [
    'report.txt',
    'text/plain',
    'buffer bytes',
  ])
  assert.deepEqual(Buffer.from(a[1].contentBytes, 'base64'), Buffer.from(png))
  assert.deepEqual([a[1].contentType, a[1].isInline, a[1].contentId], ['image/png', true, 'logo'])
  assert.equal(Buffer.from(a[2].contentBytes, 'base64').toString(), 'a string, sent as UTF-8: ü')
  assert.deepEqual([a[3].name, a[3].contentType, a[3].isInline], ['invoice-4711.pdf', 'application/pdf', false])
  assert.equal(Buffer.from(a[3].contentBytes, 'base64').toString(), '%PDF-1.4 from a file')
  assert.deepEqual([a[4].name, a[4].contentType], ['renamed.bin', 'text/csv'])
  assert.equal(Buffer.from(a[4].contentBytes, 'base64').toString(), 'a,b\n1,2\n')
  assert.equal(a[5].name, 'invoice-4711.pdf')
})

test('a missing attachment file rejects with ERR_INVALID_MESSAGE naming the file, and sends nothing', async () => {
  const missing = join(dir, 'no-such-invoice.pdf')
  await assert.rejects(mailer.send({ from: ALLOWED, to: 'a@example.com', subject: 'x', text: 'x', attachments: [missing] }), (e) => {
    assert.equal(e.code, 'ERR_INVALID_MESSAGE')
    assert.equal(e.field, 'attachments')
    assert.ok(e.message.includes('no-such-invoice.pdf'), e.message)
    return true
  })
  assert.deepEqual(await emu.messages(), [])
})

test('concurrent sends share one token', async () => {
  await emu.reset()
  const fresh = new Mailer(emu.options())
  const receipts = await Promise.all(
    Array.from({ length: 20 }, (_, i) => fresh.send({ from: ALLOWED, to: 'a@example.com', subject: `n${i}`, text: 'x' })),
  )
  assert.equal(new Set(receipts.map((r) => r.clientRequestId)).size, 20)
  assert.equal(fresh.tokenRequests, 1)
  const counters = await emu.counters()
  assert.equal(counters.token_requests, 1)
  assert.equal(counters.sends_accepted, 20)
  assert.ok(counters.max_in_flight <= 4, `Graph allows 4 in flight per mailbox, saw ${counters.max_in_flight}`)
  const subjects = (await emu.messages()).map((m) => m.message.subject).sort()
  assert.deepEqual(subjects, Array.from({ length: 20 }, (_, i) => `n${i}`).sort())
})

test('a mailer exposes its public settings', () => {
  const m = new Mailer(emu.options({ allowedSenders: ['erp@contoso.test', '@billing.contoso.test'], cloud: 'usgov' }))
  assert.equal(m.tenantId, emu.banner.tenant_id)
  assert.equal(m.clientId, emu.banner.client_id)
  assert.equal(m.cloud, 'usgov')
  assert.equal(m.credential, 'client secret')
  assert.equal(m.authorityHost, emu.url)
  assert.equal(m.graphEndpoint, emu.url)
  assert.equal(m.tokenUrl, `${emu.url}/${emu.banner.tenant_id}/oauth2/v2.0/token`)
  assert.equal(m.scope, 'https://graph.microsoft.us/.default')
  assert.deepEqual(m.allowedSenders, ['erp@contoso.test', '@billing.contoso.test'])
  assert.equal(m.tokenRequests, 0)
})

test('Mailer.fromEnv reads the settings Azure SDKs read', async () => {
  const env = {
    AZURE_TENANT_ID: emu.banner.tenant_id,
    AZURE_CLIENT_ID: emu.banner.client_id,
    AZURE_CLIENT_SECRET: emu.banner.client_secret,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
    GRAPHMAILER_ALLOWED_SENDERS: 'erp@contoso.test,billing@contoso.test',
    UNRELATED: 'ignored',
  }
  const m = Mailer.fromEnv(env)
  assert.deepEqual(m.allowedSenders, ['erp@contoso.test', 'billing@contoso.test'])
  const receipt = await m.send({ from: 'billing@contoso.test', to: 'a@example.com', subject: 'env', text: 'x' })
  assert.equal(receipt.attempts, 1)
  const saved = { ...process.env }
  try {
    Object.assign(process.env, env)
    assert.equal(Mailer.fromEnv().graphEndpoint, emu.url)
  } finally {
    for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  }
})

test('Mailer.fromFile reads a TOML file', async () => {
  const file = join(dir, 'graphmailer.toml')
  writeFileSync(
    file,
    [
      `tenant_id = "${emu.banner.tenant_id}"`,
      `client_id = "${emu.banner.client_id}"`,
      `client_secret = "${emu.banner.client_secret}"`,
      `authority_host = "${emu.url}"`,
      `graph_endpoint = "${emu.url}"`,
      'allowed_senders = ["erp@contoso.test"]',
    ].join('\n'),
    // It holds the client secret, which is only read from a private file.
    { mode: 0o600 },
  )
  const m = Mailer.fromFile(file)
  assert.deepEqual(m.allowedSenders, ['erp@contoso.test'])
  await m.send({ from: ALLOWED, to: 'a@example.com', subject: 'file', text: 'x' })
  assert.equal((await emu.messages())[0].message.subject, 'file')
})

test('Mailer.fromFile refuses a file with the secret that others can read', () => {
  const file = join(dir, 'exposed.toml')
  writeFileSync(
    file,
    [
      `tenant_id = "${emu.banner.tenant_id}"`,
      `client_id = "${emu.banner.client_id}"`,
      `client_secret = "${emu.banner.client_secret}"`,
    ].join('\n'),
  )
  chmodSync(file, 0o644)
  assert.throws(
    () => Mailer.fromFile(file),
    (e) => {
      assert.equal(e.code, 'ERR_CONFIG')
      assert.equal(e.field, 'config file')
      assert.ok(e.message.includes(file) && e.message.includes('0644'), e.message)
      assert.ok(e.hint.includes(`chmod 640 ${file}`), e.hint)
      assert.ok(!e.message.includes(emu.banner.client_secret))
      return true
    },
  )
  chmodSync(file, 0o640)
  assert.equal(Mailer.fromFile(file).allowedSenders.length, 0)
})

test('maxConcurrentPerMailbox limits the requests in flight to one mailbox', async () => {
  await emu.reset()
  await emu.faults({ delay_ms: 40 })
  const one = new Mailer(emu.options({ maxConcurrentPerMailbox: 1 }))
  await Promise.all(Array.from({ length: 6 }, (_, i) => one.send({ from: ALLOWED, to: 'a@example.com', subject: `c${i}`, text: 'x' })))
  let counters = await emu.counters()
  assert.equal(counters.sends_accepted, 6)
  assert.equal(counters.max_in_flight, 1)
  await emu.reset()
  await emu.faults({ delay_ms: 40 })
  const four = new Mailer(emu.options())
  await Promise.all(Array.from({ length: 12 }, (_, i) => four.send({ from: ALLOWED, to: 'a@example.com', subject: `d${i}`, text: 'x' })))
  counters = await emu.counters()
  assert.equal(counters.max_in_flight, 4, 'the default is Graph’s limit of 4')
})

test('a message over Graph’s 4 MB request limit is refused before sending, with a hint', async () => {
  await emu.reset()
  const big = { name: 'scan.pdf', content: Buffer.alloc(3_500_000, 0x25) }
  await assert.rejects(mailer.send({ from: ALLOWED, to: 'a@example.com', subject: 'big', text: 'x', attachments: [big] }), (e) => {
    assert.equal(e.code, 'ERR_INVALID_MESSAGE')
    assert.equal(e.field, 'attachments')
    assert.match(e.message, /4 MB/)
    assert.ok(e.hint)
    return true
  })
  const counters = await emu.counters()
  assert.equal(counters.send_requests, 0)
})

test('a signal whose removeEventListener throws cannot turn a sent mail into an error', async () => {
  // A polyfilled AbortSignal with a bug: rejecting would have its caller
  // send the mail again.
  const listeners = []
  const signal = {
    aborted: false,
    addEventListener: (_type, listener) => listeners.push(listener),
    removeEventListener: () => {
      throw new Error('polyfill bug')
    },
  }
  const { receipt } = await sendOne({ from: ALLOWED, to: 'a@example.com', subject: 'signal', text: 'x', signal })
  assert.equal(receipt.attempts, 1)
  assert.equal(listeners.length, 1, 'the listener was added')
})
