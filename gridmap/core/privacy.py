"""Masking of personal data (个人信息) before it leaves the server, and the one rule of what
a reader sees plain without asking (:func:`disclosure_for`).

Names, phone numbers, ID numbers and addresses are masked by default; the plain value is
only given by an explicit, audited reveal (see ``gridmap.api.reveal``), except what a
reader's duty needs (:class:`Disclosure`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, overload

_DIGIT = re.compile(r"\d")
# What people type between the digit groups of a number: spaces (also no-break and
# ideographic), hyphens and dashes (also full-width), dots.
_SEP = r"[ .\-\u00a0\u2010-\u2015\u3000\uff0d]"
# A phone or ID number typed into free text (descriptions, notes), written as it comes:
# - an ID number (身份证号, 15 or 18 characters, starting 1-8) with a separator anywhere,
#   ``110101 19900307 1234``;
# - a mobile number (11 digits from 13-19), with or without +86, ``138-1234-5678``,
#   ``138 1234 5678``, ``+86 138 1234 5678``;
# - any run of 7 or more digits (landlines, numbers of other shapes).
# Dates (``2026-11-22``) and times have too few digits or the wrong start to match.
_NUMBER_IN_TEXT = re.compile(
    rf"(?<!\d)(?:"
    rf"[1-8](?:{_SEP}?\d){{14}}(?:(?:{_SEP}?\d){{2}}{_SEP}?[\dXx])?"
    rf"|(?P<country>\+?86{_SEP}?)?1[3-9](?:{_SEP}?\d){{9}}"
    rf"|\d{{7,}}[Xx]?"
    rf")(?!\d)"
)
# Where an address stops being public: after the community (社区) or residential estate.
_ADDRESS_PUBLIC_END = re.compile(r"(社区|小区|村|街道|路|街|巷)")


@overload
def mask_name(name: str) -> str: ...
@overload
def mask_name(name: None) -> None: ...
def mask_name(name: str | None) -> str | None:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the surname's first character only."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


@overload
def mask_phone(phone: str) -> str: ...
@overload
def mask_phone(phone: None) -> None: ...
def mask_phone(phone: str | None) -> str | None:
    """``18012341999`` → ``180****1999``; short numbers keep only their last two digits."""
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 1) + phone[-2:]


@overload
def mask_id_number(number: str) -> str: ...
@overload
def mask_id_number(number: None) -> None: ...
def mask_id_number(number: str | None) -> str | None:
    """``110101199003071234`` → ``110***********1234``."""
    if not number:
        return number
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


@overload
def mask_address(address: str) -> str: ...
@overload
def mask_address(address: None) -> None: ...
def mask_address(address: str | None) -> str | None:
    """Keep the address up to the community or road; hide building, unit and room numbers.

    ``东城区和平里街道和平里第1社区12号楼2单元301``
    → ``东城区和平里街道和平里第1社区**号楼*单元***``.
    """
    if not address:
        return address
    ends = [m.end() for m in _ADDRESS_PUBLIC_END.finditer(address)]
    cut = ends[-1] if ends else min(len(address), 6)
    return address[:cut] + _DIGIT.sub("*", address[cut:])


@overload
def mask_text(text: str) -> str: ...
@overload
def mask_text(text: None) -> None: ...
def mask_text(text: str | None) -> str | None:
    """Phone and ID numbers typed into free text, masked like the fields that hold them
    (first 3 and last 4 digits kept), separators and all: ``138-1234-5678`` →
    ``138-****-5678``, ``110101 19900307 1234`` → ``110*** ******** 1234``."""
    if not text:
        return text
    return _NUMBER_IN_TEXT.sub(_mask_number, text)


def _mask_number(found: re.Match[str]) -> str:
    country = found.group("country") or ""
    number = found.group()[len(country) :]
    places = [i for i, c in enumerate(number) if c.isdigit() or c in "Xx"]
    # mask_phone's rule: long numbers keep their first 3 and last 4, short ones their last 2.
    shown = places[:3] + places[-4:] if len(places) >= 11 else places[-2:]
    hidden = set(places) - set(shown)
    return country + "".join("*" if i in hidden else c for i, c in enumerate(number))


def mask_email(email: str | None) -> str | None:
    if not email:
        return email
    user, _, domain_part = email.partition("@")
    return f"{user[:1]}***@{domain_part}"


def mask_digits(text: str | None) -> str | None:
    """Building, unit and room numbers: every digit hidden (``12`` → ``**``)."""
    return _DIGIT.sub("*", text) if text else text


def mask_contact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a person entry with its ``name`` and ``phone`` masked."""
    return {**entry, "name": mask_name(entry.get("name")), "phone": mask_phone(entry.get("phone"))}


def id_number_digest(number: str, key: str) -> str:
    """A keyed hash of an ID number: finds duplicates without storing the number."""
    normalised = number.strip().upper()
    return hmac.new(key.encode(), normalised.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Disclosure:
    """What a reader sees plain of the rows they read, without an audited reveal.

    ``doors``: a household's building, unit and room number (and so its full address).
    ``staff_names``: the names of the people who staff grids and cover households.
    Everything else personal stays masked until revealed: residents' names, every phone
    number, ID numbers, numbers typed into free text.
    """

    doors: bool = False
    staff_names: bool = False

    @overload
    def address(self, address: str) -> str: ...
    @overload
    def address(self, address: None) -> None: ...
    def address(self, address: str | None) -> str | None:
        return address if self.doors else mask_address(address)

    def door(self, number: str | None) -> str | None:
        """A building, unit or room number."""
        return number if self.doors else mask_digits(number)

    @overload
    def staff_name(self, name: str) -> str: ...
    @overload
    def staff_name(self, name: None) -> None: ...
    def staff_name(self, name: str | None) -> str | None:
        return name if self.staff_names else mask_name(name)

    def staff_contact(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a staff entry (``name``, ``phone``): the name as this reader sees staff
        names, the phone masked (a personal number, revealed one at a time)."""
        return {
            **entry,
            "name": self.staff_name(entry.get("name")),
            "phone": mask_phone(entry.get("phone")),
        }


#: Nothing plain: readers without a duty (Open311 clients, unknown roles).
MASKED = Disclosure()

# The rule, by role. It holds for the rows a reader gets, which are always those of their
# scope (``gridmap.storage.scoping``): a role's scope is the area of its duty.
#
# Doors follow duty. A household's grid worker (网格员) knocks on its door for the monthly
# survey and the weekly visit: six households of one building read "*号楼*单元***" alike,
# and the worker cannot tell which door is which. The members who cover it (党员分片包户)
# visit it; its zone leader (网格长) and community chief (总网格长) send them and answer for
# it. Their scopes are exactly those households: the micro-grid and the covered households,
# the covered households, the zone, the community. A street administrator and an auditor
# oversee many communities from a distance: counts and areas, not doors, so the address
# stays masked for them (the administrator may still reveal one, audited).
#
# Staff names are public to staff. Grid staff and party members serve under their own
# names ("亮明身份，挂牌服务": show who you are, serve under a name plate): a chief who cannot
# read the names of the workers and members of their own community cannot call on them.
# Their phone numbers are personal and stay masked until revealed, as do residents' names
# and phones: knowing the door is for finding a household, not for naming who lives there.
DUTY_ROLES: frozenset[str] = frozenset({"chief", "zone_leader", "grid_worker", "member"})
# A unit's party organisation reads the names of its own members (双报告), nothing else.
STAFF_ROLES: frozenset[str] = DUTY_ROLES | {"street_admin", "auditor", "unit"}


def disclosure_for(role: str | None) -> Disclosure:
    """What a reader in ``role`` sees plain (see the rule above)."""
    return Disclosure(doors=role in DUTY_ROLES, staff_names=role in STAFF_ROLES)
