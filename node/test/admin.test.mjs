// The administrator's tools: diagnose() explains a token, verify() proves the
// tenant's restriction, policyScript() writes the PowerShell. And one send
// over HTTPS, trusting the emulator's CA through the config's CA bundle.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

import { Mailer, policyScript, policyWarnings } from '../index.mjs'
import { Emulator, ALLOWED, DENIED, CLIENT, SECRET } from './emulator.mjs'

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

test('diagnose() reports the roles, the tenant, the lifetime and the findings', async () => {
  const d = await new Mailer(emu.options()).diagnose()
  assert.equal(d.tokenAcquired, true)
  assert.equal(d.ok, true)
  assert.equal(d.error, undefined)
  assert.ok(d.roles.includes('Mail.Send'), d.roles.join())
  assert.equal(d.tokenTenant, emu.banner.tenant_id)
  assert.equal(d.clientId, CLIENT)
  assert.equal(d.credential, 'client secret')
  assert.equal(d.tokenUrl, `${emu.url}/${emu.banner.tenant_id}/oauth2/v2.0/token`)
  assert.ok(d.tokenLifetime > 0 && Number.isInteger(d.tokenLifetime), `${d.tokenLifetime}`)
  assert.equal(typeof d.clockSkewSecs, 'number')
  assert.ok(d.findings.some((f) => f.id === 'mail-send-granted' && f.severity === 'info' && f.hint))
  assert.ok(!JSON.stringify(d).includes(SECRET))
})

test('diagnose() of an app without Mail.Send finds it, with a hint', async () => {
  const d = await new Mailer(
    emu.options({ clientId: 'a6d4c2b0-9e8f-4a7b-8c6d-5e4f3a2b1c0d', clientSecret: 'Rep8Q~reportingSecretValue.0123456789abcd' }),
  ).diagnose()
  assert.equal(d.tokenAcquired, true)
  assert.equal(d.ok, false)
  const missing = d.findings.find((f) => f.id === 'missing-mail-send')
  assert.equal(missing.severity, 'error')
  assert.match(missing.hint, /admin consent/)
})

test('diagnose() of a wrong secret resolves with the error as data', async () => {
  const d = await new Mailer(emu.options({ clientSecret: 'Wrong8Q~notTheSecretValue.0123456789abcdef', maxAttempts: 1 })).diagnose()
  assert.equal(d.tokenAcquired, false)
  assert.equal(d.ok, false)
  assert.equal(d.error.code, 'ERR_AUTHENTICATION')
  assert.equal(d.error.graphCode, 'AADSTS7000215')
  assert.equal(d.error.status, 401)
  assert.ok(d.error.hint && d.error.requestId)
  assert.deepEqual(d.findings.map((f) => [f.id, f.severity]), [['token-request-failed', 'error']])
  assert.ok(!JSON.stringify(d).includes('notTheSecretValue'))
})

test('verify() holds when the permitted sender sends and the other is refused', async () => {
  const v = await new Mailer(emu.options()).verify({ allowed: [ALLOWED, 'billing@contoso.test'], denied: [DENIED] })
  assert.equal(v.holds, true)
  assert.equal(v.round, 1)
  assert.deepEqual(
    v.rows.map((r) => [r.sender, r.expected, r.observed, r.passed]),
    [
      [ALLOWED, 'allowed', 'sent', true],
      ['billing@contoso.test', 'allowed', 'sent', true],
      [DENIED, 'denied', 'denied', true],
    ],
  )
  assert.equal(v.rows[2].code, 'ErrorAccessDenied')
  assert.ok(v.rows[0].requestId && v.rows[2].requestId)
  // Each probe goes only to the sender's own mailbox.
  const stored = await emu.messages()
  assert.deepEqual(
    stored.map((m) => [m.mailbox, m.message.toRecipients[0].emailAddress.address]).sort(),
    [['billing@contoso.test', 'billing@contoso.test'], [ALLOWED, ALLOWED]],
  )
})

test('verify() does not hold when a sender that should be refused can send', async () => {
  const v = await new Mailer(emu.options()).verify({ denied: [ALLOWED] })
  assert.equal(v.holds, false)
  assert.deepEqual([v.rows[0].expected, v.rows[0].observed, v.rows[0].passed], ['denied', 'sent', false])
  assert.match(v.rows[0].detail, /NOT restricted/)
})

test('verify() with wait repeats until the deadline', async () => {
  const started = Date.now()
  const v = await new Mailer(emu.options()).verify({ allowed: [DENIED], wait: 600, interval: 200 })
  assert.equal(v.holds, false)
  assert.ok(v.round >= 3, `round ${v.round}`)
  assert.ok(Date.now() - started >= 600)
})

test('verify() with wait repeats until a policy that is still spreading holds', async () => {
  // For 1.5 s every access policy counts as not yet applied (re-stamped now).
  await emu.settings({ policy_apply_delay_secs: 1.5 }).catch(() => emu.settings({ policy_apply_delay_secs: 2 }))
  const v = await new Mailer(emu.options()).verify({ allowed: [ALLOWED], denied: [DENIED], wait: 20_000, interval: 250 })
  assert.equal(v.holds, true)
  assert.ok(v.round >= 2, `held in round ${v.round}: the delay did not apply`)
  // The earlier rounds' probes went out as the CEO, to the CEO only.
  const ceo = (await emu.messages()).filter((m) => m.mailbox === DENIED)
  assert.ok(ceo.length >= 1)
  assert.ok(ceo.every((m) => m.message.toRecipients.every((r) => r.emailAddress.address === DENIED)))
})

test('verify() calls onProgress after each round with the time left', async () => {
  const mailer = new Mailer(emu.options())
  const seen = []
  const v = await mailer.verify({
    allowed: [DENIED],
    wait: 700,
    interval: 200,
    onProgress: (round, remainingMs) => seen.push([round.round, round.holds, remainingMs]),
  })
  // Progress calls are queued to the event loop: let them all arrive.
  for (let i = 0; i < 100 && seen.length < v.round; i++) await new Promise((r) => setTimeout(r, 10))
  assert.deepEqual(seen.map(([round]) => round), Array.from({ length: v.round }, (_, i) => i + 1))
  assert.ok(seen.every(([, holds]) => holds === false))
  const left = seen.map(([, , ms]) => ms)
  assert.ok(left.every((ms, i) => ms <= 700 && (i === 0 || ms < left[i - 1])), left.join())
  assert.equal(left.at(-1), 0)

  const once = []
  const single = await mailer.verify({ allowed: [ALLOWED], onProgress: (r, ms) => once.push([r.holds, ms]) })
  for (let i = 0; i < 100 && once.length < 1; i++) await new Promise((r) => setTimeout(r, 10))
  assert.equal(single.holds, true)
  assert.deepEqual(once, [[true, 0]])
  await assert.rejects(mailer.verify({ allowed: [ALLOWED], onProgress: 'log' }), {
    name: 'TypeError',
    message: /"options.onProgress" argument must be of type function/,
  })
})

test('verify() rejects bad input with ERR_CONFIG or a TypeError', async () => {
  const mailer = new Mailer(emu.options())
  await assert.rejects(mailer.verify({}), { code: 'ERR_CONFIG', field: 'allowed' })
  await assert.rejects(mailer.verify({ allowed: ['not a mailbox'] }), { code: 'ERR_CONFIG', field: 'allowed[0]' })
  await assert.rejects(mailer.verify({ allowed: ALLOWED }), { name: 'TypeError', message: /"options.allowed" argument must be an array/ })
  await assert.rejects(mailer.verify({ allowed: [ALLOWED], wait: '2h' }), { name: 'TypeError', message: /"options.wait" argument must be of type number/ })
  await assert.rejects(mailer.verify(), { name: 'TypeError', message: /"options" argument must be of type object/ })
  await assert.rejects(mailer.verify({ allowed: [ALLOWED], sender: 'x' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
  assert.equal((await emu.counters()).send_requests, 0)
})

test('verify() rejects with ERR_AUTHENTICATION when no token can be had', async () => {
  const mailer = new Mailer(emu.options({ clientSecret: 'Old8Q~expiredSecretValue.0123456789abcdef', maxAttempts: 1 }))
  await assert.rejects(mailer.verify({ allowed: [ALLOWED] }), { code: 'ERR_AUTHENTICATION', graphCode: 'AADSTS7000222' })
})

const request = {
  appId: CLIENT,
  servicePrincipalId: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
  displayName: 'Contoso ERP',
  mailboxes: [ALLOWED, 'billing@contoso.test'],
  denied: [DENIED],
  group: 'erp-senders@contoso.test',
}

test('policyScript() writes RBAC for Applications and the application access policy', () => {
  const rbac = policyScript(request, 'rbac')
  assert.match(rbac, new RegExp(`New-ServicePrincipal -AppId '${CLIENT}' -ObjectId '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'`))
  assert.match(rbac, /New-ManagementRoleAssignment -App '.*' -Role 'Application Mail.Send' -CustomResourceScope 'Contoso ERP senders'/)
  assert.match(rbac, /Test-ServicePrincipalAuthorization .* -Resource 'ceo@contoso.test'/)
  const aap = policyScript(request, 'applicationAccessPolicy')
  assert.match(aap, /New-ApplicationAccessPolicy -AppId '.*' -PolicyScopeGroupId 'erp-senders@contoso.test' -AccessRight RestrictAccess/)
  assert.match(aap, /Add-DistributionGroupMember -Identity 'erp-senders@contoso.test' -Member 'billing@contoso.test'/)
  for (const warning of policyWarnings) {
    assert.ok(rbac.includes(warning), 'every warning is in the script')
  }
  assert.ok(policyWarnings.length >= 3 && Object.isFrozen(policyWarnings))
})

test('policyScript() refuses what could break out of a string, naming the field', () => {
  assert.throws(() => policyScript({ ...request, displayName: "x'; Remove-Mailbox ceo; '" }, 'rbac'), { code: 'ERR_CONFIG', field: 'display_name' })
  assert.throws(() => policyScript({ ...request, mailboxes: ["a@b.com' -or 1 -eq 1 #"] }, 'rbac'), { code: 'ERR_CONFIG', field: 'mailboxes[0]' })
  assert.throws(() => policyScript({ ...request, servicePrincipalId: undefined }, 'rbac'), { code: 'ERR_CONFIG', field: 'service_principal_id' })
  assert.throws(() => policyScript({ ...request, group: undefined }, 'applicationAccessPolicy'), { code: 'ERR_CONFIG', field: 'group' })
  assert.throws(() => policyScript({ ...request, appId: 'erp' }, 'rbac'), { code: 'ERR_CONFIG', field: 'app_id' })
  assert.throws(() => policyScript(request, 'RBAC'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"style" argument must be 'rbac' or 'applicationAccessPolicy'/ })
  assert.throws(() => policyScript(request), { name: 'TypeError', message: /"style" argument must be of type string/ })
  assert.throws(() => policyScript({ ...request, mailboxes: 'erp@contoso.test' }, 'rbac'), { name: 'TypeError', message: /"request.mailboxes" argument must be an array/ })
})

test('a send over HTTPS trusting the emulator CA from a file or from PEM', async () => {
  const tls = await Emulator.start({ https: true })
  try {
    assert.match(tls.url, /^https:/)
    assert.ok(tls.banner.ca_file)
    const fromFile = new Mailer(tls.options())
    await fromFile.send({ from: ALLOWED, to: 'a@example.com', subject: 'tls file', text: 'x' })
    const fromPem = new Mailer(tls.options({ caBundlePath: undefined, caBundlePem: readFileSync(tls.banner.ca_file) }))
    await fromPem.send({ from: ALLOWED, to: 'a@example.com', subject: 'tls pem', text: 'x' })
    const untrusted = new Mailer(tls.options({ caBundlePath: undefined, maxAttempts: 1 }))
    await assert.rejects(untrusted.send({ from: ALLOWED, to: 'a@example.com', subject: 'no', text: 'x' }), (e) => {
      assert.equal(e.code, 'ERR_CONFIG')
      assert.equal(e.field, 'GRAPHMAILER_CA_BUNDLE')
      assert.match(e.message, /not trusted/)
      assert.match(e.hint, /GRAPHMAILER_CA_BUNDLE/)
      return true
    })
    assert.deepEqual((await tls.messages()).map((m) => m.message.subject).sort(), ['tls file', 'tls pem'])
  } finally {
    await tls.stop()
  }
})
