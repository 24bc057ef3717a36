"""The paths to evaluate: every subnet a source may send from, to every
subnet the destination may answer from. A function in two subnets reaching
a proxy in three is six paths; each must work, or some invocations fail."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from . import addr


@dataclass(frozen=True)
class Pair:
    source: dict                 # facts.py source
    src_subnet: dict | None      # {id, cidr, vpc, az, range}; None: not in a VPC
    src_range: addr.Range
    dest: dict                   # facts.py destination
    dst_subnet: dict | None      # None: outside the VPCs (internet, public endpoint)
    dst_range: addr.Range

    @property
    def port(self) -> int:
        return int(self.dest["port"])

    @property
    def dst_exact(self) -> bool:
        """True when every address of dst_range is the destination (a /32);
        False when the destination is one unknown address in it (a DB's
        interface somewhere in its subnet, an internet host)."""
        return bool(self.dest.get("exact"))

    @property
    def same_subnet(self) -> bool:
        return bool(self.src_subnet and self.dst_subnet and self.src_subnet["id"] == self.dst_subnet["id"])

    @property
    def same_vpc(self) -> bool:
        return bool(self.src_subnet and self.dst_subnet and self.src_subnet["vpc"] == self.dst_subnet["vpc"])

    @property
    def src_label(self) -> str:
        if self.src_subnet is None:
            return self.source["name"]
        where = self.source.get("address") or self.src_subnet["cidr"]
        return f"{self.source['name']} in {self.src_subnet['id']} ({where})"

    @property
    def dst_label(self) -> str:
        if self.dst_subnet is None:
            if self.dst_range == addr.ALL_V4:
                return self.dest["label"]
            return f"{self.dest['label']} ({addr.show(self.dst_range)})"
        return f"{self.dest['name']} in {self.dst_subnet['id']} ({addr.show(self.dst_range)})"

    @property
    def label(self) -> str:
        return f"{self.src_label} -> {self.dst_label}"


def pairs(net: dict) -> Iterator[Pair]:
    """Every source subnet to every subnet of every destination (a function
    whose environment names two databases has paths to both)."""
    if not net.get("resolved"):
        return
    for dest in net.get("destinations") or [net.get("destination")]:
        if dest:
            yield from _pairs_to(net, dest)


def _pairs_to(net: dict, dest: dict) -> Iterator[Pair]:
    for src in net.get("sources") or []:
        if not src.get("in_vpc"):
            yield Pair(src, None, addr.ALL_V4, dest, None, tuple(dest.get("range") or addr.ALL_V4))
            continue
        for s in src.get("subnets") or []:
            ip = addr.cidr(src.get("address")) if src.get("address") else None
            s_range = ip or tuple(s["range"])
            if dest.get("subnets"):
                for d in dest["subnets"]:
                    d_range = tuple(dest["range"]) if dest.get("kind") == "address" and dest.get("range") else tuple(d["range"])
                    yield Pair(src, s, s_range, dest, d, d_range)
            else:
                yield Pair(src, s, s_range, dest, None, tuple(dest.get("range") or addr.ALL_V4))


def certainty(request: addr.Box, denied: list[addr.Box], addresses_exact: bool) -> str:
    """'allowed', 'blocked' or 'caveat'. With an inexact address dimension the
    destination is one unknown address of the range: only when every address
    has a denied part is the block certain."""
    if not denied:
        return "allowed"
    if addresses_exact:
        return "blocked"
    spans = sorted(b[0] for b in denied)
    lo, hi = request[0]
    reach = lo - 1
    for a, b in spans:
        if a > reach + 1:
            return "caveat"
        reach = max(reach, b)
    return "blocked" if reach >= hi else "caveat"


def which_destination(pair: Pair) -> dict:
    """Which destination a blocking hop is on the way to (a function may name
    several databases): its endpoint and where it was found (an environment
    variable, --db)."""
    return {"database": pair.dest.get("endpoint") or pair.dest.get("host") or pair.dest.get("name"), "found_in": pair.dest.get("found_in")}
