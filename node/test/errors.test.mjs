// Every error kind reaches JavaScript as an `Error` with its stable `code`
// (core's `ErrorKind::code()`), the service's code, the request id and a hint;
// wrong argument types throw `TypeError`s naming the argument; the secret
// never shows in `util.inspect` of a mailer or in any error.

import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { inspect, format } from 'node:util'

import { Mailer, isGraphMailerError, errorCodes } from '../index.mjs'
import { Emulator, ALLOWED, DENIED, SECRET, TENANT, CLIENT } from './emulator.mjs'

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

const plain = (from = ALLOWED) => ({ from, to: 'a@example.com', subject: 'Hi', text: 'x' })

/** Everything a log line could show of a value. */
function shown(value) {
  return [
    inspect(value, { showHidden: true, depth: Infinity, getters: true }),
    format('%o', value),
    JSON.stringify(value) ?? '',
    String(value),
    value instanceof Error ? value.stack : '',
  ].join('\n')
}

async function refusal(mailer, message) {
  const error = await mailer.send(message).then(
    () => assert.fail('the send should have been refused'),
    (e) => e,
  )
  assert.ok(error instanceof Error)
  assert.ok(isGraphMailerError(error), `not a graphmailer error: ${error}`)
  assert.ok(errorCodes.includes(error.code))
  assert.ok(!shown(error).includes(SECRET), 'the secret leaked into an error')
  return error
}

test('errorCodes lists one code per kind, in the order of their numbers', () => {
  assert.deepEqual(errorCodes, [
    'ERR_CONFIG',
    'ERR_INVALID_MESSAGE',
    'ERR_SENDER_NOT_ALLOWED',
    'ERR_AUTHENTICATION',
    'ERR_ACCESS_DENIED',
    'ERR_MAILBOX_NOT_FOUND',
    'ERR_THROTTLED',
    'ERR_TRANSIENT',
    'ERR_AMBIGUOUS_DELIVERY',
    'ERR_SERVICE',
  ])
  assert.ok(Object.isFrozen(errorCodes))
})

test('ERR_CONFIG names the setting, thrown synchronously by the constructor', () => {
  assert.throws(() => new Mailer(emu.options({ clientId: 'my-app' })), (e) => {
    assert.ok(e instanceof Error && !(e instanceof TypeError))
    assert.equal(e.code, 'ERR_CONFIG')
    assert.equal(e.field, 'AZURE_CLIENT_ID')
    assert.match(e.message, /not a GUID/)
    return true
  })
  assert.throws(() => new Mailer(emu.options({ cloud: 'mars' })), { code: 'ERR_CONFIG', field: 'GRAPHMAILER_CLOUD' })
  assert.throws(() => new Mailer(emu.options({ maxAttempts: 11 })), { code: 'ERR_CONFIG', field: 'GRAPHMAILER_MAX_ATTEMPTS' })
  assert.throws(() => new Mailer(emu.options({ clientSecret: undefined })), { code: 'ERR_CONFIG', field: 'AZURE_CLIENT_SECRET' })
  assert.throws(() => new Mailer(emu.options({ allowedSenders: ['not a mailbox'] })), {
    code: 'ERR_CONFIG',
    field: 'allowed_senders[0]',
  })
  assert.throws(() => Mailer.fromEnv({}), { code: 'ERR_CONFIG', field: 'AZURE_TENANT_ID' })
  assert.throws(() => Mailer.fromFile('/nonexistent/graphmailer.toml'), { code: 'ERR_CONFIG' })
})

test('ERR_INVALID_MESSAGE names the message field', async () => {
  const e = await refusal(new Mailer(emu.options()), { ...plain(), to: ['a@example.com', 'not an address'] })
  assert.equal(e.code, 'ERR_INVALID_MESSAGE')
  assert.equal(e.field, 'to[1].address')
  assert.equal((await emu.counters()).token_requests, 0)
})

test('ERR_SENDER_NOT_ALLOWED before any network call, with a hint', async () => {
  const mailer = new Mailer(emu.options({ allowedSenders: [ALLOWED] }))
  const e = await refusal(mailer, plain(DENIED))
  assert.equal(e.code, 'ERR_SENDER_NOT_ALLOWED')
  assert.equal(e.field, 'sender')
  assert.ok(e.hint.includes(ALLOWED), e.hint)
  assert.equal(mailer.tokenRequests, 0)
})

test('ERR_AUTHENTICATION carries the AADSTS code, the request id and a hint', async () => {
  const wrong = 'Wrong8Q~notTheSecretValue.0123456789abcdef'
  const e = await refusal(new Mailer(emu.options({ clientSecret: wrong, maxAttempts: 1 })), plain())
  assert.equal(e.code, 'ERR_AUTHENTICATION')
  assert.equal(e.graphCode, 'AADSTS7000215')
  assert.ok(e.requestId, 'the identity platform trace id')
  assert.ok(e.hint)
  assert.equal(e.status, 401)
  assert.ok(e.message.includes(e.hint) && e.message.includes('AADSTS7000215'))
  assert.ok(!shown(e).includes(wrong), 'the wrong secret leaked')
})

test('ERR_ACCESS_DENIED for a mailbox outside the access policy', async () => {
  const e = await refusal(new Mailer(emu.options()), plain(DENIED))
  assert.equal(e.code, 'ERR_ACCESS_DENIED')
  assert.equal(e.graphCode, 'ErrorAccessDenied')
  assert.equal(e.status, 403)
  assert.ok(e.requestId)
  assert.ok(e.hint.includes(DENIED), e.hint)
})

test('ERR_MAILBOX_NOT_FOUND for an unknown mailbox', async () => {
  const e = await refusal(new Mailer(emu.options()), plain('nobody@contoso.test'))
  assert.equal(e.code, 'ERR_MAILBOX_NOT_FOUND')
  assert.equal(e.graphCode, 'ErrorInvalidUser')
  assert.equal(e.status, 404)
  assert.ok(e.hint && e.requestId)
})

test('ERR_THROTTLED after the allowed retries, with retryAfter in milliseconds', async () => {
  await emu.faults({ send: [{ status: 429, retry_after_secs: 1 }, { status: 429, retry_after_secs: 1 }] })
  const e = await refusal(new Mailer(emu.options({ maxAttempts: 2 })), plain())
  assert.equal(e.code, 'ERR_THROTTLED')
  assert.equal(e.status, 429)
  assert.equal(e.retryAfter, 1000)
  assert.ok(e.hint && e.graphCode && e.requestId, e.message)
  assert.equal((await emu.counters()).send_requests, 2)
  assert.deepEqual(await emu.messages(), [])
})

test('a throttled send that succeeds on retry reports its attempts', async () => {
  await emu.faults({ send: [{ status: 429, retry_after_secs: 0 }] })
  const receipt = await new Mailer(emu.options()).send(plain())
  assert.equal(receipt.attempts, 2)
  assert.equal((await emu.messages()).length, 1)
})

test('ERR_TRANSIENT when Graph answers 503 on every attempt; nothing was sent', async () => {
  await emu.faults({ send: [{ status: 503 }] })
  const e = await refusal(new Mailer(emu.options({ maxAttempts: 1 })), plain())
  assert.equal(e.code, 'ERR_TRANSIENT')
  assert.equal(e.status, 503)
  assert.ok(e.hint.includes('Nothing was sent'), e.hint)
})

test('ERR_AMBIGUOUS_DELIVERY when the connection dies after the body: never retried', async () => {
  await emu.faults({ send: [{ drop_after_body: true, deliver: true }] })
  const e = await refusal(new Mailer(emu.options()), plain())
  assert.equal(e.code, 'ERR_AMBIGUOUS_DELIVERY')
  assert.ok(e.hint, e.message)
  const counters = await emu.counters()
  assert.equal(counters.send_requests, 1, 'not retried')
  assert.equal((await emu.messages()).length, 1, 'the mail did go out')
})

test('ERR_SERVICE for any other answer', async () => {
  await emu.faults({ send: [{ status: 418, code: 'ImATeapot', message: 'short and stout' }] })
  const e = await refusal(new Mailer(emu.options({ maxAttempts: 1 })), plain())
  assert.equal(e.code, 'ERR_SERVICE')
  assert.equal(e.status, 418)
  assert.equal(e.graphCode, 'ImATeapot')
  assert.ok(e.requestId)
})

test('isGraphMailerError tells graphmailer errors from others', () => {
  assert.equal(isGraphMailerError(new Error('x')), false)
  assert.equal(isGraphMailerError(Object.assign(new Error('x'), { code: 'ENOENT' })), false)
  assert.equal(isGraphMailerError({ code: 'ERR_CONFIG' }), false, 'not an Error')
  assert.equal(isGraphMailerError(null), false)
  assert.equal(isGraphMailerError('ERR_CONFIG'), false)
  assert.equal(isGraphMailerError(Object.assign(new Error('x'), { code: 'ERR_CONFIG' })), true)
})

test('wrong option types throw a TypeError naming the option', () => {
  const cases = [
    [() => new Mailer(), /"options" argument must be of type object. Received undefined/],
    [() => new Mailer('tenant'), /"options" argument must be of type object/],
    [() => new Mailer(emu.options({ tenantId: 42 })), /"options.tenantId" argument must be of type string. Received type number \(42\)/],
    [() => new Mailer(emu.options({ allowedSenders: 'erp@contoso.test' })), /"options.allowedSenders" argument must be an array/],
    [() => new Mailer(emu.options({ allowedSenders: ['a@b.test', 7] })), /"options.allowedSenders\[1\]" argument must be of type string/],
    [() => new Mailer(emu.options({ timeout: '30s' })), /"options.timeout" argument must be of type number/],
    [() => new Mailer(emu.options({ caBundlePem: 12 })), /"options.caBundlePem" argument must be of type string or an instance of Buffer/],
    [() => Mailer.fromFile(12), /"path" argument must be of type string/],
    [() => Mailer.fromEnv('x'), /"env" argument must be of type object/],
  ]
  for (const [call, message] of cases) {
    assert.throws(call, (e) => {
      assert.ok(e instanceof TypeError, `${e}`)
      assert.equal(e.code, 'ERR_INVALID_ARG_TYPE')
      assert.match(e.message, message)
      return true
    })
  }
  assert.throws(() => new Mailer(emu.options({ tenantID: 'x' })), (e) => {
    assert.ok(e instanceof TypeError)
    assert.equal(e.code, 'ERR_INVALID_ARG_VALUE')
    assert.match(e.message, /"options" argument has an unknown property 'tenantID'/)
    return true
  })
  assert.throws(() => new Mailer(emu.options({ timeout: -5 })), (e) => {
    assert.ok(e instanceof RangeError)
    assert.equal(e.code, 'ERR_OUT_OF_RANGE')
    assert.match(e.message, /"options.timeout"/)
    return true
  })
})

test('wrong message types reject with a TypeError naming the field', async () => {
  const mailer = new Mailer(emu.options())
  const cases = [
    [undefined, /"message" argument must be of type object. Received undefined/],
    [{ to: 'a@example.com' }, /"message.from" argument must be of type string/],
    [{ ...plain(), from: 5 }, /"message.from" argument must be of type string. Received type number \(5\)/],
    [{ ...plain(), to: ['a@example.com', 3] }, /"message.to\[1\]" argument must be of type string or an object/],
    [{ ...plain(), cc: [{ name: 'x' }] }, /"message.cc\[0\].address" argument must be of type string/],
    [{ ...plain(), subject: ['x'] }, /"message.subject" argument must be of type string. Received an instance of Array/],
    [{ ...plain(), saveToSentItems: 'no' }, /"message.saveToSentItems" argument must be of type boolean/],
    [{ ...plain(), headers: { 'x-a': 1 } }, /"message.headers\['x-a'\]" argument must be of type string/],
    [{ ...plain(), attachments: 'a.pdf' }, /"message.attachments" argument must be an array/],
    [{ ...plain(), attachments: [{ name: 'a', content: 12 }] }, /"message.attachments\[0\].content" argument must be of type string or an instance of Buffer or Uint8Array/],
  ]
  for (const [message, pattern] of cases) {
    const promise = mailer.send(message)
    assert.ok(promise instanceof Promise, 'bad input rejects the Promise instead of throwing')
    await assert.rejects(promise, (e) => {
      assert.ok(e instanceof TypeError, `${e}`)
      assert.equal(e.code, 'ERR_INVALID_ARG_TYPE')
      assert.match(e.message, pattern)
      return true
    })
  }
  for (const [message, pattern] of [
    [{ ...plain(), html: '<p>x</p>' }, /"message.html" argument cannot be given together with message.text/],
    [{ ...plain(), attachment: [] }, /unknown property 'attachment'/],
    [{ ...plain(), attachments: [{ name: 'a' }] }, /has neither content nor path/],
  ]) {
    await assert.rejects(mailer.send(message), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE' && pattern.test(e.message))
  }
  assert.equal((await emu.counters()).token_requests, 0)
})

test('the secret never shows in util.inspect, JSON or the properties of a mailer', () => {
  const mailer = new Mailer(emu.options())
  for (const view of [
    shown(mailer),
    inspect({ mailer }, { depth: Infinity }),
    Object.getOwnPropertyNames(mailer).join(','),
    Object.getOwnPropertyNames(Object.getPrototypeOf(mailer))
      .filter((k) => k !== 'constructor')
      .map((k) => {
        try {
          return String(mailer[k])
        } catch {
          return ''
        }
      })
      .join(','),
  ]) {
    assert.ok(!view.includes(SECRET), 'the secret leaked')
  }
  const view = inspect(mailer)
  assert.match(view, /^Mailer \{/)
  assert.ok(view.includes(TENANT) && view.includes(CLIENT) && view.includes('client secret'))
  assert.equal(mailer.toJSON().credential, 'client secret')
})

test('a secret of the wrong type is reported by its type only', () => {
  const secretNumber = 987654321123
  for (const call of [
    () => new Mailer(emu.options({ clientSecret: secretNumber })),
    () => Mailer.fromEnv({ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: secretNumber }),
  ]) {
    assert.throws(call, (e) => {
      assert.ok(e instanceof TypeError)
      assert.match(e.message, /Received type number$/)
      assert.ok(!shown(e).includes(String(secretNumber)), 'the value leaked')
      return true
    })
  }
})

test("an exception thrown while reading the message is the caller's own, thrown as it is", () => {
  const mailer = new Mailer(emu.options())
  const own = new RangeError('from a getter')
  assert.throws(
    () =>
      mailer.send({
        from: ALLOWED,
        get to() {
          throw own
        },
      }),
    (e) => e === own,
  )
})
