// Measures the Node package against plain Rust on one emulator:
//  - the time to `require('graphmailer')` (and to `import` it) in a fresh process;
//  - sends per second from Node with C sends in flight, and the same from
//    core's `send_throughput` example, with the same N and C; and the ratio.
//
//   node bench/bench.mjs [--count 2000] [--concurrency 16] [--rounds 3] [--no-build]
//
// By default it first builds the release addon (napi build --release --strip)
// and runs the Rust example in release mode, so both sides are optimised. It
// uses the release emulator when one is built, else the debug one. Prints a
// human summary and, last, one JSON line.

import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'

import { Emulator, packageDir, repoDir } from '../test/emulator.mjs'

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const count = option('--count', 2000)
const concurrency = option('--concurrency', 16)
const rounds = option('--rounds', 3)
const build = !args.includes('--no-build')
const triple = process.env.CARGO_BUILD_TARGET || 'x86_64-unknown-linux-gnu'
const cargoEnv = { ...process.env, CARGO_BUILD_TARGET: triple, CARGO_TERM_COLOR: 'never' }

if (build) {
  console.error('== building the release addon')
  execFileSync(join(packageDir, 'node_modules', '.bin', 'napi'), ['build', '--platform', '--release', '--strip', '--js', 'binding.js', '--dts', 'index.d.ts'], {
    cwd: packageDir,
    env: cargoEnv,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  console.error('== building the Rust example (release)')
  execFileSync('cargo', ['build', '--release', '-p', 'graphmailer', '--example', 'send_throughput'], {
    cwd: repoDir,
    env: cargoEnv,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
}

const release = join(repoDir, 'target', triple, 'release', 'graphmailer-emulator')
if (!process.env.GRAPHMAILER_EMULATOR && existsSync(release)) process.env.GRAPHMAILER_EMULATOR = release
const emulatorKind = (process.env.GRAPHMAILER_EMULATOR ?? '').includes('/release/') ? 'release' : 'debug'

const addon = join(packageDir, `graphmailer.linux-x64-gnu.node`)
const addonMb = existsSync(addon) ? statSync(addon).size / 1e6 : NaN

// ---- require / import time, each in a fresh process -----------------------
function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}
function loadTime(kind) {
  const entry = JSON.stringify(join(packageDir, kind === 'require' ? 'index.js' : 'index.mjs'))
  const code =
    kind === 'require'
      ? `const t = performance.now(); require(${entry}); console.log(performance.now() - t)`
      : `const t = performance.now(); await import(${entry}); console.log(performance.now() - t)`
  const runs = []
  for (let i = 0; i < 9; i++) {
    const r = spawnSync(process.execPath, kind === 'require' ? ['-e', code] : ['--input-type=module', '-e', code], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(r.stderr)
    runs.push(Number(r.stdout.trim()))
  }
  return median(runs)
}
const requireMs = loadTime('require')
const importMs = loadTime('import')

// ---- sends per second ----------------------------------------------------
const emu = await Emulator.start()
try {
  // Neither side may hit the emulator's per-mailbox rate limit.
  await emu.settings({ rate_limit_requests: 1_000_000 }).catch(() => {})

  const require = createRequire(import.meta.url)
  const { Mailer } = require('../index.js')
  const message = { from: 'erp@contoso.test', to: 'bench@example.com', subject: 'throughput', text: 'x' }

  async function nodeRun() {
    await emu.reset()
    await emu.settings({ rate_limit_requests: 1_000_000 }).catch(() => {})
    const mailer = new Mailer(emu.options())
    await mailer.send(message) // the token request, outside the clock
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          next++
          await mailer.send(message)
        }
      }),
    )
    return count / ((performance.now() - started) / 1000)
  }

  async function rustRun() {
    await emu.reset()
    await emu.settings({ rate_limit_requests: 1_000_000 }).catch(() => {})
    const rust = await new Promise((resolveRun, reject) => {
      // The built example itself, so no other build's lock on target/ is waited for.
      const example = join(repoDir, 'target', triple, 'release', 'examples', 'send_throughput')
      const [command, commandArgs] = existsSync(example)
        ? [example, []]
        : ['cargo', ['run', '--quiet', '--release', '-p', 'graphmailer', '--example', 'send_throughput', '--']]
      const child = spawn(command, [...commandArgs, '--count', String(count), '--concurrency', String(concurrency)], {
        cwd: repoDir,
        env: {
          ...cargoEnv,
          AZURE_TENANT_ID: emu.banner.tenant_id,
          AZURE_CLIENT_ID: emu.banner.client_id,
          AZURE_CLIENT_SECRET: emu.banner.client_secret,
          AZURE_AUTHORITY_HOST: emu.url,
          GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('exit', (code) => (code === 0 ? resolveRun(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`send_throughput exited ${code}`))))
    })
    return rust.sends_per_sec
  }

  // Alternate the two, so a busy moment of the machine hits both alike.
  const nodeRates = []
  const rustRates = []
  for (let i = 0; i < rounds; i++) {
    nodeRates.push(await nodeRun())
    rustRates.push(await rustRun())
    console.error(`== round ${i + 1}: Node ${nodeRates.at(-1).toFixed(0)}/s, Rust ${rustRates.at(-1).toFixed(0)}/s`)
  }
  const nodeRate = median(nodeRates)
  const rust = { sends_per_sec: median(rustRates) }

  const result = {
    count,
    concurrency,
    emulator: emulatorKind,
    addon_mb: Number(addonMb.toFixed(1)),
    require_ms: Number(requireMs.toFixed(1)),
    import_ms: Number(importMs.toFixed(1)),
    node_sends_per_sec: Number(nodeRate.toFixed(1)),
    rust_sends_per_sec: Number(rust.sends_per_sec.toFixed(1)),
    rounds,
    node_to_rust: Number((nodeRate / rust.sends_per_sec).toFixed(3)),
  }
  console.log(`require('graphmailer'): ${result.require_ms} ms (import: ${result.import_ms} ms), median of 9 fresh processes; addon ${result.addon_mb} MB`)
  console.log(`sends/s (median of ${rounds} alternating rounds), ${count} mails, ${concurrency} in flight, ${emulatorKind} emulator: Node ${result.node_sends_per_sec}, Rust ${result.rust_sends_per_sec}, Node/Rust ${result.node_to_rust}`)
  console.log(JSON.stringify(result))
} finally {
  await emu.stop()
}
