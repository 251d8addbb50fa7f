"""What every slixmpp interop script shares: its JSON event lines, debug
logging on request, and the two concessions a test server needs."""
import json
import logging
import os
import ssl
import sys


def emit(event, **fields):
    """One event for the test that drives the script, as a JSON line on stdout."""
    print(json.dumps({"event": event, **fields}), flush=True)


def debug_logging():
    """slixmpp's own log on stderr when SLIXMPP_DEBUG is set."""
    if os.environ.get("SLIXMPP_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


def for_test_server(client):
    """Prepares a slixmpp client for the server under test.

    slixmpp binds only with tls-unique, which TLS 1.3 does not define
    (RFC 9266); the server offers tls-exporter and tls-server-end-point.
    Without binding data the client says "n" (no channel binding) rather
    than "y", which the server must refuse once it has offered -PLUS
    (RFC 5802 section 6). Test servers also present a generated
    self-signed certificate.
    """
    mechanisms = client["feature_mechanisms"]
    default_credentials = mechanisms.sasl_callback

    def credentials(required, optional):
        values = default_credentials(required, optional)
        if "channel_binding" in values:
            values["channel_binding"] = None
        return values

    mechanisms.sasl_callback = credentials
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE
