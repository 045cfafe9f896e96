from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GeoConfig(AppConfig):
    name = "zhiwang.geo"
    label = "geo"
    verbose_name = _("Divisions, grids and addresses")
