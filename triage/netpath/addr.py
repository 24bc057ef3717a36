"""IPv4 address ranges and (address x port) boxes.

A rule of a security group or a network ACL covers a box: a range of
addresses times a range of ports. Traffic is a box too (a subnet's
addresses times one port, or a client's ephemeral ports), so "does this
rule cover this traffic" and "which part of it is still undecided" are box
intersection and subtraction. Ranges are inclusive integer intervals."""
from __future__ import annotations

import ipaddress
from typing import Iterable

Range = tuple[int, int]
Box = tuple[Range, Range]        # (addresses, ports)

ALL_V4: Range = (0, 2**32 - 1)
ALL_PORTS: Range = (0, 65535)

# RFC 1918 and the shared/link-local ranges a VPC can use: never reachable
# through an internet or NAT gateway.
PRIVATE = [(167772160, 184549375),      # 10.0.0.0/8
           (2886729728, 2887778303),    # 172.16.0.0/12
           (3232235520, 3232301055),    # 192.168.0.0/16
           (1681915904, 1686110207)]    # 100.64.0.0/10


def cidr(text: str | None) -> Range | None:
    """'10.0.1.0/24' -> (lo, hi); an address is a /32. IPv6 and garbage -> None."""
    if not text or not isinstance(text, str):
        return None
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if net.version != 4:
        return None
    return int(net.network_address), int(net.broadcast_address)


def address(text: str | None) -> int | None:
    try:
        ip = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    return int(ip) if ip.version == 4 else None


def prefix_len(r: Range) -> int:
    """Prefix length of a range that is a CIDR block (longest-prefix matching)."""
    size = r[1] - r[0] + 1
    return 32 - (size.bit_length() - 1)


def show(r: Range) -> str:
    """A range as CIDR when it is one, else lo-hi."""
    size = r[1] - r[0] + 1
    if size & (size - 1) == 0 and r[0] % size == 0:
        return f"{ipaddress.IPv4Address(r[0])}/{prefix_len(r)}"
    return f"{ipaddress.IPv4Address(r[0])}-{ipaddress.IPv4Address(r[1])}"


def show_ports(p: Range) -> str:
    if p == ALL_PORTS:
        return "all ports"
    return str(p[0]) if p[0] == p[1] else f"{p[0]}-{p[1]}"


def contains(outer: Range, inner: Range) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def overlaps(a: Range, b: Range) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def is_private(r: Range) -> bool:
    return any(contains(p, r) for p in PRIVATE)


def _cut(a: Range, b: Range) -> Range | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


def intersect(a: Box, b: Box) -> Box | None:
    addrs, ports = _cut(a[0], b[0]), _cut(a[1], b[1])
    return (addrs, ports) if addrs and ports else None


def subtract(a: Box, b: Box) -> list[Box]:
    """a minus b as at most four disjoint boxes."""
    inter = intersect(a, b)
    if inter is None:
        return [a]
    (al, ah), (pl, ph) = a
    (il, ih), (ql, qh) = inter
    out: list[Box] = []
    if al < il:
        out.append(((al, il - 1), (pl, ph)))
    if ih < ah:
        out.append(((ih + 1, ah), (pl, ph)))
    if pl < ql:
        out.append(((il, ih), (pl, ql - 1)))
    if qh < ph:
        out.append(((il, ih), (qh + 1, ph)))
    return out


def subtract_all(region: Iterable[Box], b: Box) -> list[Box]:
    out: list[Box] = []
    for box in region:
        out += subtract(box, b)
    return out


def size(region: Iterable[Box]) -> int:
    return sum((a[1] - a[0] + 1) * (p[1] - p[0] + 1) for a, p in region)


def show_box(box: Box) -> str:
    return f"{show(box[0])} port {show_ports(box[1])}"
