// Sends never block Node's event loop: a 10 ms timer keeps ticking while 100
// sends are in flight, each held 50 ms by the emulator.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

import { Mailer } from '../index.mjs'
import { Emulator, ALLOWED } from './emulator.mjs'

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
