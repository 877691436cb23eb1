"""Redaction: addresses out of everything a public pipeline or page shows.

Owns what counts as an address in text and how it is masked (a plan is
masked by `render.redacted` with these, output lines by `errors.scrub`). Anything with
an `@` between two non-blank runs is taken for one, whatever Mailman or a
regexp makes of it (`a@b.c`, `o|brien@`, `^alice@example\\.org$`, IDN
domains, quoted or bracketed forms): the whole run before the `@` is
masked, keeping at most its first letter or digit; the domain stays, so a
reader still sees which site a change concerns. Masking too much is the
safe error here, so the pattern is deliberately greedy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
# The run before the last @ of an address, up to a blank or a character no address has
# around it (Mailman allows ' ` and @ in a local part; regexps add ( ) | [ ] \); or such
# a run ending in a part in double quotes (Mailman takes "jane"@example.org), which starts
# the text or follows a blank, bracket, quote, separator or @. Something must follow the @.
_LOCAL_PART = re.compile(
    r"""(?:(?<![^\s"'<>()\[\]{},;:|=@])[^\s"<>,;]*"[^"\s]+"|[^\s"<>,;]+)(?=@[^\s"<>,;@])"""
)
# A run shorter than this loses its first character too: `a***` would be all of `a`.
_KEEP_FIRST_FROM = 3


# What may follow a kept address without making it part of a longer one.
_ADDRESS_CHAR = re.compile(r"[\w.+-]")


def mask_local_part(local: str) -> str:
    """`alice` as `a***`; a run too short to keep a letter of, or not starting with one, `***`."""
    first = local[0]
    if len(local) >= _KEEP_FIRST_FROM and first.isascii() and first.isalnum():
        return first + MASK
    return MASK


def redact(text: str, keep: Iterable[str] = ()) -> str:
    """`text` with the part before the @ of every address-like run masked, but for the
    addresses in `keep` (any case), where a run is exactly one of them."""
    kept = tuple(address.lower() for address in keep if address)

    def mask(match: re.Match[str]) -> str:
        if kept:
            start = match.start()
            for address in kept:
                end = start + len(address)
                if text[start:end].lower() == address and not _ADDRESS_CHAR.match(
                    text[end : end + 1]
                ):
                    return match.group(0)
        return mask_local_part(match.group(0))

    return _LOCAL_PART.sub(mask, text)


def has_address(text: str) -> bool:
    return _LOCAL_PART.search(text) is not None


def redact_value(value: Any) -> Any:
    """A JSON value (a setting) with every address in its strings masked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    if isinstance(value, dict):
        return {redact(str(k)): redact_value(v) for k, v in value.items()}
    return value
