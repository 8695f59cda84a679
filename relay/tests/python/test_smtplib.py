"""Python's own smtplib against `graphmailer relay --demo`: STARTTLS with
AUTH, implicit TLS, and the refusals a client must see. Messages are read
back from the emulator's test API; attachments must arrive byte for byte.

Run: GRAPHMAILER_BIN=path/to/graphmailer python3 test_smtplib.py
"""

import base64
import json
import os
import smtplib
import ssl
import subprocess
import sys
import unittest
import urllib.request
from email.message import EmailMessage

BIN = os.environ.get("GRAPHMAILER_BIN", "graphmailer")
demo = None
banner = None


def setUpModule():
    global demo, banner
    demo = subprocess.Popen(
        [BIN, "relay", "--demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    banner = json.loads(demo.stdout.readline())


def tearDownModule():
    demo.terminate()
    demo.wait(timeout=60)


def tls_context():
    return ssl.create_default_context(cafile=banner["ca_file"])


def host_port(key):
    host, port = banner[key].rsplit(":", 1)
    return host, int(port)


def emulator_messages(count):
    """Waits (on the emulator's own wait call) for `count` messages."""
    emu = banner["emulator"]
    ctx = ssl.create_default_context(cafile=emu["ca_file"])
    url = f"{emu['url']}/_emulator/messages/wait?count={count}&timeout_ms=60000"
    with urllib.request.urlopen(url, context=ctx) as r:
        return json.load(r)["messages"]


def message(subject, sender=None, attachment=None):
    m = EmailMessage()
    m["From"] = sender or banner["allowed_sender"]
    m["To"] = "ap@fabrikam.example"
    m["Subject"] = subject
    m.set_content("Sent by smtplib through the relay.")
    if attachment is not None:
        m.add_attachment(
            attachment,
            maintype="application",
            subtype="octet-stream",
            filename="scan.bin",
        )
    return m


sent_so_far = 0


def expect_arrival(test, subject):
    global sent_so_far
    sent_so_far += 1
    found = [
        m for m in emulator_messages(sent_so_far) if m["message"]["subject"] == subject
    ]
    test.assertEqual(len(found), 1, subject)
    return found[0]


class SmtplibThroughTheRelay(unittest.TestCase):
    def test_starttls_auth_and_an_attachment_byte_for_byte(self):
        data = bytes((i * 7) % 256 for i in range(300_000))
        with smtplib.SMTP(*host_port("smtp"), timeout=60) as s:
            s.starttls(context=tls_context())
            s.login(banner["username"], banner["password"])
            s.send_message(message("smtplib starttls", attachment=data))
            code, text = s.noop()
            self.assertEqual(code, 250)
        got = expect_arrival(self, "smtplib starttls")
        attachment = got["message"]["attachments"][0]
        self.assertEqual(attachment["name"], "scan.bin")
        self.assertEqual(base64.b64decode(attachment["contentBytes"]), data)

    def test_implicit_tls(self):
        with smtplib.SMTP_SSL(*host_port("smtps"), context=tls_context(), timeout=60) as s:
            s.login(banner["username"], banner["password"])
            s.send_message(message("smtplib implicit tls"))
        expect_arrival(self, "smtplib implicit tls")

    def test_the_reply_to_data_names_the_queue_id(self):
        with smtplib.SMTP(*host_port("smtp"), timeout=60) as s:
            s.starttls(context=tls_context())
            s.login(banner["username"], banner["password"])
            s.mail(banner["allowed_sender"])
            s.rcpt("ap@fabrikam.example")
            code, text = s.data(message("smtplib queue id").as_bytes())
            self.assertEqual(code, 250)
            self.assertIn(b"2.0.0 queued as ", text)
        expect_arrival(self, "smtplib queue id")

    def test_auth_before_starttls_is_refused(self):
        with smtplib.SMTP(*host_port("smtp"), timeout=60) as s:
            s.ehlo()
            self.assertNotIn("auth", s.esmtp_features)
            token = base64.b64encode(
                f"\0{banner['username']}\0{banner['password']}".encode()
            ).decode()
            code, text = s.docmd("AUTH", "PLAIN " + token)
            self.assertEqual(code, 538)
            self.assertIn(b"5.7.11", text)

    def test_a_wrong_password_is_refused(self):
        with smtplib.SMTP(*host_port("smtp"), timeout=60) as s:
            s.starttls(context=tls_context())
            with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
                s.login(banner["username"], "not the password")
            self.assertEqual(e.exception.smtp_code, 535)

    def test_a_sender_not_allowed_is_refused_at_mail_from(self):
        with smtplib.SMTP(*host_port("smtp"), timeout=60) as s:
            s.starttls(context=tls_context())
            s.login(banner["username"], banner["password"])
            with self.assertRaises(smtplib.SMTPSenderRefused) as e:
                s.send_message(message("denied", sender=banner["denied_sender"]))
            self.assertEqual(e.exception.smtp_code, 550)
            self.assertIn(b"5.7.1", e.exception.smtp_error)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
