from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClassifierConfig(AppConfig):
    name = "zhiwang.classifier"
    label = "classifier"
    verbose_name = _("Text classification")

    def ready(self):
        from zhiwang.classifier.notices import DRIFT_PREFIX, render_notice
        from zhiwang.core.models import register_notice_renderer

        register_notice_renderer(DRIFT_PREFIX, render_notice)
