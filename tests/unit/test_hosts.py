"""Which Host header values are served, by default and as configured."""

from __future__ import annotations

import socket

import pytest

from interfaces.http.hosts import _name_of, host_policy


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("example.org", "example.org"),
        ("Example.ORG:8000", "example.org"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("localhost.", "localhost"),
        ("localhost.:8000", "localhost"),
        # Found by review: these were taken for hosts, and some were served.
        ("evil.example:", None),
        ("[::1]evil.example", None),
        ("[::1]@evil.example", None),
        ("localhost:\u00b2", None),
        ("localhost:99999999999999999", None),
        ("localhost:65536", None),
        ("evil.example#.example.org", None),
        ("evil.example/.example.org", None),
        ("evil.example?.example.org", None),
        (".example.org", None),
        ("[x.example.org]", None),
        ("[127.0.0.1]", None),
        ("user@localhost", None),
        ("", None),
    ],
)
def test_the_name_of_a_host_header(header: str, name: str | None) -> None:
    assert _name_of(header) == name


def test_by_default_localhost_the_served_host_and_the_public_one_are_served() -> None:
    policy = host_policy((), "https://students.example.org/api", "10.0.0.7")
    for name in ("localhost", "127.0.0.1", "::1", "students.example.org", "10.0.0.7"):
        assert policy.allows(name), name
    for name in ("evil.example", "10.0.0.8", "students.example.org.evil.example"):
        assert not policy.allows(name), name


def test_listening_everywhere_serves_any_address_and_the_machines_own_names() -> None:
    policy = host_policy((), None, "0.0.0.0")
    assert policy.allows("192.168.1.20")
    assert policy.allows("fe80::1")
    assert policy.allows(socket.gethostname().lower())
    assert not policy.allows("rebound.evil.example")  # DNS rebinding needs a name of its own


def test_allowed_hosts_replace_the_default() -> None:
    policy = host_policy(("api.example.org", "*.internal.example"), "https://other.example", "0.0.0.0")
    assert policy.allows("api.example.org")
    assert policy.allows("svc.internal.example")
    assert not policy.allows("internal.example")
    assert not policy.allows("localhost")
    assert not policy.allows("10.0.0.1")
    assert host_policy(("*",), None, None).allows("anything.at.all")
