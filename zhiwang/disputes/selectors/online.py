"""Online mediation: a case's meetings, who confirmed an agreement online, and the agreement
as a party sees it on the public confirmation page (personal data masked, also in free text)."""

from __future__ import annotations


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


def mask_party_data(text: str, parties) -> str:
    """``text`` (free text of an agreement) with each party's name, ID number / credit code, phone,
    address and representative replaced by its masked form (an entity's name and code are public)."""
    pairs = []
    for party in parties:
        pairs += [
            (party.identifier, party.masked_identifier),
            (party.phone, party.masked_phone),
            (party.address, party.masked_address),
            (party.representative, party.masked_representative),
            (party.name, party.masked_name),
        ]
    # Longest first: a full address is replaced before a name inside it.
    for plain, masked in sorted(
        {(p, m) for p, m in pairs if p and len(p) >= 2 and p != m}, key=lambda x: -len(x[0])
    ):
        text = text.replace(plain, masked)
    return text


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
