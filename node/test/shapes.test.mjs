// The objects the package takes are read by the fields of the Rust structs
// that index.d.ts is generated from: each object refuses a property its
// interface does not declare, naming the object's place in the call, and the
// names it knows are exactly the interface's, so the reader and the types
// cannot drift apart.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Mailer, Outbox, policyScript } from '../index.mjs'
import { Emulator, ALLOWED } from './emulator.mjs'

let emu
let dir
before(async () => {
  emu = await Emulator.start()
  dir = mkdtempSync(join(tmpdir(), 'graphmailer-node-shapes-'))
})
after(async () => {
  await emu?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  await emu.reset()
})

const plain = () => ({ from: ALLOWED, to: 'a@example.com', subject: 'Hi', text: 'x' })

/** The property names of `interface name` in the generated index.d.ts. */
function declared(name) {
  const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
  const body = dts.match(new RegExp(`^export interface ${name} \\{\\n([\\s\\S]*?)^\\}`, 'm'))
  assert.ok(body, `index.d.ts declares ${name}`)
  return [...body[1].matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1])
}

/** The error of a call that throws or rejects. */
async function failure(call) {
  try {
    await call()
  } catch (e) {
    return e
  }
  assert.fail('the call should have failed')
}

test('every object refuses an unknown property, naming its place and the known ones', async () => {
  const mailer = new Mailer(emu.options())
  const outbox = await Outbox.open(`sqlite:${join(dir, 'outbox.db')}`)
  const cases = [
    ['MailerOptions', 'options', () => new Mailer(emu.options({ tenantID: 'x' }))],
    ['CertificateFile', 'options.clientCertificate', () => new Mailer(emu.options({ clientSecret: undefined, clientCertificate: { path: 'app.pem', pasword: 'x' } }))],
    ['SendOptions', 'message', () => mailer.send({ ...plain(), attachment: [] })],
    ['Address', 'message.cc[1]', () => mailer.send({ ...plain(), cc: ['b@example.com', { address: 'c@example.com', nmae: 'C' }] })],
    ['Attachment', 'message.attachments[0]', () => mailer.send({ ...plain(), attachments: [{ nmae: 'a.txt', content: 'x' }] })],
    ['Header', 'message.headers[0]', () => mailer.send({ ...plain(), headers: [{ name: 'x-a', vale: '1' }] })],
    ['SendMimeOptions', 'options', () => mailer.sendMime('Subject: x\r\n\r\nx', { sendr: ALLOWED })],
    ['VerifyOptions', 'options', () => mailer.verify({ alowed: [ALLOWED] })],
    ['RunOptions', 'options', () => outbox.run(mailer, { signl: AbortSignal.timeout(1) })],
    ['PolicyRequest', 'request', () => policyScript({ appID: 'x', mailboxes: [] }, 'rbac')],
  ]
  for (const [iface, place, call] of cases) {
    const e = await failure(call)
    assert.ok(e instanceof TypeError, `${iface}: ${e}`)
    assert.equal(e.code, 'ERR_INVALID_ARG_VALUE', iface)
    const m = e.message.match(/^The "(.+)" argument has an unknown property '(\w+)'; known: (.+)$/)
    assert.ok(m, `${iface}: ${e.message}`)
    assert.equal(m[1], place, iface)
    assert.deepEqual(m[3].split(', '), declared(iface), `${iface}: the reader knows the interface's names`)
  }
  // A key is compared whole, however long: a known name's prefix, extension
  // or look-alike is unknown.
  for (const key of ['subjec', 'subjectx', `subject${'x'.repeat(80)}`, 'sübject']) {
    const e = await failure(() => mailer.send({ ...plain(), [key]: 'x' }))
    assert.equal(e.code, 'ERR_INVALID_ARG_VALUE', key)
    assert.ok(e.message.startsWith(`The "message" argument has an unknown property '${key.slice(0, 40)}`), e.message)
  }
  // Nothing reached the service.
  assert.equal((await emu.counters()).token_requests, 0)
})

test('a client secret of the wrong type is reported by its type alone', () => {
  const secret = 'Abc8Q~notAStringSecret'
  for (const value of [[secret], { value: secret }, 42]) {
    const e = (() => {
      try {
        new Mailer(emu.options({ clientSecret: value }))
      } catch (e) {
        return e
      }
    })()
    assert.ok(e instanceof TypeError, `${e}`)
    assert.match(e.message, /^The "options.clientSecret" argument must be of type string. Received type (object|number)$/)
    assert.ok(!e.message.includes('42') && !e.message.includes(secret))
  }
})
