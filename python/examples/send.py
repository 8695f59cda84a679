"""Send one mail with the settings of the environment.

    AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=... \\
        python examples/send.py --sender erp@contoso.com --to someone@example.com

Against the emulator, also set AZURE_AUTHORITY_HOST and
GRAPHMAILER_GRAPH_ENDPOINT to its URL (``graphmailer.testing.Emulator``'s
``environment()`` gives all of them).
"""

from __future__ import annotations

import argparse
import sys

import graphmailer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sender", required=True, help="the mailbox to send as")
    parser.add_argument("--to", required=True, action="append", help="a recipient (repeat for more)")
    parser.add_argument("--subject", default="Hello from graphmailer")
    parser.add_argument("--text", default="This mail was sent through Microsoft Graph.")
    parser.add_argument("--attach", action="append", default=[], help="a file to attach (repeat for more)")
    args = parser.parse_args()

    try:
        mailer = graphmailer.Mailer.from_env()
        receipt = mailer.send(
            sender=args.sender,
            to=args.to,
            subject=args.subject,
            text=args.text,
            attachments=args.attach,
        )
    except graphmailer.AmbiguousDeliveryError as e:
        print(f"may or may not have been sent, check Sent Items before sending again: {e}", file=sys.stderr)
        return 2
    except graphmailer.GraphMailerError as e:
        # str(e) is the message, the service's code and request id, and the hint.
        print(f"not sent: {e}", file=sys.stderr)
        return 1
    print(f"accepted by Graph: request id {receipt.request_id}, {receipt.attempts} attempt(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
