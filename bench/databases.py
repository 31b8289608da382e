"""The benchmarks' own PostgreSQL databases: a connection to the server's maintenance database, and
a benchmark's database dropped and created again. Each benchmark says which names it may drop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


@contextmanager
def server_admin(url: str) -> Iterator[object]:
    """An autocommit connection to the ``postgres`` database of ``url``'s server."""
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                         user=unquote(parts.username or "postgres"),
                         password=unquote(parts.password) if parts.password else None,
                         dbname="postgres", autocommit=True) as admin:
        yield admin


def recreate_postgres(url: str, *, may_drop: Callable[[str], bool], refusal: str) -> str:
    """Drop and create ``url``'s database when ``may_drop(name)`` (else exit with ``refusal``,
    formatted with ``name``); nothing else is touched. Returns the name."""
    from psycopg import sql

    name = database_name(url)
    if not may_drop(name):
        raise SystemExit(refusal.format(name=name))
    with server_admin(url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name
