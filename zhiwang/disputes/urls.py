"""Web pages of the disputes app, under /disputes/."""

from django.urls import path

from zhiwang.disputes import views

app_name = "disputes"

urlpatterns = [
    path("", views.home, name="home"),
]
