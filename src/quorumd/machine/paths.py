"""Znode path rules, as ZooKeeper's PathUtils.validatePath states them.

Java strings are UTF-16, and PathUtils rejects the code units 0xd800-0xf8ff, which
include every surrogate: so a path with a character outside the BMP is invalid in
ZooKeeper, and is rejected here too.
"""

from __future__ import annotations

import re

from quorumd.errors import BadArguments

__all__ = ["SPECIAL_PATHS", "parent_of", "path_error", "validate_path"]

# Nodes that exist from the start and can never be deleted (DataTree.isSpecialPath).
SPECIAL_PATHS = frozenset({"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"})


def _bad_char(c: str) -> bool:
    o = ord(c)
    return o <= 0x1F or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xF8FF or o >= 0xFFF0


# The common case, checked in one regex call: printable ASCII components, none empty,
# none starting with "." (so no "." or ".." either); anything else takes the full rules.
_PLAIN = re.compile(r"(?:/[\x20-\x2d\x30-\x7e][\x20-\x2e\x30-\x7e]*)+")


def path_error(path: str) -> str | None:
    """Why `path` is not a valid znode path, or None if it is."""
    if _PLAIN.fullmatch(path):
        return None
    return full_rules(path)


def full_rules(path: str) -> str | None:
    """PathUtils.validatePath, rule by rule (the fast path above must agree with it)."""
    if not path:
        return "path length must be > 0"
    if path[0] != "/":
        return "path must start with /"
    if path == "/":
        return None
    if path[-1] == "/":
        return "path must not end with /"
    for component in path[1:].split("/"):
        if not component:
            return "empty node name"
        if component in (".", ".."):
            return "relative paths not allowed"
        if any(_bad_char(c) for c in component):
            return "invalid character"
    return None


def validate_path(path: str) -> None:
    """Raise BadArguments unless `path` is a valid znode path."""
    reason = path_error(path)
    if reason is not None:
        raise BadArguments(f"{reason}: {path!r}")


def parent_of(path: str) -> str:
    """The parent of a valid, non-root path ("/a" -> "/", "/a/b" -> "/a")."""
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"
