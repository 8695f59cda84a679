// Secretless credentials: a federated token file (and its rotation mid-run),
// an `assertion` callback (sync and async) and a managed identity each send
// mail against the emulator; each common failure has its code and hint; no
// token or assertion reaches any output.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { mkdtempSync, writeFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Mailer } from '../index.mjs'
import { Emulator, ALLOWED, TENANT } from './emulator.mjs'

const WORKLOAD_CLIENT = '7e1d5a3c-9b2f-4c8e-a6d4-3f2b1c0e9d8a'
const SUBJECT = 'system:serviceaccount:erp:graphmailer'
const NO_MAIL_SEND_IDENTITY = '0f1e2d3c-4b5a-4968-8776-655443322110'

let emu
let dir
before(async () => {
  emu = await Emulator.start()
  dir = mkdtempSync(join(tmpdir(), 'graphmailer-federated-'))
})
after(async () => {
  await emu?.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function mint(overrides = {}) {
  const answer = await emu.call('POST', 'oidc/token', {
    subject: SUBJECT,
    audience: 'api://AzureADTokenExchange',
    lifetime_seconds: 3600,
    ...overrides,
  })
  return answer.token
}

/** As the platform does: a new file moved over the old one. */
function rotate(file, token) {
  writeFileSync(`${file}.next`, `${token}\n`)
  renameSync(`${file}.next`, file)
}

function env(extra) {
  return {
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
    GRAPHMAILER_MAX_ATTEMPTS: '1',
    ...extra,
  }
}

function federated(file) {
  return Mailer.fromEnv(env({ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: WORKLOAD_CLIENT, AZURE_FEDERATED_TOKEN_FILE: file }))
}

const mail = { from: ALLOWED, to: 'accounts@example.com', subject: 'Invoice 4711', text: 'Please pay.' }

function assertNoToken(token, ...outputs) {
  const signature = token.split('.').pop()
  for (const output of outputs) assert.ok(!String(output).includes(signature), `a token in ${output}`)
}

test('a federated token file sends and is read again after rotation', async () => {
  const file = join(dir, 'rotating')
  const first = await mint({ lifetime_seconds: 600 })
  rotate(file, first)
  const mailer = federated(file)
  assert.equal(mailer.credential, 'federated token file')
  await mailer.send(mail)
  const second = await mint({ lifetime_seconds: 7200 })
  rotate(file, second)
  await emu.call('POST', 'clock/advance', { secs: 3700 })
  await mailer.send(mail)
  assert.equal(mailer.tokenRequests, 2)
  assertNoToken(first, inspect(mailer))
  assertNoToken(second, inspect(mailer))
  await emu.reset()
})

for (const [name, overrides, code, hint] of [
  ['subject', { subject: 'system:serviceaccount:erp:other' }, 'AADSTS700213', 'system:serviceaccount:<namespace>'],
  ['audience', { audience: 'api://SomethingElse' }, 'AADSTS700212', 'api://AzureADTokenExchange'],
  ['expiry', { lifetime_seconds: -60 }, 'AADSTS700024', 'stopped refreshing'],
]) {
  test(`a wrong ${name} gets ${code} and its hint`, async () => {
    const file = join(dir, name)
    const token = await mint(overrides)
    rotate(file, token)
    const e = await federated(file).send(mail).then(
      () => assert.fail('sent'),
      (e) => e,
    )
    assert.equal(e.code, 'ERR_AUTHENTICATION')
    assert.equal(e.graphCode, code)
    assert.ok(e.hint.includes(hint), e.hint)
    assertNoToken(token, e.message, e.stack, inspect(e), JSON.stringify(e))
  })
}

test('a missing token file names the file and the variable', async () => {
  const file = join(dir, 'never-written')
  const e = await federated(file).send(mail).then(
    () => assert.fail('sent'),
    (e) => e,
  )
  assert.equal(e.code, 'ERR_CONFIG')
  assert.equal(e.field, 'AZURE_FEDERATED_TOKEN_FILE')
  assert.ok(e.message.includes(file), e.message)
})

test('an assertion callback, sync or async, is asked once per token request', async () => {
  const token = await mint()
  let calls = 0
  const sync = new Mailer(emu.options({ clientId: WORKLOAD_CLIENT, clientSecret: undefined, assertion: () => (calls++, token) }))
  assert.equal(sync.credential, 'assertion callback')
  await sync.send(mail)
  await sync.send(mail)
  assert.equal(calls, 1)
  const asynchronous = new Mailer(
    emu.options({ clientId: WORKLOAD_CLIENT, clientSecret: undefined, assertion: async () => token }),
  )
  await asynchronous.send(mail)
  assertNoToken(token, inspect(sync), inspect(asynchronous))

  const failing = new Mailer(
    emu.options({
      clientId: WORKLOAD_CLIENT,
      clientSecret: undefined,
      assertion: async () => {
        throw new Error('no OIDC token in this job')
      },
    }),
  )
  const e = await failing.send(mail).then(
    () => assert.fail('sent'),
    (e) => e,
  )
  assert.equal(e.code, 'ERR_AUTHENTICATION')
  assert.ok(e.message.includes('no OIDC token in this job'), e.message)
  assert.throws(() => new Mailer(emu.options({ clientSecret: undefined, assertion: 'a string' })), { code: 'ERR_INVALID_ARG_TYPE' })
})

test('a managed identity sends through IMDS and App Service', async () => {
  const imds = Mailer.fromEnv(env({ GRAPHMAILER_CREDENTIAL: 'managed_identity', AZURE_POD_IDENTITY_AUTHORITY_HOST: emu.url }))
  assert.equal(imds.credential, 'managed identity (IMDS, system-assigned)')
  await imds.send(mail)
  const header = emu.banner.identity_header
  const appService = Mailer.fromEnv(
    env({ GRAPHMAILER_CREDENTIAL: 'managed_identity', IDENTITY_ENDPOINT: `${emu.url}/msi/token`, IDENTITY_HEADER: header }),
  )
  assert.equal(appService.credential, 'managed identity (App Service, system-assigned)')
  await appService.send(mail)
  assert.ok(!inspect(appService).includes(header))
})

test('an identity without Mail.Send gets the PowerShell that grants it', async () => {
  const mailer = Mailer.fromEnv(
    env({
      GRAPHMAILER_CREDENTIAL: 'managed_identity',
      AZURE_POD_IDENTITY_AUTHORITY_HOST: emu.url,
      AZURE_CLIENT_ID: NO_MAIL_SEND_IDENTITY,
    }),
  )
  const e = await mailer.send(mail).then(
    () => assert.fail('sent'),
    (e) => e,
  )
  assert.equal(e.code, 'ERR_ACCESS_DENIED')
  assert.ok(e.hint.includes('New-MgServicePrincipalAppRoleAssignment') && e.hint.includes(NO_MAIL_SEND_IDENTITY), e.hint)
})
