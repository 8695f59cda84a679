// Test support: starts the real emulator binary as a child process, reads
// its banner (the first stdout line, one JSON object) and talks to its test
// API over HTTP. Every test file starts its own emulator on a free port.

import { spawn } from 'node:child_process'
import http from 'node:http'
import https from 'node:https'
import { createInterface } from 'node:readline'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const here = dirname(fileURLToPath(import.meta.url))
export const packageDir = resolve(here, '..')
export const repoDir = resolve(packageDir, '..')

export const TENANT = '7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37'
export const CLIENT = '3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14'
export const SECRET = 'Emu8Q~erpSecretValue.0123456789abcdefghij'
export const EXPIRED_SECRET = 'Old8Q~expiredSecretValue.0123456789abcdef'
export const ALLOWED = 'erp@contoso.test'
export const DENIED = 'ceo@contoso.test'
/** A shared mailbox the ERP and Billing apps may both send as. */
export const SHARED = 'billing@contoso.test'
/** "Contoso Billing": Mail.Send and Mail.ReadWrite (what large messages need), same restriction as ERP. */
export const BILLING_CLIENT = 'b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d01'
export const BILLING_SECRET = 'Bil8Q~billingSecretValue.0123456789abcdef'

/** The emulator binary: $GRAPHMAILER_EMULATOR, or the workspace's debug build. */
export function emulatorPath() {
  const triple = process.env.CARGO_BUILD_TARGET || 'x86_64-unknown-linux-gnu'
  const candidates = [
    process.env.GRAPHMAILER_EMULATOR,
    join(repoDir, 'target', triple, 'debug', 'graphmailer-emulator'),
    join(repoDir, 'target', 'debug', 'graphmailer-emulator'),
  ].filter(Boolean)
  const found = candidates.find((p) => existsSync(p))
  if (!found) {
    throw new Error(
      `the emulator binary is missing (looked at ${candidates.join(', ')}); build it with cargo build -p graphmailer-emulator`,
    )
  }
  return found
}

export class Emulator {
  static async start({ https = false } = {}) {
    const args = ['--port', '0', '--bind', '127.0.0.1']
    if (!https) args.push('--http')
    const child = spawn(emulatorPath(), args, { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout })
    const banner = await new Promise((resolveBanner, reject) => {
      const timer = setTimeout(() => reject(new Error('the emulator printed no banner within 20 s')), 20_000)
      child.once('exit', (code) => reject(new Error(`the emulator exited (${code}) before its banner`)))
      lines.once('line', (line) => {
        clearTimeout(timer)
        resolveBanner(JSON.parse(line))
      })
    })
    // Keep draining stdout so the emulator never blocks on a full pipe.
    lines.on('line', () => {})
    return new Emulator(child, banner)
  }

  constructor(child, banner) {
    this.child = child
    this.banner = banner
    this.url = banner.url
  }

  /** `new Mailer(...)` options for the default ERP app, pointed at this emulator. */
  options(overrides = {}) {
    const options = {
      tenantId: this.banner.tenant_id,
      clientId: this.banner.client_id,
      clientSecret: this.banner.client_secret,
      authorityHost: this.url,
      graphEndpoint: this.url,
    }
    if (this.banner.ca_file) options.caBundlePath = this.banner.ca_file
    return { ...options, ...overrides }
  }

  // The test API over node:http(s), trusting the emulator's own CA for HTTPS.
  // `alsoOk` lists statuses besides 2xx whose body is an answer, not an error.
  call(method, path, body, alsoOk = []) {
    const url = new URL(`${this.url}/_emulator/${path}`)
    const transport = url.protocol === 'https:' ? https : http
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const options = {
      method,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      ca: this.banner.ca_file ? readFileSync(this.banner.ca_file) : undefined,
      agent: false,
    }
    return new Promise((resolveCall, reject) => {
      const request = transport.request(url, options, (response) => {
        const chunks = []
        response.on('data', (c) => chunks.push(c))
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          const ok = (response.statusCode >= 200 && response.statusCode <= 299) || alsoOk.includes(response.statusCode)
          if (!ok) {
            reject(new Error(`test API ${method} ${path}: ${response.statusCode} ${text}`))
          } else {
            resolveCall(text ? JSON.parse(text) : null)
          }
        })
      })
      request.on('error', reject)
      request.end(payload)
    })
  }

  async messages() {
    return (await this.call('GET', 'messages')).messages
  }
  /** Waits, in the emulator, until at least `count` mails were accepted or `timeoutMs` passed; returns the mails stored by then (check the count). */
  async waitForMessages(count, timeoutMs = 10_000) {
    return (await this.call('GET', `messages/wait?count=${count}&timeout_ms=${timeoutMs}`, undefined, [408])).messages
  }
  async counters() {
    return this.call('GET', 'counters')
  }
  /** Waits, in the emulator, until counter `name` is at least `atLeast` (so a test can act while a request is still being answered); returns the counters. */
  async waitForCounter(name, atLeast = 1, timeoutMs = 10_000) {
    return this.call('GET', `counters/wait?name=${name}&at_least=${atLeast}&timeout_ms=${timeoutMs}`)
  }
  async reset() {
    return this.call('POST', 'reset')
  }
  async faults(plan) {
    return this.call('PUT', 'faults', plan)
  }
  async settings(values) {
    return this.call('PUT', 'settings', values)
  }
  /** Drafts left in mailboxes (attachment names and sizes, no bytes). */
  async drafts() {
    return (await this.call('GET', 'drafts')).drafts
  }
  /**
   * Waits, in the emulator, for the drafts to change until `until` holds (a
   * number: that many drafts; else a function of the list) or `timeoutMs`
   * passed; returns the last list.
   */
  async waitForDrafts(until, timeoutMs = 10_000) {
    const done = typeof until === 'number' ? (drafts) => drafts.length === until : until
    const deadline = Date.now() + timeoutMs
    let since = ''
    for (;;) {
      // 200 on a change, 408 when the time ran out: both list the drafts.
      const { drafts, version } = await this.call('GET', `drafts/wait${since}`, undefined, [408])
      const left = deadline - Date.now()
      if (done(drafts) || left <= 0) return drafts
      since = `?version=${version}&timeout_ms=${Math.max(1, Math.ceil(left))}`
    }
  }

  async stop() {
    if (this.child.exitCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGTERM')
    await exited
  }
}

/** `a.b.0.c` into a stored record. */
export function at(value, path) {
  return path.split('.').reduce((v, key) => (v == null ? undefined : v[key]), value)
}

/** A fixture file's path. */
export function fixture(name) {
  return join(here, 'fixtures', name)
}

export function readFixture(name) {
  return readFileSync(fixture(name))
}
