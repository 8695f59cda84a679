// Certificate credentials: loading from PEM, encrypted PEM and PKCS#12, the
// errors for a bad path or a wrong password (ERR_CONFIG naming the setting),
// and a send with a certificate through the emulator.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'

import { Mailer, ClientCertificate } from '../index.mjs'
import { Emulator, ALLOWED, fixture, readFixture } from './emulator.mjs'

// `openssl x509 -in test/fixtures/cert.pem -noout -fingerprint -sha1`
const THUMBPRINT = 'E814E373B12D83FCAA95B4FF5CD6D1A044E8A28B'
const PASSWORD = 'fixture-pass'

let emu
before(async () => {
  emu = await Emulator.start()
})
after(async () => {
  await emu?.stop()
})

test('loads a PEM bundle, an encrypted key and a PKCS#12 archive', () => {
  const loaded = [
    ClientCertificate.fromPath(fixture('bundle.pem')),
    ClientCertificate.fromPath(fixture('cert.pfx'), PASSWORD),
    ClientCertificate.fromPem(readFixture('cert.pem'), readFixture('key.pem')),
    ClientCertificate.fromPem(readFixture('cert.pem').toString(), readFixture('key-encrypted.pem').toString(), PASSWORD),
    ClientCertificate.fromPkcs12(new Uint8Array(readFixture('cert.pfx')), PASSWORD),
  ]
  for (const c of loaded) {
    assert.equal(c.thumbprint, THUMBPRINT)
    assert.match(c.thumbprintSha256, /^[0-9A-F]{64}$/)
  }
  const der = loaded[0].certificateDer
  assert.ok(Buffer.isBuffer(der) && der[0] === 0x30, 'DER starts with a SEQUENCE')
})

test('a certificate shows its thumbprint, never its key', () => {
  const c = ClientCertificate.fromPath(fixture('cert.pfx'), PASSWORD)
  const key = readFixture('key.pem').toString().split('\n')[1]
  const views = [inspect(c, { showHidden: true, depth: Infinity }), JSON.stringify(c), String(c)]
  for (const v of views) assert.ok(!v.includes(key) && !v.includes(PASSWORD), v)
  assert.equal(inspect(c, { breakLength: Infinity }), `ClientCertificate { thumbprint: '${THUMBPRINT}' }`)
  assert.deepEqual(Object.keys(c.toJSON()).sort(), ['thumbprint', 'thumbprintSha256'])
})

test('a missing file is ERR_CONFIG naming AZURE_CLIENT_CERTIFICATE_PATH', () => {
  for (const call of [
    () => ClientCertificate.fromPath('/nonexistent/app.pem'),
    () => new Mailer(emu.options({ clientSecret: undefined, clientCertificate: { path: '/nonexistent/app.pfx' } })),
  ]) {
    assert.throws(call, (e) => {
      assert.equal(e.code, 'ERR_CONFIG')
      assert.equal(e.field, 'AZURE_CLIENT_CERTIFICATE_PATH')
      assert.ok(e.message.includes('/nonexistent/app.p'))
      return true
    })
  }
})

test('a wrong password is ERR_CONFIG naming the setting, without the password', () => {
  const checks = [
    [() => ClientCertificate.fromPath(fixture('cert.pfx'), 'wrong-pass'), 'AZURE_CLIENT_CERTIFICATE_PATH'],
    [() => ClientCertificate.fromPkcs12(readFixture('cert.pfx'), 'wrong-pass'), 'AZURE_CLIENT_CERTIFICATE_PATH'],
    [() => ClientCertificate.fromPem(readFixture('cert.pem'), readFixture('key-encrypted.pem'), 'wrong-pass'), 'AZURE_CLIENT_CERTIFICATE_PASSWORD'],
  ]
  for (const [call, field] of checks) {
    assert.throws(call, (e) => {
      assert.equal(e.code, 'ERR_CONFIG')
      assert.equal(e.field, field)
      assert.match(e.message, /PASSWORD|password/)
      assert.ok(!e.message.includes('wrong-pass'), 'the password leaked')
      return true
    })
  }
})

test('a certificate without its key, or a key of another certificate, is refused', () => {
  assert.throws(() => ClientCertificate.fromPath(fixture('cert.pem')), { code: 'ERR_CONFIG', field: 'AZURE_CLIENT_CERTIFICATE_PATH' })
  assert.throws(() => ClientCertificate.fromPem('not a certificate', readFixture('key.pem')), { code: 'ERR_CONFIG' })
})

test('wrong argument types are TypeErrors; a password is never echoed', () => {
  assert.throws(() => ClientCertificate.fromPath(42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"path" argument must be of type string/ })
  assert.throws(() => ClientCertificate.fromPkcs12(readFixture('cert.pfx'), 123456), (e) => {
    assert.ok(e instanceof TypeError)
    assert.match(e.message, /"password" argument must be of type string. Received type number$/)
    return true
  })
  assert.throws(() => ClientCertificate.fromPem(5, readFixture('key.pem')), { name: 'TypeError', message: /"certificate" argument/ })
  assert.throws(() => new ClientCertificate(), Error, 'loaded only through its factories')
  assert.throws(() => new Mailer(emu.options({ clientSecret: undefined, clientCertificate: 'app.pem' })), { name: 'TypeError', message: /"options.clientCertificate" argument must be an instance of ClientCertificate or an object/ })
  assert.throws(() => new Mailer(emu.options({ clientSecret: undefined, clientCertificate: { path: fixture('cert.pfx'), password: 5 } })), {
    name: 'TypeError',
    message: /"options.clientCertificate.password" argument must be of type string. Received type number$/,
  })
})

test('a secret and a certificate together are refused', () => {
  const certificate = ClientCertificate.fromPath(fixture('bundle.pem'))
  assert.throws(() => new Mailer(emu.options({ clientCertificate: certificate })), {
    code: 'ERR_CONFIG',
    field: 'AZURE_CLIENT_SECRET',
    message: /AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH are both given: .*not both/,
  })
})

test('a mailer with a registered certificate signs a client assertion and sends', async () => {
  await emu.reset()
  await emu.call('POST', `apps/${emu.banner.client_id}/certificates`, { certificate: readFixture('cert.pem').toString() })
  for (const clientCertificate of [ClientCertificate.fromPath(fixture('bundle.pem')), { path: fixture('cert.pfx'), password: PASSWORD }]) {
    const mailer = new Mailer(emu.options({ clientSecret: undefined, clientCertificate, maxAttempts: 1 }))
    assert.equal(mailer.credential, 'certificate')
    assert.ok(inspect(mailer).includes("credential: 'certificate'"))
    const receipt = await mailer.send({ from: ALLOWED, to: 'a@example.com', subject: 'signed', text: 'x' })
    assert.equal(receipt.attempts, 1)
    assert.equal(mailer.tokenRequests, 1)
  }
  const stored = await emu.messages()
  assert.deepEqual(stored.map((m) => [m.mailbox, m.message.subject]), [[ALLOWED, 'signed'], [ALLOWED, 'signed']])
  const diagnosis = await new Mailer(emu.options({ clientSecret: undefined, clientCertificate: { path: fixture('bundle.pem') } })).diagnose()
  assert.equal(diagnosis.credential, 'certificate')
  assert.equal(diagnosis.tokenAcquired, true)
})

test('a certificate the app does not know is ERR_AUTHENTICATION with its thumbprint and a hint', async () => {
  await emu.reset()
  const mailer = new Mailer(emu.options({ clientSecret: undefined, clientCertificate: { path: fixture('bundle.pem') }, maxAttempts: 1 }))
  await assert.rejects(mailer.send({ from: ALLOWED, to: 'a@example.com', subject: 'x', text: 'x' }), (e) => {
    assert.equal(e.code, 'ERR_AUTHENTICATION')
    assert.equal(e.graphCode, 'AADSTS700027')
    assert.ok(e.message.includes(THUMBPRINT), e.message)
    assert.match(e.hint, /Certificates & secrets/)
    assert.ok(e.requestId)
    return true
  })
  assert.deepEqual(await emu.messages(), [])
})

test('Mailer.fromEnv reads AZURE_CLIENT_CERTIFICATE_PATH and its password', () => {
  const env = {
    AZURE_TENANT_ID: emu.banner.tenant_id,
    AZURE_CLIENT_ID: emu.banner.client_id,
    AZURE_CLIENT_CERTIFICATE_PATH: fixture('cert.pfx'),
    AZURE_CLIENT_CERTIFICATE_PASSWORD: PASSWORD,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
  }
  assert.equal(Mailer.fromEnv(env).credential, 'certificate')
  assert.throws(() => Mailer.fromEnv({ ...env, AZURE_CLIENT_CERTIFICATE_PASSWORD: 'wrong-pass' }), {
    code: 'ERR_CONFIG',
    field: 'AZURE_CLIENT_CERTIFICATE_PATH',
  })
})
