"""Open311 GeoReport v2: who may post (clients and their keys), what a service asks (attributes),
and what a posted request brought that a ticket does not hold (submissions).

The services themselves are the active leaves of the ticket catalogue (``tickets.Category``);
a service request is a ticket. These models only add the Open311 side.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: An attribute code travels in a form key ``attribute[CODE]``: no brackets, no spaces.
attribute_code_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]+$", _("Use letters, digits, “_”, “-” and “.” only.")
)


class Open311Client(models.Model):
    """An application allowed to POST service requests, holding one API key.

    Only the key's SHA-256 and its first characters (to recognise it in lists) are
    stored; the key itself is shown once, when it is issued. A revoked client's key
    stops working at once; issuing a new key to it (rotation) makes it active again.
    """

    name = models.CharField(_("name"), max_length=128, unique=True)
    contact = models.CharField(
        _("contact"), max_length=255, blank=True, help_text=_("Who to call about this application")
    )
    key_prefix = models.CharField(_("key prefix"), max_length=16, db_index=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    key_issued_at = models.DateTimeField(_("key issued at"), editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("Open311 client")
        verbose_name_plural = _("Open311 clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AttributeDatatype(models.TextChoices):
    """The datatypes of GeoReport v2 service attributes."""

    STRING = "string", _("Text (one line)")
    NUMBER = "number", pgettext_lazy("datatype", "Number")  # 数字 (a ticket's "Number" is 编号)
    DATETIME = "datetime", _("Date and time")
    TEXT = "text", _("Text (several lines)")
    SINGLEVALUELIST = "singlevaluelist", _("Choose one")
    MULTIVALUELIST = "multivaluelist", _("Choose one or more")


LIST_DATATYPES = (AttributeDatatype.SINGLEVALUELIST, AttributeDatatype.MULTIVALUELIST)


class ServiceAttribute(models.Model):
    """One extra question a service asks when a request is posted (GeoReport v2 service definition).

    ``values`` holds the options of the list datatypes as ``[{"key": …, "name": …}]``;
    ``key`` is what the client sends, ``name`` what a person reads. An attribute that is
    not ``variable`` is information shown with the service and takes no input.
    """

    category = models.ForeignKey(
        "tickets.Category",
        verbose_name=_("service (category)"),
        on_delete=models.CASCADE,
        related_name="open311_attributes",
    )
    code = models.CharField(_("code"), max_length=64, validators=[attribute_code_validator])
    variable = models.BooleanField(
        _("takes input"), default=True, help_text=_("Off: information only, no answer expected")
    )
    datatype = models.CharField(_("datatype"), max_length=16, choices=AttributeDatatype.choices)
    required = models.BooleanField(_("required"), default=False)
    description = models.TextField(_("question or instructions"))
    datatype_description = models.CharField(
        _("input help"), max_length=255, blank=True, help_text=_("e.g. the expected format")
    )
    order = models.PositiveSmallIntegerField(
        _("order"), default=1, validators=[MinValueValidator(1)], help_text=_("1 is shown first")
    )
    values = models.JSONField(
        _("options"),
        default=list,
        blank=True,
        help_text=_('For the list datatypes: [{"key": "small", "name": "少量"}, …]'),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service attribute")
        verbose_name_plural = _("service attributes")
        ordering = ["category", "order"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="open311_attribute_code_unique"),
            models.UniqueConstraint(fields=["category", "order"], name="open311_attribute_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.category.code} · {self.code}"

    def option_keys(self) -> list[str]:
        return [str(v.get("key")) for v in self.values or [] if isinstance(v, dict)]

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.datatype in LIST_DATATYPES:
            options = self.values if isinstance(self.values, list) else None
            if not options:
                errors["values"] = _("A list datatype needs at least one option.")
            elif not all(
                isinstance(v, dict) and str(v.get("key", "")).strip() and str(v.get("name", "")).strip()
                for v in options
            ):
                errors["values"] = _('Each option needs a "key" and a "name".')
            elif len(set(self.option_keys())) != len(options):
                errors["values"] = _("Option keys must be unique.")
        elif self.values:
            errors["values"] = _("Only the list datatypes have options.")
        if self.category_id and self.category.children.filter(is_active=True).exists():
            errors["category"] = _("Attributes belong to a service: choose a category without subcategories.")
        if errors:
            raise ValidationError(errors)


class Open311Submission(models.Model):
    """What a ticket posted through Open311 brought beyond the ticket's own fields.

    The client that posted it and its request id (the idempotency key of that client),
    the attribute values answered, and the contact details the ticket has no column for.
    ``fingerprint`` is a hash of the posted fields, so a retry that reuses a request id
    with different content is refused instead of silently answered with the first ticket.
    E-mail, device and account ids are personal data: never shown in GET responses.
    """

    ticket = models.OneToOneField(
        "tickets.Ticket", verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="open311"
    )
    client = models.ForeignKey(
        Open311Client, verbose_name=_("client"), on_delete=models.PROTECT, related_name="submissions"
    )
    client_request_id = models.CharField(_("client request id"), max_length=100, blank=True)
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    attributes = models.JSONField(_("attribute values"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    email = models.EmailField(_("e-mail"), blank=True)
    device_id = models.CharField(_("device id"), max_length=128, blank=True)
    account_id = models.CharField(_("account id"), max_length=128, blank=True)
    media_url = models.URLField(_("media URL"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Open311 submission")
        verbose_name_plural = _("Open311 submissions")
        ordering = ["-created_at"]
        constraints = [
            # a client's request id names one request: the retry finds it
            models.UniqueConstraint(
                fields=["client", "client_request_id"],
                condition=~models.Q(client_request_id=""),
                name="open311_client_request_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client.name}: {self.ticket_id}"
