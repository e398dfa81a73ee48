"""Helpers for tests of web pages (forms carry a CSRF token, as in a browser)."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    html = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def web_login(client, login: str, password: str = "password123"):
    """Sign in through the login form; returns the response (302 on success)."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"login": login, "password": password, "csrf_token": token})


def post_form(client, path: str, data: dict | None = None, *, form_page: str | None = None):
    """POST ``data`` plus the CSRF token (read from ``form_page``, default ``path``... or home)."""
    token = csrf_token(client, form_page or "/")
    return client.post(path, data={**(data or {}), "csrf_token": token})
