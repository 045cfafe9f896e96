from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "zhiwang.web"
    label = "web"
    verbose_name = _("Web shell")

    def ready(self):
        from django.contrib import admin

        from zhiwang.web.forms import AdminLoginForm

        # /admin/login/ warns before a lock as /login/ does (accounts.backends refuses on both)
        admin.site.login_form = AdminLoginForm
