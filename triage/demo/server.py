"""The embedded moto server behind `triage demo` and the tests: loopback
only, free port, quiet logs. moto is imported only when a server starts."""
from __future__ import annotations

import logging
import os
import urllib.request


class MotoServer:
    def __init__(self) -> None:
        self._server = None
        self.url = ""

    def start(self) -> "MotoServer":
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            from ..errors import UsageError
            raise UsageError(f"the offline demo needs moto ({exc.name} is missing)",
                             "install it with: pip install 'triage[demo]'") from None
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto logs NotImplemented calls as tracebacks
        os.environ.setdefault("MOTO_CALL_RESET_API", "true")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# Credentials for the embedded server: moto accepts anything, and setting
# them keeps the demo from ever picking up the user's real credentials.
DEMO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
}
