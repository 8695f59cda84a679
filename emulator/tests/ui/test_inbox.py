"""The web inbox in headless Chromium, driven through the DevTools protocol.

Starts `graphmailer emulator`, sends mail with `graphmailer send` (the
library), and checks what a person sees: a new message appears within a
second without a reload; its HTML renders while its <script> does not run
and its remote image is not fetched until asked; an attachment downloads
byte for byte; the tenant page shows the default policy. Screenshots go to
the folder given as the first argument. Ends with "N passed, N failed".
"""

import asyncio
import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import websockets

GRAPHMAILER = os.environ["GRAPHMAILER_BIN"]
LOGS = sys.argv[1]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--window-size=1440,900", "--remote-debugging-port=0",
]

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}", flush=True)


class Probe(http.server.BaseHTTPRequestHandler):
    """A remote host for the message's image: counts what the browser fetches."""
    hits = []

    def do_GET(self):
        Probe.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="))

    def log_message(self, *args):
        pass


class Cdp:
    """The few DevTools calls the test needs, over one page's websocket."""

    def __init__(self, ws):
        self.ws, self.next_id, self.pending, self.events = ws, 0, {}, []
        self.event_waiters = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self.pending:
                self.pending.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                self.events.append(msg)
                for method, future in list(self.event_waiters):
                    if method == msg["method"] and not future.done():
                        future.set_result(msg)

    async def send(self, method, session=None, **params):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        msg = await asyncio.wait_for(future, 20)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]

    def expect(self, method):
        future = asyncio.get_running_loop().create_future()
        self.event_waiters.append((method, future))
        return future

    async def wait_event(self, method, predicate, timeout=10):
        """Waits for an event, counting those that came before the call."""
        deadline = time.monotonic() + timeout
        while True:
            # Registered before the scan, with no await between: nothing
            # can arrive unseen.
            future = self.expect(method)
            if any(e["method"] == method and predicate(e) for e in self.events):
                return
            await asyncio.wait_for(future, max(deadline - time.monotonic(), 0.01))

    async def js(self, expression, context=None):
        """Evaluates in the page, or in a frame's isolated world given as
        (session, context id); awaits promises."""
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        session = None
        if context is not None:
            session, params["contextId"] = context
        result = await self.send("Runtime.evaluate", session=session, **params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, condition, timeout_ms=5000, context=None):
        """Waits in the page for `condition` (a JS expression) to hold."""
        return await self.js(
            f"""new Promise((resolve, reject) => {{
                const start = performance.now();
                const test = () => {{
                    let value; try {{ value = ({condition}); }} catch (e) {{ value = false; }}
                    if (value) return resolve(value);
                    if (performance.now() - start > {timeout_ms}) return reject(new Error("timed out: " + {json.dumps(condition)}));
                    requestAnimationFrame(test);
                }};
                test();
            }})""",
            context,
        )

    async def screenshot(self, name):
        shot = await self.send("Page.captureScreenshot", format="png")
        path = os.path.join(LOGS, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(f"     screenshot {path}")


async def body_frame_context(cdp, wanted_url_part):
    """An isolated world in the message body's frame: it sees the frame's
    DOM without running in (or enabling) the frame's own scripts. Chromium
    may put a sandboxed frame in a process of its own (then it is a target
    of its own, attached automatically) or keep it in the page's."""
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline:
        sessions = [None] + [e["params"]["sessionId"] for e in cdp.events
                             if e["method"] == "Target.attachedToTarget"]
        seen = []
        for session in sessions:
            try:
                tree = await cdp.send("Page.getFrameTree", session=session)
            except RuntimeError:
                continue  # a frame target that has gone since
            frames = [tree["frameTree"]] + tree["frameTree"].get("childFrames", [])
            for node in frames:
                frame = node["frame"]
                seen.append(frame["url"])
                if wanted_url_part not in frame["url"]:
                    continue
                world = await cdp.send("Page.createIsolatedWorld", session=session,
                                       frameId=frame["id"], worldName="test")
                context = (session, world["executionContextId"])
                if await cdp.js("document.readyState", context) == "complete":
                    return context
        await asyncio.sleep(0.05)  # polling the frames: there is no event for "loaded in that frame"
    raise RuntimeError(f"no loaded frame with {wanted_url_part} among {seen}")


def send_mail(banner, env, subject, html, attachment):
    started = time.monotonic()
    subprocess.run(
        [GRAPHMAILER, "send", "--from", banner["allowed_sender"], "--to", "Ann <ann@fabrikam.example>",
         "--cc", "billing@contoso.test", "--subject", subject, "--html", html,
         "--attach", attachment, "--header", "x-erp-batch: 42", "--json"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


async def run(banner, env, probe_port, work):
    inbox = banner["inbox"]
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=work)
    # TMPDIR too: Chromium makes its singleton socket's folder there, outside
    # the profile, and leaves it behind.
    browser = subprocess.Popen(
        ["chromium", *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, TMPDIR=work),
    )
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # Chromium writes the file once it listens
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        async with websockets.connect(page["webSocketDebuggerUrl"], max_size=None) as ws:
            cdp = Cdp(ws)
            await cdp.send("Page.enable")
            await cdp.send("Runtime.enable")
            await cdp.send("Target.setAutoAttach", autoAttach=True, waitForDebuggerOnStart=False, flatten=True)
            loaded = cdp.expect("Page.loadEventFired")
            await cdp.send("Page.navigate", url=inbox)
            await asyncio.wait_for(loaded, 10)
            await cdp.until("document.querySelector('#live.on')")
            await cdp.js("window.__sameDocument = 'yes'")

            # 1. A message sent through the library appears without a reload.
            payload = bytes(range(256)) * 300 + b"\x00end"
            attachment = os.path.join(work, "statement-4711.bin")
            with open(attachment, "wb") as f:
                f.write(payload)
            html = (
                '<h1 id="greeting">Dear Ann</h1><p>Your statement is attached.</p>'
                f'<img id="remote" src="http://127.0.0.1:{probe_port}/remote.gif" alt="remote">'
                '<script>document.body.setAttribute("data-script-ran", "yes");</script>'
            )
            send_mail(banner, env, "Statement 4711", html, attachment)
            sent_at = time.monotonic()
            await cdp.until("[...document.querySelectorAll('#message-list li')].some(li => li.textContent.includes('Statement 4711'))", 2000)
            latency = time.monotonic() - sent_at
            print(f"     appeared {latency * 1000:.0f} ms after the send returned")
            check("a sent message appears within a second", latency < 1.0, f"{latency:.2f} s")
            check("without a reload", await cdp.js("window.__sameDocument") == "yes")

            # 2. Its HTML renders; its script does not run; the remote image waits.
            await cdp.js("document.querySelector('#message-list li').click()")
            await cdp.until("document.getElementById('m-subject').textContent === 'Statement 4711'")
            frame = await body_frame_context(cdp, "/body")
            greeting = await cdp.js("document.getElementById('greeting') && document.getElementById('greeting').textContent", frame)
            check("the HTML body renders", greeting == "Dear Ann", repr(greeting))
            ran = await cdp.js("document.body.getAttribute('data-script-ran')", frame)
            check("its <script> does not run", ran is None, repr(ran))
            check("its remote image is not fetched", Probe.hits == [], repr(Probe.hits))
            await cdp.screenshot("ui-message.png")

            await cdp.js("document.getElementById('m-remote').click()")
            await cdp.until("document.getElementById('m-body').src.includes('remote=1')")
            await body_frame_context(cdp, "remote=1")
            check("the remote image loads once asked", Probe.hits == ["/remote.gif"], repr(Probe.hits))
            await cdp.screenshot("ui-message-remote-images.png")

            # 3. The attachment downloads byte for byte.
            downloads = os.path.join(work, "downloads")
            os.makedirs(downloads)
            await cdp.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=downloads, eventsEnabled=True)
            await cdp.js("document.querySelector('#m-attachments a').click()")
            await cdp.wait_event("Browser.downloadProgress",
                                 lambda e: e["params"]["state"] in ("completed", "canceled"))
            saved = os.path.join(downloads, "statement-4711.bin")
            got = open(saved, "rb").read() if os.path.exists(saved) else b""
            check("the attachment downloads byte for byte", got == payload, f"{len(got)} of {len(payload)} bytes")

            # 4. The tenant page shows the default policy, and Test-ApplicationAccessPolicy.
            await cdp.js("document.querySelector('nav button[data-page=tenant]').click()")
            row = await cdp.until(
                "[...document.querySelectorAll('#policies tr')].map(r => r.textContent).find(t => t.includes('RestrictAccess') && t.includes('erp-senders@contoso.test'))"
            )
            check("the tenant page shows the default policy", "Contoso ERP" in row, row)
            await cdp.js(f"document.getElementById('pt-app').value = '{banner['client_id']}'")
            await cdp.js(f"document.getElementById('pt-mailbox').value = '{banner['denied_sender']}'")
            await cdp.js("document.querySelector('#policy-test button').click()")
            verdict = await cdp.until("document.querySelector('#pt-result .denied') && document.querySelector('#pt-result .denied').textContent")
            check("Test-ApplicationAccessPolicy denies the CEO's mailbox", verdict == "Denied", verdict)
            await cdp.screenshot("ui-tenant.png")
            await cdp.js("document.getElementById('policy-test').scrollIntoView()")
            await cdp.screenshot("ui-tenant-policy-test.png")
            cdp.reader.cancel()
    finally:
        browser.terminate()
        browser.wait(10)


def main():
    work = tempfile.mkdtemp(prefix="graphmailer-ui-")
    probe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Probe)
    threading.Thread(target=probe.serve_forever, daemon=True).start()
    emulator = subprocess.Popen([GRAPHMAILER, "emulator", "--http", "--port", "0"],
                                stdout=subprocess.PIPE, text=True)
    try:
        banner = json.loads(emulator.stdout.readline())
        env = dict(os.environ,
                   AZURE_TENANT_ID=banner["tenant_id"], AZURE_CLIENT_ID=banner["client_id"],
                   AZURE_CLIENT_SECRET=banner["client_secret"], AZURE_AUTHORITY_HOST=banner["url"],
                   GRAPHMAILER_GRAPH_ENDPOINT=banner["url"])
        check("the banner names the inbox", banner.get("inbox") == banner["url"] + "/", repr(banner.get("inbox")))
        try:
            asyncio.run(run(banner, env, probe.server_address[1], work))
        except Exception as error:  # a step that could not run counts as a failure
            check("the browser steps ran to the end", False, repr(error))
    finally:
        emulator.terminate()
        emulator.wait(10)
        probe.shutdown()
        # The browser's profile and the downloads: a few MB a run otherwise left behind.
        shutil.rmtree(work, ignore_errors=True)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
