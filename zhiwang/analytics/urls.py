"""Web pages of the analytics app, under /analytics/."""

from django.urls import path

from zhiwang.analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
