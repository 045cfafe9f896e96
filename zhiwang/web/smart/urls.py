"""URLs of the smart-dispatch administration page (included into the ``web`` namespace)."""

from django.urls import path

from zhiwang.web.smart import views

urlpatterns = [
    path("smart-dispatch/", views.smart_dispatch, name="smart_dispatch"),
    path("smart-dispatch/threshold/", views.set_threshold, name="smart_threshold"),
    path("smart-dispatch/retrain/", views.retrain, name="smart_retrain"),
    path("smart-dispatch/runs/<int:pk>/", views.run_progress, name="smart_run"),
    path("smart-dispatch/models/<int:pk>/compare/", views.compare, name="smart_compare"),
    path("smart-dispatch/models/<int:pk>/promote/", views.promote, name="smart_promote"),
    path("smart-dispatch/rollback/", views.rollback, name="smart_rollback"),
]
