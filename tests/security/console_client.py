"""A staff member's browser against the running console, for the attacks in this folder: forms
posted with cookies, an optional caller address (``hostile.from_elsewhere``), and the live
stream read line by line."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from conversation import product_database

PASSWORD = "a long console password"


def make_user(var_dir: Path, role: str, prefix: str) -> str:
    """A new console account in the running product (a fresh name per call)."""
    from bot.console import users

    name = f"{prefix}.{secrets.token_hex(3)}"
    with product_database(var_dir):
        users.add_user(name, role, PASSWORD)
    return name


class Browser:
    """Cookies kept, redirects followed, forms posted like a browser without JavaScript."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.headers = headers or {}
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data, dict(self.headers))
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def get(self, path: str) -> tuple[int, str, dict]:
        return self.request(path)

    def post(self, path: str, form: dict) -> tuple[int, str, dict]:
        return self.request(path, form)

    def login(self, username: str, password: str = PASSWORD) -> tuple[int, str, dict]:
        return self.post("/console/login", {"username": username, "password": password})

    def csrf(self, path: str = "/console/") -> str:
        _, body, _ = self.get(path)
        return re.search(r'name="csrf_token" value="([^"]+)"', body)[1]

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class LiveStream:
    """``/console/events`` of a signed-in browser, read on a thread until the server ends it."""

    def __init__(self, browser: Browser) -> None:
        parsed = urllib.parse.urlsplit(browser.base)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.connection.request("GET", "/console/events",
                                headers={"Cookie": browser.cookie_header(), **browser.headers})
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.lines: list[tuple[float, str]] = []  # (monotonic time, line)
        self.ended = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                self.lines.append((time.monotonic(), line.decode().rstrip("\n")))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):  # closed by us
            pass
        finally:
            self.ended.set()

    def wait_for(self, text: str, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for _, line in self.lines):
                return True
            time.sleep(0.05)
        return False

    def data_since(self, moment: float = 0.0) -> list[str]:
        return [line for at, line in self.lines if at >= moment and line.startswith("data:")]

    def close(self) -> None:
        self.connection.close()
