"""Forms of the ticket pages: shape and required fields here, the rules in the services.

A service's ``ServiceError`` comes back to the form through ``apply_service_error``,
so its message shows next to the field it is about.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django import forms
from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from zhiwang.core.errors import ServiceError
from zhiwang.geo import selectors as geo_selectors
from zhiwang.geo.addressing import AddressMatch, clean, match_address
from zhiwang.geo.locator import locate
from zhiwang.geo.models import Division, DivisionLevel
from zhiwang.tickets import selectors
from zhiwang.tickets.models import (
    Channel,
    RequestKind,
    Satisfaction,
    TicketKind,
    Urgency,
    normalize_phone,
)
from zhiwang.web.tickets.uploads import validate_uploads

TOKEN_SALT = "zhiwang.web.tickets.form-token"
TOKEN_MAX_AGE = 24 * 3600

#: Kinds a citizen or an operator chooses from (incidents come from patrols and sensors).
REQUEST_KINDS = [
    (TicketKind.COMPLAINT, TicketKind.COMPLAINT.label),
    (TicketKind.REPORT, TicketKind.REPORT.label),
    (TicketKind.HELP, TicketKind.HELP.label),
    (TicketKind.INQUIRY, TicketKind.INQUIRY.label),
    (TicketKind.SUGGESTION, TicketKind.SUGGESTION.label),
    (TicketKind.PRAISE, TicketKind.PRAISE.label),
]
#: Service field names that a form shows under another name.
FIELD_ALIASES = {"address_code": "address_text", "master": "master_number"}


def new_form_token() -> str:
    """A signed one-time token: the web form's external id, so a double submit makes one ticket."""
    return signing.dumps(uuid.uuid4().hex, salt=TOKEN_SALT)


def read_form_token(value: str) -> str | None:
    try:
        return signing.loads(value or "", salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None


class AccessibleForm(forms.Form):
    """Marks fields with errors ``aria-invalid`` and points them at their error text, and ends
    labels with the reader's colon (Django's Chinese catalog keeps the ASCII ":", which reads
    wrong after Chinese; a context keeps ours from overriding Django's)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", pgettext("form label suffix", ":"))
        super().__init__(*args, **kwargs)

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                auto_id = self[name].auto_id
                attrs["aria-invalid"] = "true"
                described = [f"{auto_id}_errors"]
                if self.fields[name].help_text:
                    described.append(f"{auto_id}_helptext")
                attrs["aria-describedby"] = " ".join(described)


def apply_service_error(form: forms.Form, error: ServiceError) -> None:
    """Put a service's field errors next to the form's fields (unknown fields: at the top)."""
    placed = False
    for item in error.fields:
        name = FIELD_ALIASES.get(item.field, item.field)
        if name in form.fields:
            form.add_error(name, item.message)
            placed = True
        else:
            form.add_error(None, item.message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadField(forms.FileField):
    """Several files in one input, checked by content; cleans to [(file, content type)]."""

    def __init__(self, *, allow_documents: bool = False, **kwargs):
        self.allow_documents = allow_documents
        accept = "image/*,application/pdf" if allow_documents else "image/*"
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": accept}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return validate_uploads(files, allow_documents=self.allow_documents)


@dataclass(frozen=True)
class CategoryChoice:
    """A leaf of the catalogue as a picker shows it."""

    category: object
    code: str
    name: str
    path: str  # the branches above the leaf, "城乡建设 / 安全生产"


def category_choices(*, kinds: set[str], explicit: bool = False) -> list[CategoryChoice]:
    """Active leaves for some kinds, in catalogue order (``selectors.category_list``).

    ``explicit``: only leaves that name one of the kinds (grid incidents), not the
    leaves open to every kind.
    """
    nodes = selectors.category_list()
    by_code = {n.code: n for n in nodes}
    leaves = []
    for node in nodes:
        if not node.is_leaf:
            continue
        named = bool(kinds & set(node.kinds or ()))
        if not named and (explicit or node.kinds):
            continue
        chain, parent = [], by_code.get(node.parent_code)
        while parent is not None:
            chain.append(parent.name)
            parent = by_code.get(parent.parent_code)
        leaves.append(CategoryChoice(node, node.code, node.name, " / ".join(reversed(chain))))
    return leaves


def category_picker(field: forms.ChoiceField, leaves) -> None:
    """Fill a category select (optgroups work without JS; tickets.js adds an area filter and search)."""
    field.choices = grouped_category_choices(leaves)
    field.widget.attrs.update(
        {
            "data-category-picker": "1",
            "data-area-label": _("Area"),
            "data-all-areas": _("All areas"),
            "data-search-label": _("Search categories"),
        }
    )


def grouped_category_choices(leaves) -> list:
    """[(branch path, [(code, name), ...]), ...] for a <select> with <optgroup>s (works without JS)."""
    groups: dict[str, list] = {}
    for leaf in leaves:
        groups.setdefault(leaf.path or leaf.name, []).append((leaf.code, leaf.name))
    return [("", _("— choose —")), *groups.items()]


class PlaceFields(forms.Form):
    address_text = forms.CharField(
        label=_("Address"),
        max_length=255,
        required=False,
        help_text=_("Street, estate, building — as precise as you can."),
    )
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            self.add_error(
                "lat" if data.get("lat") is None else "lon", _("Give both longitude and latitude.")
            )
        return data


class TokenField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(widget=forms.HiddenInput, required=False, **kwargs)


class SubmissionChecks:
    """The submit service's own checks of the phone and the description (``normalize_phone``,
    at least 5 characters), in the form too: every field error shows at once, not only on a
    second submit once everything else is right. The service still checks (the API has no form)."""

    def clean_reporter_phone(self) -> str:
        value = self.cleaned_data["reporter_phone"]
        if value and not normalize_phone(value):
            raise forms.ValidationError(_("The phone number is not valid."), code="phone_invalid")
        return value

    def clean_description(self) -> str:
        value = self.cleaned_data["description"]
        if len(value.strip()) < 5:
            raise forms.ValidationError(
                _("Describe the problem in at least 5 characters."), code="description_short"
            )
        return value


class ReportForm(SubmissionChecks, AccessibleForm, PlaceFields):
    """A citizen's report (public page)."""

    kind = forms.ChoiceField(label=_("What is it?"), choices=REQUEST_KINDS, widget=forms.RadioSelect)
    category = forms.ChoiceField(label=_("Category"))
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=4000,
        help_text=_("What happened, where exactly, since when."),
    )
    photos = UploadField(label=_("Photos"), help_text=_("Up to 9 images, 5 MB each."))
    reporter_name = forms.CharField(label=_("Your name"), max_length=64, required=False)
    reporter_phone = forms.CharField(
        label=_("Your phone number"),
        max_length=20,
        help_text=_("Needed to follow your request; it is never shown in full to staff."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    token = TokenField()

    field_order = [
        "kind",
        "category",
        "description",
        "address_text",
        "lon",
        "lat",
        "photos",
        "reporter_name",
        "reporter_phone",
        "token",
    ]

    def __init__(self, *args, leaves=(), **kwargs):
        super().__init__(*args, **kwargs)
        category_picker(self.fields["category"], leaves)
        self.fields["reporter_name"].widget.attrs["autocomplete"] = "name"


class IntakeForm(SubmissionChecks, AccessibleForm, PlaceFields):
    """The hotline / window operator's one fast form."""

    reporter_phone = forms.CharField(
        label=_("Caller's phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autofocus": True}),
    )
    reporter_name = forms.CharField(label=_("Caller's name"), max_length=64, required=False)
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("hotline", _("12345 hotline")), ("window", _("Service window"))],
    )
    call_id = forms.CharField(
        label=_("Call or visit id"),
        max_length=100,
        required=False,
        help_text=_("From the telephone system, if any; a repeated id records nothing twice."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=REQUEST_KINDS)
    description = forms.CharField(
        label=_("What the caller says"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )
    category = forms.ChoiceField(label=_("Category"))
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    reply = forms.CharField(
        label=_("Answer given on the phone"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("Only for “Answer directly”: the inquiry is closed with this answer."),
    )
    duplicates_seen = forms.CharField(widget=forms.HiddenInput, required=False)
    token = TokenField()

    field_order = [
        "reporter_phone",
        "reporter_name",
        "channel",
        "call_id",
        "kind",
        "description",
        "category",
        "urgency",
        "address_text",
        "lon",
        "lat",
        "reply",
        "duplicates_seen",
        "token",
    ]

    def __init__(self, *args, leaves=(), **kwargs):
        super().__init__(*args, **kwargs)
        category_picker(self.fields["category"], leaves)


class PatrolForm(AccessibleForm, PlaceFields):
    """A grid worker's incident report: the place is a pin, else an address that names a place
    (``_text_locates``), else the grid chosen; always one of the worker's grids."""

    category = forms.ChoiceField(label=_("Category"))
    description = forms.CharField(
        label=_("What you found"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )
    grid = forms.ChoiceField(label=_("Grid"), required=False)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    photos = UploadField(label=_("Photos"), help_text=_("Up to 9 images, 5 MB each."))
    token = TokenField()

    field_order = [
        "category",
        "description",
        "grid",
        "address_text",
        "lon",
        "lat",
        "urgency",
        "photos",
        "token",
    ]

    def __init__(self, *args, leaves=(), grids=(), user=None, **kwargs):
        super().__init__(*args, **kwargs)
        category_picker(self.fields["category"], leaves)
        self.grids = list(grids)
        self.user = user
        #: the worker's grid that holds the pin, once ``clean`` has located it (None: no pin)
        self.pin_grid = None
        #: whether the typed address, not the chosen grid, locates a report without a pin
        #: (``_text_locates``); the view then sends no point and the submit service checks the place
        self.text_locates = False
        choices = [(g.code, f"{g.name} ({g.code})") for g in grids]
        # With several grids nothing is preselected: a report sent without a choice, a pin or an
        # address that names a place is refused, never filed in whichever grid came first.
        self.fields["grid"].choices = [("", _("— choose —")), *choices] if len(choices) > 1 else choices
        self.fields["address_text"].help_text = _(
            "A building or street address files the report where it is, which must be in one of your "
            "grids; a spot such as “by the gate of building 3” stays in the grid chosen."
        )

    def clean(self):
        data = super().clean()
        if data.get("lon") is not None and data.get("lat") is not None:
            if self.grids:
                self._check_pin(data["lon"], data["lat"])
        elif (data.get("address_text") or "").strip():
            self.text_locates = self._text_locates(data["address_text"], data.get("grid") or "")
        return data

    def _text_locates(self, text: str, grid_code: str) -> bool:
        """Whether the typed address locates the report instead of the chosen grid (no pin).

        The grid select always holds a grid, so sending its point whenever one is chosen filed
        "罗湖区桂园街道…梅林路216号" in the worker's Nanshan grid, unchecked. The rule, read with the
        submit service's own matcher (``match_address``, as ``intake_place.locate_place`` reads
        ``address_text``):

        - a standard address found: the text locates the report (the service files it in that
          address's grid, or refuses it with ``tickets.outside_your_grids`` on the address);
        - a division written in full (``_divisions_written_in_full``: its own name, not a word
          the matcher read as one) that does not hold the chosen grid: the text locates it too
          (the service refuses what is outside the worker's grids);
        - a division that holds the chosen grid ("南头城社区3栋门口"), a short form met by chance
          ("小区东门" reads as Luohu's 东门街道), or no place at all ("3栋门口大树下"): a spot inside
          the chosen grid, which locates the report as before.
        """
        match = match_address(text)
        if match.address is not None:
            return True
        written = _divisions_written_in_full(text, match)
        if not written:
            return False
        grid = next((g for g in self.grids if g.code == grid_code), None)
        return grid is None or any(not grid.community.code.startswith(d.code_prefix) for d in written)

    def _check_pin(self, lon: float, lat: float) -> None:
        """A pin files the ticket where the pin is (``geo.locate``, as the submit service does), so
        it must lie in one of the worker's grids: a pin typed or dropped elsewhere would file the
        incident in somebody else's grid, or district, without a word.

        A pin in another of the worker's own grids than the one chosen is taken (a spot near a
        grid boundary is often just across it; the worker patrols both, and the map shows the
        grids): the view says which grid it was filed in. The refusal names the place only as far
        as the worker may see it (their community, not a neighbour's grid).
        """
        try:
            found = locate(lon, lat)
        except ServiceError as error:
            apply_service_error(self, error)
            return
        mine = {g.pk: g for g in self.grids}
        if found.grid is not None and found.grid.id in mine:
            self.pin_grid = mine[found.grid.id]
            return
        place = _visible_place(self.user, found)
        if place:
            message = _(
                "The pin is in %(place)s, outside your grids. Move the pin into one of your grids, "
                "or remove it and choose the grid."
            ) % {"place": place}
        else:
            message = _(
                "The pin is outside your grids. Move the pin into one of your grids, "
                "or remove it and choose the grid."
            )
        self.add_error("lon", forms.ValidationError(message, code="pin_outside_grids"))


#: The levels a patrol address may name a place at (the city holds every grid).
WRITTEN_LEVELS = (DivisionLevel.DISTRICT, DivisionLevel.SUBDISTRICT, DivisionLevel.COMMUNITY)


def _divisions_written_in_full(text: str, match: AddressMatch) -> list[Division]:
    """The divisions of the match (the one found and its district, subdistrict and community)
    whose own name the text holds: the official name or the short name shown for it (罗湖区,
    桂园街道, 大塘龙社区居民委员会 or 大塘龙社区).

    The matcher also reads short forms and generic words as divisions (it must, to locate what
    people write): "小区东门" reads as a district "小区" and Luohu's 东门街道, "本村东门" as a
    community "本村", "桂园路口" as 桂园街道, "科技园" as 粤海街道. In a free description those are
    ordinary words, and must not move a patrol report out of the grid the worker chose; only a
    division's own name says the worker meant that division. Asking whether a part of the text
    merely ends like a division (区, 村 …) refused "小区东门垃圾桶满了" in a Nanshan grid.
    """
    if match.division is None:
        return []
    cleaned = clean(text)
    chain = [match.division, *geo_selectors.division_ancestors(division=match.division)]
    written = []
    for division in chain:
        names = {clean(division.name), clean(division.short_name)}
        if division.level in WRITTEN_LEVELS and any(len(name) >= 2 and name in cleaned for name in names):
            written.append(division)
    return written


def _visible_place(user, found) -> str:
    """The finest level of a located point that ``user`` may see (the grid, else the community,
    else the subdistrict or district), by name; "" when none is theirs to know."""
    if user is None:
        return ""
    if found.grid is not None:
        grid = geo_selectors.grid_list(user=user).filter(pk=found.grid.id).first()
        if grid is not None:
            return grid.name
    for level in ("community", "subdistrict", "district"):
        place = getattr(found, level)
        division = place and geo_selectors.division_list(user=user).filter(pk=place.id).first()
        if division:
            return division.display_name
    return ""


class TrackForm(AccessibleForm):
    number = forms.CharField(
        label=_("Ticket number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "ZW2026…"}),
    )
    phone = forms.CharField(
        label=_("Phone number given when reporting"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class RateForm(AccessibleForm):
    resolved = forms.ChoiceField(label=_("Was the problem solved?"), choices=YES_NO, widget=forms.RadioSelect)
    satisfaction = forms.ChoiceField(
        label=_("How satisfied are you with the handling?"),
        choices=Satisfaction.choices,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Anything to add?"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=1000
    )


#: Dates a filter may name: a local midnight of year 1 or 9999 leaves the range a database keeps.
FILTER_YEARS = (1900, 9998)


def _sane_year(value) -> None:
    low, high = FILTER_YEARS
    if not low <= value.year <= high:
        raise forms.ValidationError(
            _("Enter a date between the years %(low)s and %(high)s."),
            code="year_out_of_range",
            params={"low": low, "high": high},
        )


class OverdueField(forms.TypedChoiceField):
    """The overdue choice: "1" or "0", and "true" or "false" as the REST list's boolean takes them."""

    def to_python(self, value):
        value = super().to_python(value)
        return {"true": "1", "false": "0"}.get(value.strip().lower(), value)


#: The list's ``event`` filter (``tickets.selectors.EVENT_NAMES``), as people read it.
EVENT_CHOICES = [
    ("", _("All")),
    ("received", _("Received")),
    ("dispatched", _("Dispatched")),
    ("reassigned", _("Reassigned")),
    ("returned", _("Return approved")),
    ("replied", _("Replied")),
    ("closed", _("Closed (after follow-up, or answered directly)")),
    ("rejected", _("Not accepted")),
    ("merged", _("Merged into another ticket")),
    ("transferred", _("Transferred")),
    ("urged", _("Urged")),
    ("supervised", _("Supervised")),
    ("reopened", _("Reopened")),
    ("follow_ups", _("Followed up")),
    ("overdue", _("Went overdue")),
    # the parts of the dashboards' rates (tickets.selectors.CONDITIONAL_EVENTS)
    ("closed_on_time", _("Closed on time (answered directly, no deadline, or replied by it)")),
    ("closed_late", _("Closed late (replied after the deadline)")),
    ("rated", _("Rated at the follow-up")),
    ("resolved", _("Rated: resolved")),
    ("unresolved", _("Rated: not resolved")),
    ("satisfied", _("Rated “Satisfied”")),
    ("basically_satisfied", _("Rated “Basically satisfied”")),
    ("unsatisfied", _("Rated “Unsatisfied”")),
]


def _date_field(label):
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[_sane_year],
    )


class TicketFilterForm(AccessibleForm):
    """The ticket list's filters; every dashboard figure links here with the filters behind it."""

    q = forms.CharField(label=_("Number or words of the title"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All")), *TicketKind.choices])
    # The finer filters (a division's code, a category's code …) are what click-throughs set.
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("All")), *Channel.choices]
    )
    overdue = OverdueField(
        label=_("Overdue"),
        required=False,
        choices=[("", _("All")), ("1", _("Overdue")), ("0", _("Not overdue"))],
        coerce=lambda value: value == "1",
        empty_value=None,
    )
    received_from = _date_field(_("Received from"))
    received_to = _date_field(_("Received before"))
    division = forms.CharField(label=_("Division code"), required=False, max_length=12)
    grid = forms.CharField(label=_("Grid code"), required=False, max_length=15)
    address = forms.CharField(label=_("Standard address code"), required=False, max_length=32)
    # an early warning's tickets (the alerts page links here); the list says if it is not theirs
    alert = forms.IntegerField(label=_("Alert number"), required=False, min_value=1, max_value=2**63 - 1)
    # the dashboards' "Unlocated" row: the division's tickets located in none of its parts
    unlocated = forms.BooleanField(label=_("Only those located in none of its parts"), required=False)
    category = forms.CharField(label=_("Category code"), required=False, max_length=32)
    handling_unit = forms.CharField(label=_("Handling unit code"), required=False, max_length=64)
    # What the dashboards' figures count: a kind of timeline row in a window (naming a unit), the
    # open stock and the overdue stock at a day's start (midnight).
    event = forms.ChoiceField(label=_("What happened"), required=False, choices=EVENT_CHOICES)
    event_from = _date_field(_("Happened from"))
    event_to = _date_field(_("Happened before"))
    event_unit = forms.CharField(label=_("Unit it happened at (code)"), required=False, max_length=64)
    open_at = _date_field(_("Open at the start of"))
    overdue_at = _date_field(_("Overdue at the start of"))

    DATES = ("received_from", "received_to", "event_from", "event_to", "open_at", "overdue_at")
    BASIC = ("q", "status", "kind")
    #: The filters whose code names a handling unit (their chips name the unit).
    UNIT_FIELDS = ("handling_unit", "event_unit")

    def __init__(self, *args, status_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All")), ("open", _("Open")), *status_choices]

    def basic_fields(self):
        return [self[name] for name in self.BASIC]

    def more_fields(self):
        return [self[name] for name in self.fields if name not in self.BASIC]

    def more_used(self) -> bool:
        """Whether a finer filter is set (the "more filters" panel then opens by itself)."""
        return self.is_bound and any(self.data.get(name) for name in self.fields if name not in self.BASIC)

    #: The point-in-time filters whose date after today means "now" (the dashboards' links).
    NOW_LABELS = {"open_at": _("Open now"), "overdue_at": _("Overdue now")}

    def active_filters(self, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """The filters the list applies, as people read them: ``(label, value)`` pairs, in the
        form's order. A choice shows its label, a date ``YYYY-MM-DD``, a ticked box only its
        label (value ``""``); ``names`` maps a field to what its code names (a division's name,
        a category's, a unit's), shown before the code. Empty until the form is valid: while a
        filter is refused the list shows nothing, and ``held_filters`` names the others."""
        if not self.is_bound or not self.is_valid():
            return []
        return self._described(names or {})

    def held_filters(self, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """While some filter is refused (the list then shows nothing): the other filters set, each
        valid, read as ``active_filters`` reads them — what the list applies once the refused
        ones are corrected. Empty when nothing is refused."""
        if not self.is_bound or self.is_valid():
            return []
        return self._described(names or {})

    def refused_filters(self) -> list[dict]:
        """The filters with an error, in the form's order: ``label``, ``value`` as it was typed
        (cut to 40 characters: it may be anything), ``error`` (the first), ``id`` of the field."""
        if not self.is_bound:
            return []
        refused = []
        for name, field in self.fields.items():
            if name not in self.errors:
                continue
            value = str(self.data.get(name, "")).strip()
            refused.append(
                {
                    "label": str(field.label),
                    "value": value if len(value) <= 40 else value[:39] + "…",
                    "error": str(self.errors[name][0]).rstrip("。．. "),  # the chip puts it in brackets
                    "id": self[name].id_for_label,
                }
            )
        return refused

    def _described(self, names: dict[str, str]) -> list[tuple[str, str]]:
        """The set filters whose value is clean (a refused one is not in ``cleaned_data``)."""
        shown = []
        for name, field in self.fields.items():
            value = self.cleaned_data.get(name)
            if value is None or value == "" or (value is False and isinstance(field, forms.BooleanField)):
                continue  # not set (an unticked box included; "overdue: no" is a filter)
            if isinstance(field, forms.BooleanField):
                text = ""
            elif isinstance(field, forms.ChoiceField):
                # the raw choice (OverdueField reads "true" as "1"), since the cleaned one may be coerced
                key = field.to_python(self.data.get(name))
                text = str(dict(field.choices).get(key, key))
            elif name in self.NOW_LABELS and value > timezone.localdate():
                # a day not come yet reads as now (tickets.selectors._open_at): the dashboards'
                # "open now" / "overdue now" links pass tomorrow, which must not be shown as a date
                shown.append((str(self.NOW_LABELS[name]), ""))
                continue
            elif hasattr(value, "isoformat"):
                text = value.isoformat()
            else:
                text = str(value)
            if name in names:
                # the reader's brackets: full-width in Chinese ("南山区（440305000000）")
                if name == "category":
                    pattern = pgettext("a category's name beside its code", "%(name)s (%(code)s)")
                elif name in self.UNIT_FIELDS:
                    pattern = pgettext("a unit's name beside its code", "%(name)s (%(code)s)")
                else:
                    pattern = pgettext("a place's name beside its code", "%(name)s (%(code)s)")
                text = pattern % {"name": names[name], "code": text}
            shown.append((str(field.label), text))
        return shown

    def filters(self) -> dict:
        """The selector's filters: dates become local midnights (the ``…_to`` ones excluded)."""
        from datetime import datetime, time

        from django.utils import timezone

        data = {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}
        for name in self.DATES:
            if name in data:
                data[name] = timezone.make_aware(datetime.combine(data[name], time.min))
        return data


# --- actions on one ticket (detail page and inline forms on the lists) ---------------------------


class ActionForm(AccessibleForm):
    """Every action carries the version the user saw (optimistic concurrency)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)


NOTE_LABEL = _("Note")


def _note(label=NOTE_LABEL, required=False, rows=2):
    return forms.CharField(
        label=label, required=required, max_length=2000, widget=forms.Textarea(attrs={"rows": rows})
    )


class UnitSelect(forms.Select):
    """A handling-unit <select> whose options carry the unit's code (``data-code``): the filter
    box tickets.js puts above it matches codes as well as names. Without JS it is a plain
    grouped select."""

    def __init__(self, attrs=None, choices=()):
        super().__init__(attrs, choices)
        self.codes: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        code = self.codes.get(str(value))
        if code:
            option["attrs"]["data-code"] = code
        return option


#: The levels a unit's options are grouped under: the district it serves, or the city.
UNIT_GROUP_LEVELS = ("district", "city")


def _unit_area(unit) -> str:
    """The district a unit serves (a subdistrict office or a grid station: the district above it),
    the city for city-wide units, "" for a unit serving no division.

    Walks the division's parents: ``actions.unit_choices`` selects them with the units, so a long
    list costs no query per unit."""
    division = unit.division if unit.division_id else None
    while division is not None and division.level not in UNIT_GROUP_LEVELS:
        division = division.parent
    return division.name if division is not None else ""


def unit_choice_groups(units, *, suggested=None) -> list:
    """``[(group, [(pk, label), ...]), ...]`` for a unit <select> with <optgroup>s: the suggested
    unit first, ★, in a group of its own (and only there: one option per value), then the units
    by the district they serve, in the order given (the selector's: by division, then code), then
    the units serving no division. A dispatcher of the whole city scans a dozen groups, not a
    hundred names."""
    head, groups, other = [], {}, []
    for unit in units:
        if suggested is not None and unit.pk == suggested.pk:
            # the group's word, translated (a bare "suggested" had no Chinese and read English)
            label = f"{unit.name} ★ {pgettext('handling unit group', 'Suggested')}"
            head = [(pgettext_lazy("handling unit group", "Suggested"), [(str(unit.pk), label)])]
            continue
        area = _unit_area(unit)
        (groups.setdefault(area, []) if area else other).append((str(unit.pk), unit.name))
    grouped = [*head, *groups.items()]
    if other:
        grouped.append((_("Other units"), other))
    return grouped


def unit_picker(field: forms.ChoiceField, units, *, first, suggested=None) -> None:
    """Fill a unit select: ``first`` (the placeholder, or the bulk bar's "each ticket's suggested
    unit") outside the groups, then ``unit_choice_groups``. tickets.js adds the filter box above
    it; the words it needs come with the select, translated here."""
    field.choices = [first, *unit_choice_groups(units, suggested=suggested)]
    field.widget.codes = {str(u.pk): u.code for u in units}
    field.widget.attrs.update(
        {
            "data-unit-picker": "1",
            "data-filter-label": _("Filter units"),
            "data-filter-placeholder": _("Name or code"),
            # "%(count)s" is filled in by the script
            "data-filter-count": _("Matching units: %(count)s"),
            "data-filter-none": _("No unit matches."),
        }
    )


class UnitForm(ActionForm):
    unit = forms.ChoiceField(label=_("Handling unit"), widget=UnitSelect)
    note = _note()

    def __init__(self, *args, units=(), suggested=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.units = {str(u.pk): u for u in units}
        if suggested is not None and str(suggested.pk) not in self.units:
            suggested = None  # not one the user may choose: no group of its own
        unit_picker(self.fields["unit"], units, first=("", _("— choose —")), suggested=suggested)
        if suggested is not None:
            self.fields["unit"].initial = str(suggested.pk)

    def clean_unit(self):
        return self.units[self.cleaned_data["unit"]]


class ReassignForm(UnitForm):
    """Another unit than the current one: the ticket's own unit is not offered (the service would
    refuse it, ``tickets.same_unit``)."""

    note = _note(_("Why another unit"), required=True)

    def __init__(self, *args, units=(), current=None, **kwargs):
        if current is not None:
            units = [u for u in units if u.pk != current.pk]
        super().__init__(*args, units=units, **kwargs)


#: The bulk bar's first choice: every ticked ticket goes to its own suggested unit.
BULK_SUGGESTED = "suggested"


class BulkDispatchForm(AccessibleForm):
    """The dispatch queue's bulk bar: where the ticked tickets go. It renders the grouped unit
    picker (field id ``bulk-unit``); ``dispatch_bulk`` reads the posted ``unit`` itself, as
    before: ``suggested`` or a unit's pk."""

    unit = forms.ChoiceField(label=_("Dispatch the ticked tickets to"), widget=UnitSelect)

    def __init__(self, *args, units=(), **kwargs):
        kwargs.setdefault("auto_id", "bulk-%s")
        super().__init__(*args, **kwargs)
        unit_picker(self.fields["unit"], units, first=(BULK_SUGGESTED, _("each ticket's suggested unit")))


class ConfirmForm(ActionForm):
    """Accept, resume: a button and nothing else."""


class RequestReturnForm(ActionForm):
    reason = _note(_("Reason"), required=True, rows=3)
    legal_basis = forms.CharField(
        label=_("Legal basis"),
        max_length=255,
        required=False,
        help_text=_("The rule that puts the matter outside your unit's duties."),
    )
    wrong_dispatch = forms.BooleanField(label=_("Wrongly dispatched to our unit"), required=False)


class RequestExtensionForm(ActionForm):
    reason = _note(_("Reason"), required=True, rows=3)
    extra_days = forms.IntegerField(label=_("Extra working days"), min_value=1, max_value=60)


class RequestSuspensionForm(ActionForm):
    reason = _note(_("Reason"), required=True, rows=3)


class DecisionForm(ActionForm):
    """Two-button forms (approve / refuse, pass / fail, approve / send back): the button is the answer."""

    decision = forms.ChoiceField(choices=[("yes", _("Yes")), ("no", _("No"))], widget=forms.HiddenInput)
    note = _note()


class ReplyForm(ActionForm):
    reply = forms.CharField(
        label=_("Reply to the citizen"), max_length=4000, widget=forms.Textarea(attrs={"rows": 5})
    )
    files = UploadField(
        label=_("Attachments"), allow_documents=True, help_text=_("Photos (5 MB) or PDF (10 MB), up to 9.")
    )


class FollowUpForm(ActionForm):
    resolved = forms.ChoiceField(
        label=_("Resolved?"), choices=YES_NO, widget=forms.RadioSelect, required=False
    )
    satisfaction = forms.ChoiceField(
        label=_("Satisfaction"), choices=Satisfaction.choices, widget=forms.RadioSelect, required=False
    )
    unreachable = forms.BooleanField(
        label=_("The citizen could not be reached"),
        required=False,
        # ticket_follow_up: unreachable closes at once and drops the answers above (no reopening)
        help_text=_(
            "Ticking this closes the ticket at once as “citizen unreachable”; "
            "the answers on resolution and satisfaction are not recorded."
        ),
    )
    note = _note()


class RecategoriseForm(ActionForm):
    """改分类: the leaves used for the ticket's kind; the classifier's top choices are shown beside it."""

    category = forms.ChoiceField(label=_("New category"))
    note = _note()

    def __init__(self, *args, kind: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        category_picker(self.fields["category"], category_choices(kinds={kind} if kind else set()))


class NoteForm(ActionForm):
    note = _note(required=False)


class RequiredNoteForm(ActionForm):
    note = _note(required=True, rows=3)


class MergeForm(ActionForm):
    master_number = forms.CharField(
        label=_("Master ticket number"),
        max_length=20,
        help_text=_("This ticket is closed as a duplicate; its citizen hears the master's outcome."),
    )
    note = _note()


class ReasonForm(ActionForm):
    reason = _note(_("Reason"), required=True, rows=3)


class RevealForm(ActionForm):
    reason = forms.CharField(
        label=_("Why you need it"),
        max_length=255,
        help_text=_("For example: call back about the reply. Recorded on the timeline."),
    )


class AnswerForm(ActionForm):
    reply = _note(_("Answer"), required=True, rows=4)


REQUEST_FORMS = {
    RequestKind.RETURN: RequestReturnForm,
    RequestKind.EXTENSION: RequestExtensionForm,
    RequestKind.SUSPENSION: RequestSuspensionForm,
}
