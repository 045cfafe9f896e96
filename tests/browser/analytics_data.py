"""Data for the analytics browser tests: calls at one building and the address-cluster alert they
make, raised through the service as the detector would."""

from __future__ import annotations

from datetime import timedelta

from tests.browser.test_ticket_flows import submit

#: The explanation an address cluster of three calls carries.
EXPLANATION = "测试地址：3天内3件，预期0.2"


def calls_and_address_alert(building, prefix: str, *, explanation: str = EXPLANATION):
    """Three calls at ``building`` (external ids ``<prefix>-0…2``) and the open alert about them."""
    from django.utils import timezone

    from zhiwang.analytics.alerts import Finding
    from zhiwang.analytics.services import alert_raise

    for n in range(3):
        submit(building, external_id=f"{prefix}-{n}")
    now = timezone.now()
    alert, _created = alert_raise(
        finding=Finding(
            kind="address_cluster",
            key=f"address:{building.pk}",
            explanation=explanation,
            window_start=now - timedelta(days=3),
            window_end=now + timedelta(hours=1),
            observed=3,
            division_id=building.community_id,
        )
    )
    return alert
