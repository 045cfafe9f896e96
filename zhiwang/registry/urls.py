"""Web pages of the registry app, under /registry/."""

from django.urls import path

from zhiwang.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.home, name="home"),
]
