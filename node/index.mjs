// ES module entry: the same objects as `require('graphmailer')`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const graphmailer = require('./index.js')

export const {
  Mailer,
  ClientCertificate,
  Outbox,
  isGraphMailerError,
  policyScript,
  version,
  errorCodes,
  policyWarnings,
  limits,
} = graphmailer
export default graphmailer
