'use strict'
// The `graphmailer` package: the native addon (built from src/*.rs by
// napi-rs and loaded by the generated binding.js), plus what only JavaScript
// can add: `util.inspect` views that show a mailer's public settings and a
// certificate's thumbprint, and never a secret or a key.

const { inspect } = require('node:util')
const binding = require('./binding.js')

const { Mailer, ClientCertificate } = binding

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
    const { tenantId, clientId, credential, cloud, graphEndpoint, allowedSenders } = this.toJSON()
    return inspectFn(
      view('Mailer', { tenantId, clientId, credential, cloud, graphEndpoint, allowedSenders }),
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
