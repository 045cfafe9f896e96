"""Web pages of the registry app, under /registry/."""

from django.urls import path

from zhiwang.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.home, name="home"),
    path("people/export.csv", views.people_export, name="people_export"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/correct/", views.person_correct, name="person_correct"),
    path(
        "people/<int:pk>/residence/correct/",
        views.person_residence_correct,
        name="person_residence_correct",
    ),
    path("people/<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("entities/<int:pk>/", views.entity_detail, name="entity_detail"),
    path("conflicts/", views.conflicts, name="conflicts"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/new/", views.import_new, name="import_new"),
    path(
        "imports/templates/<int:pk>/sample.csv", views.import_template_sample, name="import_template_sample"
    ),
    path(
        "imports/templates/<int:pk>/sample.xlsx",
        views.import_template_sample_xlsx,
        name="import_template_sample_xlsx",
    ),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/resume/", views.import_resume, name="import_resume"),
    path("imports/<int:pk>/publish/", views.import_publish, name="import_publish"),
    path("imports/<int:pk>/report.xlsx", views.import_report, name="import_report"),
]
