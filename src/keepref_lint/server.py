"""``keepref-lint server``: a Language Server over standard input and output (pygls, lsprotocol).

    pip install 'keepref-lint[server]'
    keepref-lint server

Diagnostics are published when a Python document is opened, changed or saved, for every open document
of the project at once: each check is one engine run (one ``Project``) with every open buffer standing
in for its file, so the index sees unsaved edits (a mark added in one buffer shows in the others). Each
finding with a fix has a quick fix (``textDocument/codeAction``) whose edit is the engine's own, and a
document with fixes offers ``source.fixAll.keepref-lint``. Settings come from the same files as
``keepref-lint check`` (``[tool.keepref-lint]`` in the nearest ``pyproject.toml``); ``# noqa`` and
select/ignore apply. A buffer that does not parse keeps its last diagnostics until it does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from keepref_lint import __version__
from keepref_lint.codes import rule_doc_url
from keepref_lint.config import ConfigError, Settings, load_settings
from keepref_lint.finding import Finding
from keepref_lint.project import InputError
from keepref_lint.sourcetext import SourceText, encoded

log = logging.getLogger("keepref_lint.server")
SOURCE = "keepref-lint"
FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.{SOURCE}"


class Checked:
    """What the last check found in one document version."""

    __slots__ = ("diagnostics", "findings", "source", "version")

    def __init__(
        self,
        version: int | None,
        source: SourceText,
        findings: list[Finding],
        diagnostics: list[types.Diagnostic],
    ) -> None:
        self.version = version
        self.source = source
        self.findings = findings
        self.diagnostics = diagnostics


class KeeprefServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(SOURCE, __version__)
        self.checked: dict[str, Checked] = {}  # uri -> the last check of that document


def _is_python(document: TextDocument) -> bool:
    return document.path is not None and (
        document.path.endswith((".py", ".pyi")) or document.language_id == "python"
    )


def _settings_for(path: str) -> Settings:
    return load_settings([path if os.path.lexists(path) else os.path.dirname(path)])


def _range(document: TextDocument, source: SourceText, start: int, end: int) -> types.Range:
    return types.Range(
        start=document.client_position_at_offset(start),
        end=document.client_position_at_offset(end),
    )


def _diagnostic(document: TextDocument, source: SourceText, finding: Finding) -> types.Diagnostic:
    start = source.offset(finding.line, finding.column - 1)
    end_line = finding.end_line or finding.line
    end = source.offset(end_line, max(finding.end_column - 1, 0)) if finding.end_line else start
    return types.Diagnostic(
        range=_range(document, source, start, end),
        message=finding.message,
        severity=types.DiagnosticSeverity.Warning,
        code=finding.code,
        code_description=types.CodeDescription(href=rule_doc_url(finding.code)),
        source=SOURCE,
        data={"fixable": finding.fix is not None},
    )


def check_documents(server: KeeprefServer, uris: Iterable[str]) -> None:
    """Check these documents (and publish their diagnostics), with every open document as a buffer."""
    from keepref_lint.analysis import Project

    workspace = server.workspace
    documents = [workspace.get_text_document(uri) for uri in uris]
    documents = [d for d in documents if _is_python(d)]
    open_python = [d for d in workspace.text_documents.values() if _is_python(d)]
    by_project: dict[tuple[str, str], tuple[Settings, list[TextDocument]]] = {}
    for document in documents:
        try:
            settings = _settings_for(os.path.abspath(document.path))  # type: ignore[arg-type]
        except ConfigError as error:
            server.window_log_message(
                types.LogMessageParams(type=types.MessageType.Error, message=str(error))
            )
            continue
        key = (settings.root, settings.fingerprint())
        by_project.setdefault(key, (settings, []))[1].append(document)
    for settings, wanted in by_project.values():
        root = settings.root.rstrip(os.sep) + os.sep
        buffers = {
            os.path.abspath(d.path): encoded(d.source)  # type: ignore[arg-type]
            for d in open_python
            if os.path.abspath(d.path).startswith(root)  # type: ignore[arg-type]
        }
        project = Project(settings, buffers=buffers)
        for document in wanted:
            _check_one(server, project, document)


def _check_one(server: KeeprefServer, project: object, document: TextDocument) -> None:
    path = os.path.abspath(document.path)  # type: ignore[arg-type]
    file = project.source(path)  # type: ignore[attr-defined]
    if file is None:
        return
    try:
        source = SourceText(file.data, file.display)
        findings = project.check_file(file)  # type: ignore[attr-defined]
    except InputError as error:  # mid-edit: keep what was shown until it parses again
        log.info("%s", error)
        return
    finally:
        project.release(file)  # type: ignore[attr-defined]
    diagnostics = [_diagnostic(document, source, f) for f in findings]
    server.checked[document.uri] = Checked(document.version, source, findings, diagnostics)
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=document.uri, version=document.version, diagnostics=diagnostics
        )
    )


def _edits(
    document: TextDocument, checked: Checked, findings: list[Finding]
) -> list[types.TextEdit]:
    return [
        types.TextEdit(
            range=_range(document, checked.source, edit.start, edit.end), new_text=edit.text
        )
        for finding in findings
        if finding.fix is not None
        for edit in finding.fix.edits
    ]


def code_actions(server: KeeprefServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = server.workspace.get_text_document(uri)
    checked = server.checked.get(uri)
    if checked is None or checked.version != document.version:
        check_documents(server, [uri])
        checked = server.checked.get(uri)
    if checked is None or checked.version != document.version:
        return []
    only = params.context.only
    actions: list[types.CodeAction] = []
    wanted = params.range
    for finding, diagnostic in zip(checked.findings, checked.diagnostics, strict=True):
        if finding.fix is None or not _overlaps(diagnostic.range, wanted):
            continue
        if only and not any(types.CodeActionKind.QuickFix.value.startswith(k) for k in only):
            continue
        actions.append(
            types.CodeAction(
                title=f"{finding.fix.title} ({finding.code})",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                is_preferred=True,
                edit=types.WorkspaceEdit(changes={uri: _edits(document, checked, [finding])}),
            )
        )
    fixable = [f for f in checked.findings if f.fix is not None]
    if fixable and (not only or any(FIX_ALL.startswith(k) for k in only)):
        actions.append(
            types.CodeAction(
                title=f"Fix all keepref-lint findings ({len(fixable)})",
                kind=FIX_ALL,
                edit=types.WorkspaceEdit(changes={uri: _edits(document, checked, fixable)}),
            )
        )
    return actions


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def create_server() -> KeeprefServer:
    server = KeeprefServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: KeeprefServer, params: types.DidOpenTextDocumentParams) -> None:
        check_documents(ls, _open_uris(ls))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: KeeprefServer, params: types.DidChangeTextDocumentParams) -> None:
        check_documents(ls, _open_uris(ls))

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: KeeprefServer, params: types.DidSaveTextDocumentParams) -> None:
        check_documents(ls, _open_uris(ls))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: KeeprefServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.checked.pop(uri, None)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )
        check_documents(ls, _open_uris(ls))  # the others no longer see its buffer

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=False
        ),
    )
    def code_action(ls: KeeprefServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(ls, params)

    return server


def _open_uris(server: KeeprefServer) -> list[str]:
    return list(server.workspace.text_documents)


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    create_server().start_io()
    return 0
