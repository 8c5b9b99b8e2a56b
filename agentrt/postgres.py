"""Connecting to PostgreSQL: telling its URLs from paths, showing them without their password, and
turning a failed connection into a `ConfigError` that names the URL and the fix.

psycopg is imported here, and only when a connection is made, so `import agentrt` stays light and
a user without the `postgres` extra is told how to install it. Does not know any table.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import ConfigError

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 10  # libpq waits forever for a host that drops packets; a URL may set its own
URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


def is_postgres_url(location: object) -> bool:
    """Whether `location` names a PostgreSQL database rather than a file or folder.

    `"postgresql://app@db/kb"` -> True, `"kb/"` -> False, `Path("kb")` -> False."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def redact(url: str) -> str:
    """`url` with its password, in the user part or the query, shown as `***`.

    `"postgresql://app:s3cret@db/kb?sslmode=require"` -> `"postgresql://app:***@db/kb?sslmode=require"`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = [(key, "***" if key == "password" else value)
             for key, value in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/*")))


def connect(url: str, *, purpose: str) -> psycopg.Connection:
    """An autocommit connection to `url` (group writes with `connection.transaction()`), or a
    `ConfigError` naming the URL, password hidden, what failed and how to fix it. `purpose` says
    what the database was for, e.g. "knowledge base"."""
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo
    except ImportError as exc:
        raise ConfigError(f"The {purpose} {redact(url)} is on PostgreSQL, which needs psycopg: "
                          "pip install 'agentrt[postgres]'") from exc
    try:
        params = conninfo_to_dict(url)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        return psycopg.connect(make_conninfo("", **params), autocommit=True)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        password = urlsplit(url).password
        if password:  # subtle: libpq quotes parts of a URL it cannot parse
            reason = reason.replace(password, "***")
        missing = re.search(r'database "([^"]+)" does not exist', reason)
        fix = (f"create it (createdb {missing.group(1)}) or name another" if missing else
               f"check that the server runs and that the URL is right ({URL_FORM})")
        raise ConfigError(f"Could not connect to the {purpose} at {redact(url)}: {reason}; {fix}") from exc
