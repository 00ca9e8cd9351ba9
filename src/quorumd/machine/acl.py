"""ACL validation, expansion and matching (PrepRequestProcessor.fixupACL,
ZooKeeperServer.checkACL and the digest/ip authentication providers).

Theory of operation:

1. An ACL given to create/setACL is first de-duplicated (order kept); empty is
   InvalidACL.
2. `world:anyone` is kept; `auth` expands to every *authenticated* id of the session
   (digest ids; ip ids are not "authenticated" in ZooKeeper's sense) and is InvalidACL
   when there is none; `digest` must look like `user:hash`; `ip` must be an address
   with optional `/bits`; any other scheme is InvalidACL (no provider).
3. A permission check passes when the session is the super user, the node's ACL is
   empty, or some entry grants one of the requested bits to `world:anyone` or to an
   id the session holds (digest: exact match; ip: CIDR match).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence

from quorumd.errors import InvalidACL
from quorumd.machine.ops import ACL

__all__ = ["check_perm", "digest_id", "fixup_acl", "ip_matches", "mask_digests"]

AuthId = tuple[str, str]

_JAVA_INT = re.compile(r"[+-]?[0-9]+")
_JAVA_HEX = re.compile(r"[+-]?[0-9a-fA-F]+")


def digest_id(user: str, password: str) -> str:
    """The id the digest provider assigns: `user:base64(sha1("user:password"))`."""
    raw = f"{user}:{password}".encode()
    return f"{user}:{base64.b64encode(hashlib.sha1(raw).digest()).decode('ascii')}"


def _java_split_count(text: str, sep: str) -> int:
    """len(text.split(sep)) with Java's String.split, which drops trailing empties."""
    parts = text.split(sep)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if parts == [""] and text:
        return 0
    return len(parts)


def _ipv4(text: str) -> bytes | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    out = bytearray()
    for part in parts:
        if not _JAVA_INT.fullmatch(part):
            return None
        value = int(part)
        if not 0 <= value <= 255:
            return None
        out.append(value)
    return bytes(out)


def _ipv6_segments(text: str) -> list[int] | None:
    if not text:
        return []
    values = []
    for seg in text.split(":"):
        if len(seg) > 4 or not _JAVA_HEX.fullmatch(seg):
            return None
        values.append(int(seg, 16))
    return values


def _ipv6(text: str) -> bytes | None:
    halves = text.split("::")
    if len(halves) == 1:
        head = _ipv6_segments(halves[0])
        if head is None or len(head) != 8:
            return None
        segments = head
    elif len(halves) == 2:
        head, tail = _ipv6_segments(halves[0]), _ipv6_segments(halves[1])
        if head is None or tail is None or len(head) + len(tail) >= 8:
            return None
        segments = head + [0] * (8 - len(head) - len(tail)) + tail
    else:
        return None
    return b"".join((v & 0xFFFF).to_bytes(2, "big") for v in segments)


def _addr_bytes(text: str) -> bytes | None:
    if ":" in text:
        return _ipv6(text)
    if "." in text:
        return _ipv4(text)
    return None


def _masked(addr: bytes, bits: int) -> bytes:
    value = int.from_bytes(addr, "big")
    width = len(addr) * 8
    keep = ((1 << bits) - 1) << (width - bits) if bits else 0
    return (value & keep).to_bytes(len(addr), "big")


def _parse_ip_expr(expr: str) -> tuple[bytes, int] | None:
    addr_text, slash, bits_text = expr.partition("/")
    addr = _addr_bytes(addr_text)
    if addr is None:
        return None
    bits = len(addr) * 8
    if slash:
        if not _JAVA_INT.fullmatch(bits_text):
            return None
        bits = int(bits_text)
        if not 0 <= bits <= len(addr) * 8:
            return None
    return addr, bits


def ip_matches(client_addr: str, acl_expr: str) -> bool:
    """IPAuthenticationProvider.matches: `acl_expr` is `addr` or `addr/bits`."""
    parsed = _parse_ip_expr(acl_expr)
    remote = _addr_bytes(client_addr)
    if parsed is None or remote is None:
        return False
    addr, bits = parsed
    if len(remote) != len(addr):
        return False
    return _masked(remote, bits) == _masked(addr, bits)


def _valid_id(scheme: str, ident: str) -> bool:
    if scheme == "digest":
        return _java_split_count(ident, ":") == 2
    if scheme == "ip":
        return _parse_ip_expr(ident) is not None
    return False


_AUTHENTICATED_SCHEMES = frozenset({"digest"})


def fixup_acl(path: str, auth: Sequence[AuthId], acl: Iterable[ACL]) -> tuple[ACL, ...]:
    """Validate and expand an ACL for create/setACL; raises InvalidACL."""
    unique: list[ACL] = []
    for entry in acl:
        if entry not in unique:
            unique.append(entry)
    if not unique:
        raise InvalidACL(f"empty ACL: {path}")
    out: list[ACL] = []
    for entry in unique:
        if entry.scheme == "world" and entry.id == "anyone":
            out.append(entry)
        elif entry.scheme == "auth":
            expanded = [
                ACL(entry.perms, scheme, ident)
                for scheme, ident in auth
                if scheme in _AUTHENTICATED_SCHEMES
            ]
            if not expanded:
                raise InvalidACL(f"'auth' ACL without authenticated ids: {path}")
            out.extend(expanded)
        elif _valid_id(entry.scheme, entry.id):
            out.append(entry)
        else:
            raise InvalidACL(f"invalid ACL {entry.scheme}:{entry.id}: {path}")
    return tuple(out)


def check_perm(acl: Sequence[ACL], perm: int, auth: Sequence[AuthId], is_super: bool) -> bool:
    """True when `auth` (a session's ids) is granted any bit of `perm` by `acl`."""
    if is_super or not acl:
        return True
    for entry in acl:
        if not entry.perms & perm:
            continue
        if entry.scheme == "world" and entry.id == "anyone":
            return True
        for scheme, ident in auth:
            if scheme != entry.scheme:
                continue
            if scheme == "digest" and ident == entry.id:
                return True
            if scheme == "ip" and ip_matches(ident, entry.id):
                return True
    return False


def mask_digests(acl: Sequence[ACL]) -> tuple[ACL, ...]:
    """getACL without ADMIN: digest ids are shown as `user:x` (FinalRequestProcessor)."""
    return tuple(
        ACL(a.perms, a.scheme, a.id.split(":", 1)[0] + ":x")
        if a.scheme == "digest" and ":" in a.id
        else a
        for a in acl
    )
