from django.contrib.auth import views as auth_views
from django.urls import path

from zhiwang.web import views
from zhiwang.web.forms import LoginForm
from zhiwang.web.notifications.urls import urlpatterns as notification_urlpatterns
from zhiwang.web.places.urls import urlpatterns as place_urlpatterns
from zhiwang.web.smart.urls import urlpatterns as smart_urlpatterns
from zhiwang.web.tickets.urls import urlpatterns as ticket_urlpatterns

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="web/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("divisions/", views.division_root, name="division_root"),
    path("divisions/<str:code>/", views.division_detail, name="division_detail"),
    path("grids/", views.my_grids, name="my_grids"),
    path("grids/<str:code>/", views.grid_detail, name="grid_detail"),
    path("healthz", views.healthz, name="healthz"),
    *ticket_urlpatterns,
    *place_urlpatterns,
    *smart_urlpatterns,
    *notification_urlpatterns,
]
