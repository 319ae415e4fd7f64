"""A usable e-mail address: one Omie can send the NFS-e to, checked before Omie is asked.

Omie refuses to bill a note whose client has no e-mail, and a malformed one only fails later, at
the prefeitura or the mail server. No e-mail library is installed (pydantic's `EmailStr` needs
`email-validator`), so this is a plain check of the common form (RFC 5321/5322 without quoted
local parts, comments or IP literals, which no invoicing address uses):
- local part: letters, digits and ``!#$%&'*+/=?^_`{|}~-``, in dot-separated non-empty pieces, 64 characters at most;
- domain: at least two labels of letters, digits and inner hyphens (each 1-63 characters), a top
  level of letters only (2 or more), 253 characters at most; international names must be in
  their ASCII (punycode, ``xn--``) form, which is also what Omie's 500-character field keeps.
A CRM field may hold several addresses separated by `,` or `;`; each must be usable.
"""

from __future__ import annotations

import re

from omie_pipeline.i18n import N_, _

_LOCAL_PIECE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TOP_LEVEL = re.compile(r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})")
# One address of the common form with nothing around it: what most CRM fields hold, read at once.
_ONE_ADDRESS = re.compile(
    rf"(?P<local>{_LOCAL_PIECE.pattern}(?:\.{_LOCAL_PIECE.pattern})*)@(?P<domain>(?:{_LABEL.pattern}\.)+{_TOP_LEVEL.pattern})"
)
_ORDINALS = (
    N_("the first address"),
    N_("the second address"),
    N_("the third address"),
    N_("the fourth address"),
    N_("the fifth address"),
)


class EmailError(ValueError):
    """Why an e-mail field is not usable, without repeating the address (it is personal data)."""


def _problem(address: str) -> str | None:
    """What is wrong with one address, or None when it is usable."""
    if address.count("@") != 1:
        return _("it must have exactly one @")
    local, domain = address.split("@")
    if not local or len(local) > 64:
        return _("the part before the @ must have 1 to 64 characters")
    if not all(_LOCAL_PIECE.fullmatch(piece) for piece in local.split(".")):
        return _("the part before the @ has a character not allowed, or an empty part between dots")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2:
        return _("the domain must look like example.com.br")
    if not all(labels):
        return _("the domain has an empty part between dots")
    if not all(_LABEL.fullmatch(label) for label in labels[:-1]) or not _TOP_LEVEL.fullmatch(labels[-1]):
        return _(
            "the domain has a character not allowed, a part that starts or ends with '-', "
            "or a top level not made of letters"
        )
    return None


def parse_emails(text: str) -> list[str]:
    """The addresses in `text` (separated by `,` or `;`), each checked; EmailError says which one is wrong and why."""
    one = _ONE_ADDRESS.fullmatch(text or "")
    if one and len(one["local"]) <= 64 and len(one["domain"]) <= 253:
        return [text]
    addresses = [part.strip() for part in re.split(r"[,;]", text or "") if part.strip()]
    if not addresses:
        raise EmailError(_("it holds no e-mail address"))
    for position, address in enumerate(addresses):
        problem = _problem(address)
        if problem:
            which = _("the address") if len(addresses) == 1 else _ordinal(position)
            raise EmailError(_("{which} is not usable: {problem}").format(which=which, problem=problem))
    return addresses


def is_usable_email(text: str | None) -> bool:
    """True when `text` holds one or more usable addresses."""
    try:
        parse_emails(text or "")
    except EmailError:
        return False
    return True


def _ordinal(position: int) -> str:
    """`the second address`; past the fifth, by number."""
    if position < len(_ORDINALS):
        return _(_ORDINALS[position])
    return _("address #{number}").format(number=position + 1)
