"""Start the bootstrap server that prefill and decode workers meet through."""

import threading
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from keepref_lint import must_retain


class BootstrapServer:
    """Serves until it is garbage-collected: a finalizer shuts it down."""

    def __init__(self, port: int) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        weakref.finalize(self, self.httpd.shutdown)


@must_retain(attr="bootstrap_server", reason="the bootstrap server stops when collected")
def start_disagg_service(port: int) -> BootstrapServer:
    return BootstrapServer(port)
