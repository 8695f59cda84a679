// Sends never block Node's event loop: a 10 ms timer keeps ticking while 100
// sends are in flight, each held 50 ms by the emulator.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'

import { Mailer } from '../index.mjs'
import { Emulator, ALLOWED, packageDir } from './emulator.mjs'

const run = promisify(execFile)

let emu
before(async () => {
  emu = await Emulator.start()
})
after(async () => {
  await emu?.stop()
})

test('a timer keeps ticking while 100 sends are in flight', async () => {
  await emu.reset()
  await emu.faults({ delay_ms: 50 })
  const mailer = new Mailer(emu.options())
  const delay = monitorEventLoopDelay({ resolution: 5 })
  const ticks = []
  const started = performance.now()
  const timer = setInterval(() => ticks.push(performance.now()), 10)
  delay.enable()

  const calling = performance.now()
  const sends = Array.from({ length: 100 }, (_, i) =>
    mailer.send({ from: ALLOWED, to: 'a@example.com', subject: `tick ${i}`, text: 'x' }),
  )
  const callMs = performance.now() - calling
  const receipts = await Promise.all(sends)
  const elapsed = performance.now() - started
  clearInterval(timer)
  delay.disable()

  assert.equal(receipts.length, 100)
  assert.equal((await emu.counters()).sends_accepted, 100)
  // Graph's 4 in flight per mailbox and 50 ms per send: at least 25 rounds.
  assert.ok(elapsed >= 25 * 50, `the sends took only ${elapsed.toFixed(0)} ms: the delay did not apply`)
  assert.ok(callMs < 1000, `starting 100 sends took ${callMs.toFixed(0)} ms: send() must return at once`)
  // A blocked loop would show one long gap and a handful of ticks.
  const gaps = ticks.slice(1).map((t, i) => t - ticks[i])
  const worst = Math.max(...gaps)
  assert.ok(ticks.length >= elapsed / 10 / 3, `only ${ticks.length} ticks in ${elapsed.toFixed(0)} ms`)
  assert.ok(worst < 250, `the timer stalled for ${worst.toFixed(0)} ms`)
  assert.ok(delay.max / 1e6 < 250, `the event loop was blocked for ${(delay.max / 1e6).toFixed(0)} ms`)
  assert.equal(mailer.tokenRequests, 1, 'the 100 sends shared one token')
})

test('diagnose() and verify() do not block the event loop either', async () => {
  await emu.reset()
  await emu.faults({ delay_ms: 300 })
  const mailer = new Mailer(emu.options())
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const started = performance.now()
  const verification = await mailer.verify({ allowed: [ALLOWED] })
  const diagnosis = await mailer.diagnose()
  const elapsed = performance.now() - started
  clearInterval(timer)
  assert.equal(verification.holds, true)
  assert.equal(diagnosis.tokenAcquired, true)
  assert.ok(elapsed >= 300)
  assert.ok(ticks >= elapsed / 10 / 3, `only ${ticks} ticks in ${elapsed.toFixed(0)} ms`)
})

// Each environment settles its promises through one libuv async handle,
// holding the loop open only while a promise is pending (src/promises.rs).

const indexJs = join(packageDir, 'index.js')

test('a pending send holds the process open until it settles, and an idle mailer lets it end', async () => {
  await emu.reset()
  await emu.faults({ delay_ms: 400 })
  // No top-level await and no timer: only the send keeps this program alive.
  const script = `
    const { Mailer } = require(${JSON.stringify(indexJs)})
    const mailer = new Mailer(${JSON.stringify(emu.options())})
    mailer
      .send({ from: ${JSON.stringify(ALLOWED)}, to: 'a@example.com', subject: 'held open', text: 'x' })
      .then((r) => console.log('sent', r.attempts), (e) => console.log('failed', e.code))
  `
  const started = performance.now()
  // A process the idle mailer held open would be killed by the timeout.
  const { stdout, stderr } = await run(process.execPath, ['-e', script], { timeout: 20_000 })
  const elapsed = performance.now() - started
  assert.equal(stdout, 'sent 1\n', stderr)
  assert.ok(elapsed >= 400, `ended after ${elapsed.toFixed(0)} ms, before the send settled`)
  assert.equal((await emu.counters()).sends_accepted, 1)
})

test('worker threads send side by side, and a worker ended mid-send leaves the others working', async () => {
  await emu.reset()
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Mailer } = require(${JSON.stringify(indexJs)})
    const mailer = new Mailer(workerData.options)
    const subjects = Array.from({ length: workerData.count }, (_, i) => workerData.name + ' ' + i)
    Promise.all(subjects.map((subject) => mailer.send({ from: workerData.from, to: 'a@example.com', subject, text: 'x' })))
      .then((receipts) => parentPort.postMessage(receipts.map((r) => r.attempts)))
    // After the sends began: a worker ended from here on has its mail on the way.
    parentPort.postMessage('started')
  `
  const worker = (name, count) =>
    new Worker(source, { eval: true, workerData: { options: emu.options(), from: ALLOWED, name, count } })
  const results = (w) =>
    new Promise((resolve, reject) => {
      w.on('message', (m) => m !== 'started' && resolve(m))
      w.on('error', reject)
    })

  const mailer = new Mailer(emu.options())
  const [a, b] = [worker('a', 5), worker('b', 5)]
  const [fromA, fromB, fromMain] = await Promise.all([
    results(a),
    results(b),
    Promise.all([0, 1, 2].map((i) => mailer.send({ from: ALLOWED, to: 'a@example.com', subject: `main ${i}`, text: 'x' }))),
  ])
  assert.deepEqual(fromA, [1, 1, 1, 1, 1])
  assert.deepEqual(fromB, [1, 1, 1, 1, 1])
  assert.deepEqual(fromMain.map((r) => r.attempts), [1, 1, 1])
  await Promise.all([a.terminate(), b.terminate()])

  // A worker ended while its send is held by the emulator: its environment
  // goes with the promise pending; the main thread's keep settling.
  await emu.faults({ delay_ms: 300 })
  const ended = worker('ended', 1)
  await new Promise((resolve) => ended.once('message', resolve))
  await ended.terminate()
  const receipt = await mailer.send({ from: ALLOWED, to: 'a@example.com', subject: 'after', text: 'x' })
  assert.equal(receipt.attempts, 1)
  // The ended worker's send goes on without its environment, and its
  // result has nowhere to go; the main thread's sends still settle after it.
  // 5 + 5 + 3 + 'after' so far: the 15th is the ended worker's.
  const stored = await emu.waitForMessages(15)
  assert.ok(stored.some((m) => m.message.subject === 'ended 0'), 'the ended worker\'s mail never arrived')
  const again = await mailer.send({ from: ALLOWED, to: 'a@example.com', subject: 'after the orphan', text: 'x' })
  assert.equal(again.attempts, 1)
  const subjects = (await emu.messages()).map((m) => m.message.subject)
  for (const s of ['a 4', 'b 0', 'main 2', 'ended 0', 'after', 'after the orphan']) assert.ok(subjects.includes(s), s)
})
