"""Two dispatchers assigning cases to one mediator with one place left, at the same moment.

Before the fix each counted the mediator's open cases without a lock: both saw one place
left and both assigned (PostgreSQL), past the mediator's capacity. The organisation's
mediators are now locked before counting: the second assignment waits for the first, counts
its case and is refused (``disputes.mediator_full``).
"""

from __future__ import annotations

import threading

import pytest

from tests.threads import needs_row_locks, run_in_threads
from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import WORKLOAD_STATUSES, DisputeCase, Mediator
from zhiwang.disputes.services import assignment, case_assign


@needs_row_locks
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("named", [True, False], ids=["named-mediator", "chosen-by-workload"])
def test_a_mediator_with_one_place_left_gets_one_case(named, city_restored, world, make_case, monkeypatch):
    Mediator.objects.filter(user=world.mediator).update(capacity=1)
    Mediator.objects.filter(user=world.mediator2).update(is_active=False)  # the only one to choose
    cases = [make_case(), make_case(title="隔壁装修噪音纠纷")]
    # both wait, right after counting the workloads, for the other to have counted too (at
    # most 2 s: when the mediators are locked, the second counts only after the first commits)
    barrier = threading.Barrier(2)
    counted = assignment.mediator_workloads

    def counting(organisation):
        loads = counted(organisation)
        try:
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return loads

    monkeypatch.setattr(assignment, "mediator_workloads", counting)

    def assign(case):
        return lambda: case_assign(
            case=case,
            actor=world.sub_dispatcher,
            organisation=world.org,
            mediator=world.mediator if named else None,
        )

    results = run_in_threads(*(assign(case) for case in cases), start_together=False)
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], ServiceError) and refused[0].code == "disputes.mediator_full"
    assert DisputeCase.objects.filter(mediator=world.mediator, status__in=WORKLOAD_STATUSES).count() == 1
