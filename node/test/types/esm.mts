// The ES module entry's types: named imports and the default export, and the
// types of diagnose(), verify(), policyScript() and ClientCertificate.
// Checked by `tsc --noEmit`, never run.
import graphmailer, {
  ClientCertificate,
  Mailer,
  errorCodes,
  policyScript,
  policyWarnings,
  version,
  type Diagnosis,
  type ErrorCode,
  type GraphMailerError,
  type MailerOptions,
  type PolicyStyle,
  type Verification,
} from 'graphmailer'

const options: MailerOptions = {
  tenantId: 'contoso.onmicrosoft.com',
  clientId: '3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14',
  clientCertificate: ClientCertificate.fromPath('app.pfx', 'password'),
  allowedSenders: ['erp@contoso.com'],
  cloud: 'usgov',
  timeout: 30_000,
}
const mailer: Mailer = new graphmailer.Mailer(options)
const byPath = new Mailer({ ...options, clientCertificate: { path: 'app.pem' } })
const thumbprint: string = ClientCertificate.fromPem('...', '...').thumbprint

const diagnosis: Diagnosis = await mailer.diagnose()
const severities: Array<'info' | 'warning' | 'error'> = diagnosis.findings.map((f) => f.severity)
const failed: ErrorCode | undefined = diagnosis.error?.code

const verification: Verification = await byPath.verify({
  allowed: ['erp@contoso.com'],
  denied: ['ceo@contoso.com'],
  wait: 7_200_000,
  onProgress: (round, remainingMs) => console.log(round.round, round.holds, remainingMs / 1000),
})
const holds: boolean = verification.holds && verification.rows.every((r) => r.observed !== 'failed')

const style: PolicyStyle = 'rbac'
const script: string = policyScript({ appId: options.clientId, servicePrincipalId: '...', mailboxes: ['erp@contoso.com'] }, style)

const codes: readonly ErrorCode[] = errorCodes
const warnings: readonly string[] = policyWarnings
const e = new Error('x') as GraphMailerError
const graphCode: string | undefined = e.graphCode

// @ts-expect-error: a message needs `from`
void mailer.send({ to: 'a@example.com' })
// @ts-expect-error: importance is low, normal or high
void mailer.send({ from: 'erp@contoso.com', importance: 'urgent' })

export { version, severities, failed, holds, script, codes, warnings, graphCode, thumbprint }
