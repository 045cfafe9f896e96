"""Web pages of the disputes app, under /disputes/."""

from django.urls import path

from zhiwang.disputes import views
from zhiwang.disputes.views import public as views_public

app_name = "disputes"

urlpatterns = [
    path("", views.home, name="home"),
    path("alerts/read/", views.alerts_read, name="alerts_read"),
    path("window/", views.window, name="window"),
    path("registry-pick/", views.registry_pick, name="registry_pick"),
    path("visits/<str:number>/action/", views.visit_action, name="visit_action"),
    path("cases/new/", views.case_new, name="case_new"),
    path("confirm/<str:token>/", views_public.confirm_agreement, name="confirm_agreement"),
    path("workbench/", views.workbench, name="workbench"),
    path("ledger/", views.ledger, name="ledger"),
    path("organisations/", views.organisations, name="organisations"),
    path("ledger/export/", views.ledger_export, name="ledger_export"),
    path("cases/<str:number>/", views.case_detail, name="case_detail"),
    path("cases/<str:number>/agreement.<str:fmt>", views.agreement_document, name="agreement_document"),
    path("cases/<str:number>/<str:action>/", views.case_action, name="case_action"),
]
