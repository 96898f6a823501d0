"""``keepref-lint server`` driven through a real JSON-RPC session over the subprocess's standard input and
output: initialize, didOpen, publishDiagnostics, codeAction, the edit applied, didChange clears it; and
an unsaved buffer of another module feeding the index."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import APP, SERVICE, package_project

pytest.importorskip("pygls")

FIXED = """\
from pkg.service import start


class App:
    def run(self):
        # Keep a reference so the start is not garbage-collected.
        self.start = start()
"""


class Client:
    """A minimal LSP client: Content-Length framed JSON-RPC over the server's pipes."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keepref_lint", "server"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            headers = {}
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            self.messages.put(json.loads(body))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send({"method": method, "params": params or {}})

    def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params or {}})
        reply = self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)
        assert "error" not in reply, reply
        return reply["result"]

    def wait(self, wanted, timeout: float = 60) -> dict[str, Any]:
        while True:
            try:
                message = self.messages.get(timeout=timeout)
            except queue.Empty:
                stderr = self.proc.stderr.read1().decode() if self.proc.poll() is not None else ""  # type: ignore[union-attr]
                raise AssertionError(f"no such message from the server {stderr}") from None
            if wanted(message):
                return message

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        message = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            )
        )
        return message["params"]["diagnostics"]

    def close(self) -> int:
        self.request("shutdown")
        self.notify("exit")
        return self.proc.wait(timeout=30)


def apply(text: str, edits: list[dict[str, Any]]) -> str:
    """Apply LSP TextEdits (UTF-16 positions; these texts are ASCII) to ``text``."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: dict[str, int]) -> int:
        return starts[position["line"]] + position["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
    return text


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return package_project(tmp_path)


def open_document(client: Client, uri: str, text: str) -> None:
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )


def test_a_session_diagnoses_fixes_and_clears(project: Path) -> None:
    client = Client(project)
    try:
        result = client.request(
            "initialize",
            {"processId": None, "rootUri": project.as_uri(), "capabilities": {}},
        )
        capabilities = result["capabilities"]
        assert capabilities["codeActionProvider"]["codeActionKinds"] == [
            "quickfix",
            "source.fixAll.keepref-lint",
        ]
        assert result["serverInfo"]["name"] == "keepref-lint"
        client.notify("initialized")

        app = (project / "pkg" / "app.py").as_uri()
        open_document(client, app, APP)
        [diagnostic] = client.diagnostics(app)
        assert diagnostic["code"] == "KR001" and diagnostic["source"] == "keepref-lint"
        assert diagnostic["range"]["start"] == {"line": 5, "character": 8}
        assert diagnostic["range"]["end"] == {"line": 5, "character": 15}
        assert diagnostic["message"].startswith("result of start() is dropped")

        actions = client.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": app},
                "range": diagnostic["range"],
                "context": {"diagnostics": [diagnostic]},
            },
        )
        quick = [a for a in actions if a["kind"] == "quickfix"]
        assert [a["title"] for a in quick] == ["Keep the result in self.start (KR001)"]
        fixed = apply(APP, quick[0]["edit"]["changes"][app])
        assert fixed == FIXED
        assert (project / "pkg" / "app.py").read_text() == APP  # the client applies edits, not us

        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": app, "version": 2},
                "contentChanges": [{"text": fixed}],
            },
        )
        assert client.diagnostics(app) == []

        # Back to the drop, with a buffer of service.py that no longer marks start(): the index uses
        # the buffer, so app.py is clean; marked again, the drop is back.
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": app, "version": 3}, "contentChanges": [{"text": APP}]},
        )
        assert len(client.diagnostics(app)) == 1
        service = (project / "pkg" / "service.py").as_uri()
        open_document(client, service, SERVICE.replace("@must_retain\n", ""))
        assert client.diagnostics(app) == []
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": service, "version": 2}, "contentChanges": [{"text": SERVICE}]},
        )
        assert len(client.diagnostics(app)) == 1

        # Positions are in the client's units (UTF-16 by default), not UTF-8 bytes.
        wide = (project / "pkg" / "wide.py").as_uri()  # not saved yet
        text = 'from pkg.service import start\n\n\nclass W:\n    def run(self):\n        x = "\u20ac\U0001f600"; start()\n'
        open_document(client, wide, text)
        [diagnostic] = client.diagnostics(wide)
        assert diagnostic["range"]["start"] == {"line": 5, "character": 8 + 11}
        assert client.close() == 0
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
