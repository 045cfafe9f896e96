"""URLs of the ticket pages (included into the ``web`` namespace by ``zhiwang.web.urls``)."""

from django.urls import path

from zhiwang.web.tickets.views import citizen, detail, imports, intake, work

urlpatterns = [
    # citizens (public)
    path("report/", citizen.report, name="ticket_report"),
    path("report/done/<str:number>/", citizen.report_done, name="ticket_report_done"),
    path("report/panels/suggest/", citizen.suggest_panel, name="ticket_report_suggest_panel"),
    path("track/", citizen.track, name="ticket_track"),
    path("track/<str:number>/", citizen.track_detail, name="ticket_track_detail"),
    path("track/<str:number>/rate/", citizen.rate, name="ticket_rate"),
    path("my/requests/", citizen.my_tickets, name="my_tickets"),
    # intake operators
    path("intake/", intake.intake, name="ticket_intake"),
    path("intake/panels/suggest/", intake.suggest_panel, name="ticket_suggest_panel"),
    path("intake/panels/caller/", intake.caller_panel, name="ticket_caller_panel"),
    path("intake/panels/place/", intake.place_panel, name="ticket_place_panel"),
    path("call-imports/", imports.import_new, name="ticket_import"),
    path("call-imports/example.csv", imports.import_example, name="ticket_import_example"),
    path("call-imports/<int:pk>/", imports.import_detail, name="ticket_import_detail"),
    path("call-imports/<int:pk>/progress/", imports.import_progress, name="ticket_import_progress"),
    path("call-imports/<int:pk>/again/", imports.import_again, name="ticket_import_again"),
    path("call-imports/<int:pk>/report.csv", imports.import_report, name="ticket_import_report"),
    # dispatchers, handlers, grid workers
    path("dispatch/", work.dispatch_queue, name="dispatch_queue"),
    path("dispatch/bulk/", work.dispatch_bulk, name="dispatch_bulk"),
    path("inbox/", work.handler_inbox, name="handler_inbox"),
    path("patrol/report/", work.patrol_report, name="patrol_report"),
    path("patrol/verify/", work.verify_list, name="verify_list"),
    # every staff role
    path("tickets/", work.ticket_list, name="ticket_list"),
    path("tickets/<str:number>/", detail.ticket_detail, name="ticket_detail"),
    path("tickets/<str:number>/act/<slug:slug>/", detail.ticket_act, name="ticket_act"),
    path("tickets/<str:number>/files/<int:pk>/", detail.attachment, name="ticket_attachment"),
]
