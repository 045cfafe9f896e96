from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path
from django.utils.functional import lazy
from django.views.generic import RedirectView

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
    # Pages without the shell's <link rel="icon"> (the admin, the API docs, the error pages) make
    # the browser ask for /favicon.ico: answer with the mark instead of a 404 in the console.
    # Not permanent: a browser would keep a 301 for good, whatever the static URL becomes (lazy:
    # a hashed storage's name is known once its manifest is read, not at import).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("web/favicon.ico")), name="favicon"),
    *ticket_urlpatterns,
    *place_urlpatterns,
    *smart_urlpatterns,
    *notification_urlpatterns,
]
