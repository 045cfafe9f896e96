"""Web pages of the analytics app, under /analytics/."""

from django.urls import path

from zhiwang.analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:alert_id>/decide", views.alert_decide, name="alert_decide"),
    path("alerts/subscribe", views.alert_subscribe, name="alert_subscribe"),
    path("index/", views.index, name="index"),
    path("indicators/", views.indicators, name="indicators"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:report_id>/status", views.report_status, name="report_status"),
    path("reports/<int:report_id>/rerun", views.report_rerun, name="report_rerun"),
    path("reports/<int:report_id>/<str:fmt>", views.report_download, name="report_download"),
]
