"""URLs of the place pages (included by zhiwang.web.urls under the ``web`` namespace)."""

from django.urls import path

from zhiwang.web.places import views

urlpatterns: list = [
    path("places/<str:code>/", views.place_detail, name="place_detail"),
]
