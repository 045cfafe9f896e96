"""Online mediation: a case's meetings, who confirmed an agreement online, and the agreement
as a party sees it on the public confirmation page (personal data masked, also in free text)."""

from __future__ import annotations

import re

from zhiwang.core.masking import mask_text


def case_meetings(*, case) -> list:
    """The case's online sessions, soonest first (room code and, when configured, the video link)."""
    from zhiwang.disputes.models import OnlineMeeting

    return list(OnlineMeeting.objects.filter(case=case).order_by("scheduled_at", "pk"))


def agreement_confirmations(*, agreement) -> list[dict]:
    """Per party of the agreement's case: confirmed online (when, from which IP), or the latest link's expiry."""
    from zhiwang.disputes.models import ConfirmationLink

    links = {}
    for link in ConfirmationLink.objects.filter(agreement=agreement).order_by("created_at", "pk"):
        kept = links.get(link.party_id)
        if kept is None or kept.used_at is None:  # a used link stays the party's answer
            links[link.party_id] = link
    return [
        {"party": party, "link": links.get(party.pk)}
        for party in agreement.case.parties.order_by("role", "pk")
        if party.pk in links
    ]


#: What people type between the characters of a number: "138-0013-8001", "138 0013 8001", "138.0013.8001".
_SEPARATOR = r"[-\s.\u00a0]?"


def _written_as_typed(value: str) -> str:
    """A pattern for ``value`` (an ID number, credit code or phone) as people type it into free text:
    any case (a lowercase final x), separators between its characters; never inside a longer number."""
    return r"(?<!\d)" + _SEPARATOR.join(re.escape(char) for char in value) + r"(?!\d)"


def _phone_as_typed(phone: str) -> str:
    """Like ``_written_as_typed``, also with the country prefix written before it ("+86 138…", "0086…")."""
    prefix = r"(?:(?:\+|00)86" + _SEPARATOR + r")?"
    number = _SEPARATOR.join(re.escape(char) for char in phone.lstrip("+"))
    return r"(?<![\d+])" + prefix + r"\+?" + number + r"(?!\d)"


def mask_party_data(text: str, parties) -> str:
    """``text`` (free text of an agreement) with each party's name, ID number / credit code, phone,
    address and representative replaced by its masked form (an entity's name and code are public).

    Numbers are found as people type them (a lowercase x, separators, a +86 prefix); then the
    shared free-text masker (``zhiwang.core.masking.mask_text``) hides any other ID number or
    phone number written in it, a third person's or a party's number the case does not hold.
    """
    if not text:
        return text
    replacements = []
    for party in parties:
        if party.identifier and party.identifier != party.masked_identifier:
            replacements.append(
                (party.identifier, _written_as_typed(party.identifier), party.masked_identifier)
            )
        if party.phone and len(party.phone) >= 2:
            replacements.append((party.phone, _phone_as_typed(party.phone), party.masked_phone))
        for plain, masked in (
            (party.address, party.masked_address),
            (party.representative, party.masked_representative),
            (party.name, party.masked_name),
        ):
            if plain and len(plain) >= 2 and plain != masked:
                replacements.append((plain, re.escape(plain), masked))
    # Longest first: a full address is replaced before a name inside it.
    for _plain, pattern, masked in sorted(set(replacements), key=lambda r: -len(r[0])):
        text = re.sub(pattern, lambda _match, masked=masked: masked, text, flags=re.IGNORECASE)
    return mask_text(text)


def agreement_for_party(*, link) -> dict:
    """What the public confirmation page shows: the agreement with the parties' personal data masked,
    also inside its free text."""
    agreement = link.agreement
    parties = list(agreement.case.parties.order_by("role", "pk"))
    return {
        "number": agreement.number,
        "case_number": agreement.case.number,
        "parties": parties,
        "facts": mask_party_data(agreement.facts, parties),
        "terms": mask_party_data(agreement.terms, parties),
        "performance_manner": mask_party_data(agreement.performance_manner, parties),
        "performance_deadline": agreement.performance_deadline,
        "signed_on": agreement.signed_on,
    }
