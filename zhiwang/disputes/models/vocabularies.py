"""Vocabularies of disputes: mediation types, sources, risk colours, statuses, roles."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# --- vocabularies ----------------------------------------------------------------


class MediationType(models.TextChoices):
    """调解类型 (DOMAIN.md)."""

    PEOPLES = "peoples", _("People's mediation")  # 人民调解
    ADMINISTRATIVE = "administrative", _("Administrative mediation")  # 行政调解
    JUDICIAL = "judicial", _("Judicial mediation")  # 司法调解
    PROFESSIONAL = "professional", _("Professional (sector) mediation")  # 行业性专业性调解


class CaseSource(models.TextChoices):
    """Where a case came from (DOMAIN.md: proactive, on application, on referral).

    On application: at the service centre's window (``WINDOW``, a case opened from a visit) or
    directly to the mediation organisation (``APPLICATION``: a party who walked into the committee's
    office or called the mediator; 人民调解法 art. 17, 当事人申请调解), or by a call to the 12345
    hotline registered as a case by its operator (``HOTLINE``). Proactive: ``GRID``,
    ``PROACTIVE``. On referral: ``TICKET`` (a 12345 ticket transferred), ``PETITION``, ``COURT``,
    ``POLICE``.
    """

    WINDOW = "window", _("Service window (on application)")  # 窗口申请
    APPLICATION = "application", _("Application by a party")  # 当事人申请
    HOTLINE = "hotline", _("12345 hotline call")  # 12345热线来电
    TICKET = "ticket", _("From a ticket (12345)")  # 工单转调解
    GRID = "grid", _("Found by a grid worker (proactive)")  # 网格排查
    PETITION = "petition", _("Referred by the petition office")  # 信访移交
    COURT = "court", _("Referred by a court")  # 法院委派
    POLICE = "police", _("Referred by the police")  # 公安移交
    PROACTIVE = "proactive", _("Proactive screening")  # 主动排查


class RiskColour(models.TextChoices):
    """风险等级: red is reported up at once, orange the same day, yellow handled at grid level."""

    RED = "red", _("Red")
    ORANGE = "orange", _("Orange")
    YELLOW = "yellow", _("Yellow")
    BLUE = "blue", _("Blue")


class CaseScale(models.TextChoices):
    """规模: group disputes (群体性) are watched more closely."""

    INDIVIDUAL = "individual", _("Individual")  # 一般
    GROUP = "group", _("Group (5 or more people)")  # 群体性
    MAJOR = "major", _("Major")  # 重大


class CaseStatus(models.TextChoices):
    """Where a case is (transitions in ``disputes.workflow``)."""

    RECEIVED = "received", _("Awaiting assignment")  # 待分派
    ASSIGNED = "assigned", _("Assigned")  # 已分派
    MEDIATING = "mediating", _("Being mediated")  # 调解中
    AGREED = "agreed", _("Agreement reached")  # 已达成协议 (performance followed up)
    REFERRED = "referred", _("Referred")  # 已移交 (arbitration, litigation…)
    CLOSED = "closed", pgettext_lazy("dispute", "Closed")  # 已结案


OPEN_CASE_STATUSES = (CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.MEDIATING, CaseStatus.AGREED)
#: Statuses that count in a mediator's or organisation's workload.
WORKLOAD_STATUSES = (CaseStatus.ASSIGNED, CaseStatus.MEDIATING)


class CaseOutcome(models.TextChoices):
    """调解结果, required to close a case."""

    SUCCESS = "success", _("Mediated successfully")  # 调解成功
    FAILED = "failed", _("Mediation failed")  # 调解不成
    WITHDRAWN = "withdrawn", _("Withdrawn by the applicant")  # 撤回申请
    REFERRED = "referred", _("Referred elsewhere")  # 移交其他途径


class ReferralKind(models.TextChoices):
    """No agreement → another channel (DOMAIN.md)."""

    ARBITRATION = "arbitration", _("Arbitration")  # 仲裁
    LITIGATION = "litigation", _("Litigation")  # 诉讼
    PETITION = "petition", _("Petition")  # 信访
    RECONSIDERATION = "reconsideration", _("Administrative reconsideration")  # 行政复议


class AgreementForm(models.TextChoices):
    ORAL = "oral", _("Oral agreement")  # 口头协议
    WRITTEN = "written", _("Written agreement")  # 书面协议


class PerformanceStatus(models.TextChoices):
    """履行情况 as found at the follow-up visit."""

    PENDING = "pending", _("Not yet due")  # 待履行
    PERFORMED = "performed", _("Performed")  # 已履行
    PARTLY = "partly", _("Partly performed")  # 部分履行
    NOT_PERFORMED = "not_performed", _("Not performed")  # 未履行


class ConfirmationStatus(models.TextChoices):
    """司法确认 of an agreement (within 30 days of it)."""

    NONE = "", _("Not applied for")
    APPLIED = "applied", _("Applied for")
    CONFIRMED = "confirmed", _("Confirmed by the court")
    REFUSED = "refused", _("Refused by the court")


class PartyRole(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")  # 申请人
    RESPONDENT = "respondent", _("Respondent")  # 被申请人
    THIRD_PARTY = "third_party", _("Third party")  # 第三人


class PartyKind(models.TextChoices):
    PERSON = "person", pgettext_lazy("dispute party", "Person")  # 自然人
    ENTITY = "entity", pgettext_lazy("dispute party", "Legal entity")  # 法人或其他组织


class OrganisationKind(models.TextChoices):
    PEOPLES_COMMITTEE = "peoples_committee", _("People's mediation committee")  # 人民调解委员会
    SECTOR = "sector", _("Sector mediation body")  # 行业性专业性调解组织
    ADMINISTRATIVE = "administrative", _("Administrative mediation office")  # 行政调解
    JUDICIAL = "judicial", _("Court mediation office")  # 诉调对接
    OTHER = "other", _("Other")


class VisitStatus(models.TextChoices):
    WAITING = "waiting", pgettext_lazy("dispute visit", "Waiting")  # 排队中
    SERVING = "serving", _("Being served")  # 办理中
    DONE = "done", pgettext_lazy("dispute visit", "Done")  # 已办结
    CASE_OPENED = "case_opened", _("Dispute case opened")  # 已立案调解
