"""The review server: stdlib HTTP on 127.0.0.1 only, over one batch output folder.

Routes:
  /                      the calls of the batch (fatal first, then by score) linking their review pages
  /review/NAME           the review page of call NAME (its recording, timeline, events, transcript)
  /api/call/NAME         the call's report, saved verdicts and whether its recording can be played
  /audio/NAME            the call's recording, with byte ranges (the page seeks in it)
  POST /api/verdict/NAME {"index", "verdict": "confirmed"|"false_alarm"|null, "note"}
  anything else          a file of the output folder (the static summary and call pages)

Every path is resolved and refused (403) unless it lies inside the output folder; the only
file served from elsewhere is a call's recording, named by the call's own report. Requests
whose Host is not this loopback address are refused, so a web page elsewhere cannot reach the
server through DNS rebinding.
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import re
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from callassist.errors import CallassistError, InputFileError
from callassist.reporting.masking import find_masked_file
from callassist.review.labels import VERDICTS, labels_path, read_verdicts, save_verdict

LOOPBACK = "127.0.0.1"
MAX_BODY = 64 * 1024
CHUNK = 1 << 16
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class Refused(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class ReviewSite:
    """What the server knows: the output folder and how to find a call's files in it."""

    def __init__(self, out: Path, recordings: Sequence[Path] = ()) -> None:
        self.out = out.resolve()
        # the folders given to the batch: a masked report names its files relative to them
        self.recordings = [Path(os.path.abspath(folder)) for folder in recordings]
        self.given = Path(os.path.abspath(out))  # as named, links kept: labels name files relative to it
        self.calls = self.out / "calls"
        if not self.calls.is_dir():
            raise InputFileError.at(out, "has no calls/ folder: give the --out folder of a `callassist batch` run")
        for folder in recordings:
            if not folder.is_dir():
                raise CallassistError(f"--recordings {folder}: is not a folder; give a folder that was given to the batch")

    def inside(self, relative: str) -> Path:
        """The file `relative` names inside the output folder; refused when it lies outside."""
        if "\x00" in relative:
            raise Refused(HTTPStatus.BAD_REQUEST, "bad path")
        path = (self.out / relative.lstrip("/")).resolve()
        if not path.is_relative_to(self.out):
            raise Refused(HTTPStatus.FORBIDDEN, "outside the output folder")
        if any(part.startswith(".") for part in path.relative_to(self.out).parts):
            raise Refused(HTTPStatus.FORBIDDEN, "hidden file")
        return path

    def report_path(self, name: str) -> Path:
        path = self.inside(f"calls/{name}.json")
        if not path.is_relative_to(self.calls) or not path.is_file():
            raise Refused(HTTPStatus.NOT_FOUND, f"no report for call {name!r}")
        return path

    def report(self, name: str) -> dict[str, Any]:
        try:
            return json.loads(self.report_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise Refused(HTTPStatus.NOT_FOUND, f"the report of call {name!r} cannot be read") from None

    def locate(self, recorded: str | None, masked: bool) -> tuple[Path, Path] | None:
        """A file a report names (as given to the batch: absolute, or relative to where it ran,
        tried from the working folder and from the output folder's parent; a masked report's,
        relative to the folder given to the batch: tried in each `--recordings` folder, and in
        its parent for a batch of several folders, whose names start with the folder's), as (the
        file, the report's name for it made absolute). A masked report's name has `*` for
        digits: the one file it can stand for is found (`find_masked_file`)."""
        if not recorded:
            return None
        path = Path(recorded)
        given = [folder / path for folder in self.recordings]
        given += [folder.parent / path for folder in self.recordings if path.parts[0] == folder.name]
        for candidate in ((path,) if path.is_absolute() else (*given, Path.cwd() / path, self.given.parent / path)):
            named = Path(os.path.abspath(candidate))
            file = named if named.is_file() else find_masked_file(named) if masked else None
            if file is not None:
                return file.resolve(), named
        return None

    def source(self, report: dict[str, Any], key: str) -> Path | None:
        """The call's recording (`audio`) or transcript, if it can be found."""
        found = self.locate(report["call"].get(key), bool(report["call"].get("masked")))
        return found[0] if found else None

    def sources(self, report: dict[str, Any], report_path: Path) -> dict[str, str | None]:
        """What a labels file beside the report names: the report's own names for its recording
        and transcript (masked when the report is; never a link's target), relative to the labels
        file's folder, which `callassist eval` reads them from."""
        folder = self.given / labels_path(report_path).parent.relative_to(self.out)
        masked = bool(report["call"].get("masked"))
        named: dict[str, str | None] = {}
        for key in ("audio", "transcript"):
            found = self.locate(report["call"].get(key), masked)
            named[key] = None if found is None else _relative(found[1], folder)
        if masked:  # the folders climbed through to the recordings may hold numbers too
            from callassist.reporting.masking import mask_free_text

            named = {key: mask_free_text(name) if name else name for key, name in named.items()}
        return named

    def recordings_unfound(self) -> bool:
        """The first call's report is masked and its recording (or transcript) cannot be found:
        the folder given to the batch is wanted (`--recordings`)."""
        for name in self.names()[:1]:
            try:
                report = self.report(name)
            except Refused:
                return False
            call = report["call"]
            named = [key for key in ("audio", "transcript") if call.get(key)]
            return bool(call.get("masked")) and bool(named) and all(self.source(report, key) is None for key in named)
        return False

    def names(self) -> list[str]:
        return sorted(
            p.relative_to(self.calls).as_posix().removesuffix(".json")
            for p in self.calls.rglob("*.json")
            if not p.name.endswith(".labels.json") and not p.name.startswith(".")
        )


def asset(name: str) -> str:
    return (files("callassist.review") / "assets" / name).read_text(encoding="utf-8")


class ReviewHandler(BaseHTTPRequestHandler):
    server_version = "callassist-review"
    protocol_version = "HTTP/1.1"

    def __init__(self, *args, site: ReviewSite, **kwargs) -> None:
        self.site = site
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # no access log: request paths carry call names

    # -- dispatch ------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._handle(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle(self._get, head=True)

    def do_POST(self) -> None:  # noqa: N802
        self._handle(self._post)

    def _handle(self, route, head: bool = False) -> None:
        self.head_only = head
        try:
            self._check_host()
            route(unquote(urlsplit(self.path).path))
        except Refused as refused:
            self._send(refused.status, json.dumps({"error": str(refused)}).encode(), "application/json")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _check_host(self) -> None:
        host = self.headers.get("Host", "")
        port = self.server.server_address[1]
        if host not in (f"{LOOPBACK}:{port}", f"localhost:{port}"):
            raise Refused(HTTPStatus.FORBIDDEN, "unexpected Host")

    def _get(self, path: str) -> None:
        if path == "/":
            self._send(HTTPStatus.OK, self._index().encode(), "text/html; charset=utf-8")
        elif path.startswith("/review/"):
            name = path.removeprefix("/review/")
            self.site.report_path(name)  # 404 before a page for nothing
            page = asset("review.html").replace("{{call}}", html.escape(name, quote=True))
            self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        elif path in ("/assets/review.js", "/assets/review.css"):
            kind = "text/javascript" if path.endswith(".js") else "text/css"
            self._send(HTTPStatus.OK, asset(path.removeprefix("/assets/")).encode(), f"{kind}; charset=utf-8")
        elif path.startswith("/api/call/"):
            self._send_json(self._call(path.removeprefix("/api/call/")))
        elif path.startswith("/audio/"):
            name = path.removeprefix("/audio/")
            audio = self.site.source(self.site.report(name), "audio")
            if audio is None:
                raise Refused(HTTPStatus.NOT_FOUND, f"the recording of call {name!r} is not available")
            self._send_file(audio)
        else:
            file = self.site.inside(path)
            if not file.is_file():
                raise Refused(HTTPStatus.NOT_FOUND, "not found")
            self._send_file(file)

    def _post(self, path: str) -> None:
        if not path.startswith("/api/verdict/"):
            raise Refused(HTTPStatus.NOT_FOUND, "not found")
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
            raise Refused(HTTPStatus.FORBIDDEN, "cross-origin request")
        name = path.removeprefix("/api/verdict/")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            index, verdict, note = int(body["index"]), body.get("verdict"), str(body.get("note", ""))
        except (ValueError, KeyError, TypeError):
            raise Refused(HTTPStatus.BAD_REQUEST, "send {index, verdict, note} as JSON") from None
        if verdict is not None and verdict not in VERDICTS:
            raise Refused(HTTPStatus.BAD_REQUEST, f"verdict must be one of {', '.join(VERDICTS)} or null")
        report_path = self.site.report_path(name)
        report = self.site.report(name)
        if 0 <= index < len(report["events"]) and body.get("id") not in (None, report["events"][index]["id"]):
            raise Refused(HTTPStatus.CONFLICT, "the report changed: reload the page")
        try:
            verdicts = save_verdict(report_path, report, index, verdict, note, self.site.sources(report, report_path))
        except ValueError as error:
            raise Refused(HTTPStatus.BAD_REQUEST, str(error)) from None
        self._send_json({"saved": labels_path(report_path).name, "verdicts": _verdicts_json(verdicts)})

    # -- content -------------------------------------------------------------------------

    def _call(self, name: str) -> dict[str, Any]:
        report_path = self.site.report_path(name)
        report = self.site.report(name)
        audio = self.site.source(report, "audio")
        return {
            "name": name,
            "report": report,
            "audio": f"/audio/{quote(name)}" if audio else None,
            "static_page": f"/calls/{quote(name)}.html",
            "labels_file": labels_path(report_path).name,
            "verdicts": _verdicts_json(read_verdicts(labels_path(report_path))),
        }

    def _index(self) -> str:
        rows = []
        for name in self.site.names():
            try:
                report = self.site.report(name)
                score = report["score"]
            except (Refused, KeyError):
                continue
            reviewed = len(read_verdicts(labels_path(self.site.report_path(name))))
            rows.append((not score.get("failed"), score["value"], name, report, reviewed))
        body = "".join(
            f'<tr><td><a href="/review/{quote(name)}">{html.escape(name)}</a></td>'
            f'<td>{html.escape(str(report["call"].get("agent") or "—"))}</td>'
            f'<td class="num">{value}{"" if not_fatal else " <b class=bad>致命项·不合格</b>"}</td>'
            f'<td class="num">{len(report["events"])}</td><td class="num">{reviewed}</td></tr>'
            for not_fatal, value, name, report, reviewed in sorted(rows, key=lambda r: r[:3])
        )
        return asset("index.html").replace("{{rows}}", body)

    # -- sending -------------------------------------------------------------------------

    def _send_json(self, data: Any) -> None:
        self._send(HTTPStatus.OK, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def _send_file(self, path: Path) -> None:
        """A file, or the byte range asked for (the audio element seeks with ranges)."""
        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        wanted = self.headers.get("Range")
        if wanted and (match := _RANGE.match(wanted.strip())) and (match[1] or match[2]):
            if match[1]:
                start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
            else:
                start = max(0, size - int(match[2]))
            if start > end or start >= size:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = HTTPStatus.PARTIAL_CONTENT
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.head_only:
            return
        with open(path, "rb") as stream:
            stream.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = stream.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


def _relative(path: Path, folder: Path) -> str:
    """`path` relative to `folder` (lexically: links are not followed); as it is when it lies on
    another drive (Windows)."""
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:
        return str(path)


def _verdicts_json(verdicts) -> dict[str, dict[str, Any]]:
    return {str(i): {"verdict": v.verdict, "note": v.note} for i, v in verdicts.items()}


class ReviewServer(ThreadingHTTPServer):
    """The HTTP server, with the site it serves (the command asks it whether recordings are found)."""

    site: ReviewSite


def make_server(out: Path, port: int = 0, recordings: Sequence[Path] = ()) -> ReviewServer:
    """The review server over `out`, bound to 127.0.0.1 only (port 0: any free port);
    `recordings`: the folders given to a masked batch (see `ReviewSite.locate`)."""
    site = ReviewSite(out, recordings)
    server = ReviewServer((LOOPBACK, port), partial(ReviewHandler, site=site))
    server.site = site
    server.daemon_threads = True
    return server
