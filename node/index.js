'use strict'
// The `graphmailer` package: the native addon (built from src/*.rs by
// napi-rs and loaded by the generated binding.js), plus what only JavaScript
// can add: `util.inspect` views that show a mailer's public settings and a
// certificate's thumbprint, and never a secret or a key; and reading a
// stream given to `sendMime` or `outbox.enqueueMime`.

const { inspect } = require('node:util')
const { Readable, addAbortSignal } = require('node:stream')
const binding = require('./binding.js')

const { Mailer, ClientCertificate, Outbox, limits } = binding

// `sendMime(stream)`: the addon takes bytes, so a Readable (or any async
// iterable) is read here, but only up to one byte past core's limit, which
// core then refuses with its own error; an aborted signal stops the reading.
const sendMimeBytes = Mailer.prototype.sendMime
Object.defineProperty(Mailer.prototype, 'sendMime', {
  ...Object.getOwnPropertyDescriptor(Mailer.prototype, 'sendMime'),
  value: async function sendMime(message, options) {
    if (isStream(message)) message = await collect(message, this.maxMimeBytes + 1, options?.signal)
    return sendMimeBytes.call(this, message, options)
  },
})

// `outbox.enqueueMime(stream)` reads a stream the same way.
const enqueueMimeBytes = Outbox.prototype.enqueueMime
Object.defineProperty(Outbox.prototype, 'enqueueMime', {
  ...Object.getOwnPropertyDescriptor(Outbox.prototype, 'enqueueMime'),
  value: async function enqueueMime(message, options) {
    if (isStream(message)) message = await collect(message, limits.maxLargeMimeBytes + 1)
    return enqueueMimeBytes.call(this, message, options)
  },
})

function isStream(message) {
  return message !== null && typeof message === 'object' && !ArrayBuffer.isView(message) && Symbol.asyncIterator in message
}

async function collect(source, limit, signal) {
  let stream = source instanceof Readable ? source : Readable.from(source, { objectMode: true })
  if (signal instanceof AbortSignal) stream = addAbortSignal(signal, stream)
  const chunks = []
  let size = 0
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    if (!(bytes instanceof Uint8Array)) {
      const error = new TypeError(
        `The "message" argument must yield Buffer, Uint8Array or string chunks. Received ${describe(chunk)}`,
      )
      error.code = 'ERR_INVALID_ARG_TYPE'
      throw error
    }
    chunks.push(bytes)
    size += bytes.length
    if (size >= limit) break // ends the iteration, which destroys the stream
  }
  return Buffer.concat(chunks, Math.min(size, limit))
}

function describe(value) {
  if (value === null || value === undefined) return String(value)
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  return `type ${typeof value}`
}

// A plain object of a few public values, printed under the class's name, so
// `console.log(mailer)` helps instead of printing `Mailer {}`.
const views = new Map()
function view(name, data) {
  if (!views.has(name)) views.set(name, { [name]: class {} }[name])
  return Object.assign(new (views.get(name))(), data)
}

Object.defineProperty(Mailer.prototype, inspect.custom, {
  value: function inspectMailer(depth, options, inspectFn = inspect) {
    if (!(this instanceof Mailer) || this === Mailer.prototype) return '[class Mailer]'
    const { tenantId, clientId, credential, cloud, graphEndpoint, allowedSenders, largeMessages } = this.toJSON()
    return inspectFn(
      view('Mailer', { tenantId, clientId, credential, cloud, graphEndpoint, allowedSenders, largeMessages }),
      options,
    )
  },
})

Object.defineProperty(ClientCertificate.prototype, inspect.custom, {
  value: function inspectCertificate(depth, options, inspectFn = inspect) {
    if (!(this instanceof ClientCertificate) || this === ClientCertificate.prototype) return '[class ClientCertificate]'
    return inspectFn(view('ClientCertificate', { thumbprint: this.thumbprint }), options)
  },
})

module.exports = binding
