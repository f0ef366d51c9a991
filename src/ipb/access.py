"""People's own warehouse logins: one login role per person, member of exactly one ipb group role.

The group roles (ipb.db.ROLES) carry every privilege; a person's login only inherits one of them, so what
an analyst or IG lead may read is decided by roles.sql alone. Passwords are sent as SCRAM-SHA-256
verifiers computed here, so the clear password never reaches the server or its statement log.

    python -m ipb.access create-login alice ipb_analyst     # asks for the password
    python -m ipb.access drop-login alice
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import re
import secrets
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import typer
from psycopg import errors, sql

from ipb import db

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
MIN_PASSWORD = 12
SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, as pg_authid keeps it)."""
    if not password.isascii():
        # PostgreSQL applies SASLprep to non-ASCII passwords; we do not reimplement it.
        raise ValueError("use an ASCII password")
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _check(user: str, group: str | None = None) -> None:
    if not _NAME.match(user) or user.startswith(("ipb_", "pg_")):
        raise ValueError(f"login name {user!r}: use lower-case letters, digits and _, not starting ipb_ or pg_")
    if group is not None and group not in db.ROLES:
        raise ValueError(f"unknown group role {group!r}; one of {', '.join(db.ROLES)}")


def create_login(conn: psycopg.Connection, user: str, group: str, password: str) -> None:
    """Create (or re-point) `user` as a login in exactly `group`, with `password`. Needs CREATEROLE."""
    _check(user, group)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password shorter than {MIN_PASSWORD} characters")
    verifier = sql.Literal(scram_verifier(password))
    name = sql.Identifier(user)
    with conn.transaction():
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone()
        if exists:
            conn.execute(sql.SQL("alter role {} login inherit password {}").format(name, verifier))
        else:
            conn.execute(sql.SQL("create role {} login inherit password {}").format(name, verifier))
        for other in db.ROLES:
            if other != group:
                conn.execute(sql.SQL("revoke {} from {}").format(sql.Identifier(other), name))
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), name))


def drop_login(conn: psycopg.Connection, user: str) -> None:
    """Remove a person's login (never a group role). Idempotent."""
    _check(user)
    with conn.transaction():
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(user)))


def login_url(base_url: str, user: str, password: str) -> str:
    """`base_url` (host, port, database) with `user`/`password` instead of its credentials."""
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def can_select(conn: psycopg.Connection, relation: str) -> bool:
    """True if this session may read `relation` (schema.name), False if PostgreSQL refuses it.

    Tries a real select rather than asking has_table_privilege, so schema usage, views and row security
    all count. A missing relation raises: a denial must never be confused with a typo.
    """
    schema, _, name = relation.partition(".")
    query = sql.SQL("select 1 from {}.{} limit 1").format(sql.Identifier(schema), sql.Identifier(name))
    try:
        with conn.transaction():
            conn.execute(query).fetchall()
    except errors.InsufficientPrivilege:
        return False
    return True


app = typer.Typer(add_completion=False, help="People's own logins on the warehouse.")


@app.command("create-login")
def create_login_cmd(user: str, group: str) -> None:
    """Create or update USER as a login in GROUP (ipb_analyst, ipb_ig_lead, ...); asks for the password."""
    password = getpass.getpass(f"password for {user}: ")
    if password != getpass.getpass("again: "):
        raise typer.BadParameter("the passwords differ")
    with psycopg.connect(db.url()) as conn:
        create_login(conn, user, group, password)
    typer.echo(f"{user} can now log in as a member of {group}.")


@app.command("drop-login")
def drop_login_cmd(user: str) -> None:
    """Remove USER's login."""
    with psycopg.connect(db.url()) as conn:
        drop_login(conn, user)
    typer.echo(f"{user} removed.")


if __name__ == "__main__":  # pragma: no cover - console entry
    app()
