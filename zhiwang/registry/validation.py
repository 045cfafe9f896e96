"""Field-by-field cleaning of registry input, shared by the services, the API and the imports.

Each ``clean_*`` takes raw values (strings from a form or a CSV cell, numbers or dates
from Excel) and answers a :class:`Cleaned`: the typed values, the errors that reject the
record and the warnings that let it land with something left out. Nothing raises, so an
import can report every problem of a row at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from zhiwang.core.errors import FieldError, ServiceError
from zhiwang.core.masking import mask_id_number, mask_name, mask_phone
from zhiwang.core.phones import MIN_DIGITS, phone_digits
from zhiwang.core.validators import validate_credit_code, validate_id_number
from zhiwang.registry.models import EntityType, Gender, HouseholdType, HousingUse, Occupancy, RecordKind

#: The fields a file may fill, per record kind, with their labels (the import wizard lists them).
FIELDS = {
    RecordKind.PERSON: {
        "id_number": gettext_lazy("ID number"),
        "name": pgettext_lazy("person", "Name"),
        "household_type": gettext_lazy("Household type"),
        "phone": gettext_lazy("Phone"),
        "address": gettext_lazy("Address"),
        "since": gettext_lazy("Living here since"),
        "ethnicity": gettext_lazy("Ethnicity"),
        "household_address": gettext_lazy("Household registration address"),
        "birth_date": gettext_lazy("Birth date"),
        "gender": gettext_lazy("Gender"),
    },
    RecordKind.ENTITY: {
        "credit_code": gettext_lazy("Unified social credit code"),
        "name": gettext_lazy("Name"),
        "entity_type": gettext_lazy("Entity type"),
        "legal_representative": gettext_lazy("Legal representative"),
        "industry": gettext_lazy("Industry"),
        "phone": gettext_lazy("Phone"),
        "address": gettext_lazy("Address"),
        "founded_on": gettext_lazy("Founding date"),
        "since": gettext_lazy("Operating here since"),
    },
    RecordKind.HOUSING: {
        "address": gettext_lazy("Address"),
        "use": gettext_lazy("Use"),
        "owner_name": gettext_lazy("Owner"),
        "owner_phone": gettext_lazy("Owner phone"),
        "is_rental": gettext_lazy("Rental housing"),
        "occupancy": gettext_lazy("Occupancy"),
        "area_m2": gettext_lazy("Area (m²)"),
    },
}

REQUIRED = {
    RecordKind.PERSON: ("id_number", "name"),
    RecordKind.ENTITY: ("credit_code", "name"),
    RecordKind.HOUSING: ("address",),
}

#: Values as departments write them → choice values (lower-cased keys).
HOUSEHOLD_WORDS = {
    "registered": HouseholdType.REGISTERED,
    "户籍": HouseholdType.REGISTERED,
    "户籍人口": HouseholdType.REGISTERED,
    "常住户籍": HouseholdType.REGISTERED,
    "本市户籍": HouseholdType.REGISTERED,
    "migrant": HouseholdType.MIGRANT,
    "流动": HouseholdType.MIGRANT,
    "流动人口": HouseholdType.MIGRANT,
    "暂住": HouseholdType.MIGRANT,
    "暂住人口": HouseholdType.MIGRANT,
    "非户籍": HouseholdType.MIGRANT,
}
GENDER_WORDS = {
    "male": Gender.MALE,
    "男": Gender.MALE,
    "m": Gender.MALE,
    "female": Gender.FEMALE,
    "女": Gender.FEMALE,
    "f": Gender.FEMALE,
}
ENTITY_TYPE_WORDS = {
    "企业": EntityType.ENTERPRISE,
    "公司": EntityType.ENTERPRISE,
    "有限责任公司": EntityType.ENTERPRISE,
    "股份有限公司": EntityType.ENTERPRISE,
    "个体": EntityType.INDIVIDUAL_BUSINESS,
    "个体工商户": EntityType.INDIVIDUAL_BUSINESS,
    "社会组织": EntityType.SOCIAL_ORGANIZATION,
    "社会团体": EntityType.SOCIAL_ORGANIZATION,
    "民办非企业单位": EntityType.SOCIAL_ORGANIZATION,
    "事业单位": EntityType.PUBLIC_INSTITUTION,
    "机关": EntityType.GOVERNMENT,
    "其他": EntityType.OTHER,
}
USE_WORDS = {
    "住宅": HousingUse.RESIDENTIAL,
    "居住": HousingUse.RESIDENTIAL,
    "商业": HousingUse.COMMERCIAL,
    "商铺": HousingUse.COMMERCIAL,
    "办公": HousingUse.OFFICE,
    "厂房": HousingUse.INDUSTRIAL,
    "工业": HousingUse.INDUSTRIAL,
    "商住": HousingUse.MIXED,
    "混合": HousingUse.MIXED,
    "其他": HousingUse.OTHER,
}
OCCUPANCY_WORDS = {
    "自住": Occupancy.OWNER_OCCUPIED,
    "出租": Occupancy.RENTED,
    "空置": Occupancy.VACANT,
    "闲置": Occupancy.VACANT,
    "经营": Occupancy.BUSINESS,
    "未知": Occupancy.UNKNOWN,
}
TRUE_WORDS = {"是", "y", "yes", "true", "1", "出租", "√"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "不出租", "×"}

#: Values that must never appear in a report or history unmasked. The names of private people
#: who are not the record itself (legal representative, housing owner) show as "张**" as in lists;
#: a person's own name is the record's title and shows in full.
MASKERS = {
    "id_number": mask_id_number,
    "phone": mask_phone,
    "owner_phone": mask_phone,
    "legal_representative": mask_name,
    "owner_name": mask_name,
}


#: Fields holding a phone or ID number: an invalid value too short to hold one is shown as typed.
NUMBER_FIELDS = frozenset({"id_number", "phone", "owner_phone"})
#: The fewest digits that can hold a phone number (``core.phones``: 7 to 15 digits);
#: an ID number has 18 characters, and a masked one shows 7 of them (``440***********1234``).
SHORTEST_NUMBER = MIN_DIGITS


def could_be_a_number(text: str) -> bool:
    """The text holds at least ``SHORTEST_NUMBER`` digits, so a real phone or ID number (or the
    larger part of one) may be inside it, whatever else it holds ("13812345678 家", an ID number
    in a phone column, one with a wrong check digit or a digit missing). Every numeric character
    counts, full-width and Chinese numerals too ("１３８…", "一三八…"), so a number written
    another way is not shown either."""
    return sum(char.isnumeric() for char in text) >= SHORTEST_NUMBER


def masked(field_name: str, value) -> str:
    """The value as reports and history show it: phones and ID numbers masked, other people's
    names as "张**". A phone or ID number value with fewer than ``SHORTEST_NUMBER`` digits ("abc",
    "无", "12") cannot be anybody's number and is shown as typed, so the steward sees what was wrong
    (it reveals fewer digits than the mask of a real number does)."""
    text = "" if value is None else without_controls(str(value))
    if field_name not in MASKERS or not text:
        return text[:255]
    if field_name in NUMBER_FIELDS and not could_be_a_number(text):
        return text[:255]
    return MASKERS[field_name](text)


@dataclass
class Cleaned:
    values: dict = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)

    def error(self, name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field=name, code=code, message=str(message)))

    def warn(self, name: str, code: str, message: str) -> None:
        self.warnings.append(FieldError(field=name, code=code, message=str(message)))

    def raise_if_errors(self) -> None:
        if self.errors:
            first = self.errors[0]
            raise ServiceError(first.code, first.message, field=first.field, fields=self.errors)


#: C0 control characters other than tab, newline and carriage return (which ``text`` folds into
#: spaces with the other whitespace). PostgreSQL refuses a NUL in text; none of them belongs in
#: a name or an address, so a cell holding one rejects its row (``text.control_character``).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def has_control(value: str) -> bool:
    """The text holds a C0 control character other than tab, newline or carriage return."""
    return not value.isprintable() and _CONTROL_RE.search(value) is not None


def without_controls(value: str) -> str:
    return _CONTROL_RE.sub("", value) if not value.isprintable() else value


def _check_controls(cleaned: Cleaned, data: dict) -> dict:
    """Reject every cell holding a control character; answer the data with those characters
    removed, so the other checks (and the messages quoting a value) never carry one."""
    tidy = None
    for name, raw in data.items():
        if type(raw) is str and has_control(raw):
            cleaned.error(
                name,
                "text.control_character",
                _("The value holds a control character (such as NUL); remove it."),
            )
            if tidy is None:
                tidy = dict(data)
            tidy[name] = _CONTROL_RE.sub("", raw)
    return data if tidy is None else tidy


def text(value) -> str:
    """A cell as text: Excel numbers without ".0", dates as ISO, whitespace trimmed."""
    if type(value) is str:  # the common case (CSV cells)
        return " ".join(value.split())
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return " ".join(str(value).split())


#: No record's date (living or operating here since) is earlier.
EARLIEST_DATE = date(1900, 1, 1)

_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def parse_date(value) -> date | None:
    """ISO, 2020/1/2, 2020.1.2, 2020年1月2日 or 20200102; None for an empty cell; ValueError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = text(value)
    if not raw:
        return None
    match = _DATE_RE.match(raw)
    if match:
        return date(int(match[1]), int(match[2]), int(match[3]))
    if raw.isdigit() and len(raw) == 8:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    raise ValueError(raw)


def _choice(cleaned: Cleaned, name: str, raw, words: dict, choices) -> str | None:
    value = text(raw)
    if not value:
        return None
    key = value.lower()
    if key in words:
        return words[key]
    if key in {str(c) for c in choices.values}:
        return key
    cleaned.error(
        name,
        f"{name}.unknown",
        _("“%(value)s” is not one of: %(choices)s.")
        % {"value": value, "choices": "、".join(sorted({w for w in words if not w.isascii()}))},
    )
    return None


def _date_field(cleaned: Cleaned, name: str, raw) -> date | None:
    try:
        day = parse_date(raw)
    except ValueError:
        cleaned.error(
            name, "date.invalid", _("“%(value)s” is not a real date (use 2024-03-01).") % {"value": text(raw)}
        )
        return None
    if day is not None and day > timezone.localdate():
        cleaned.error(name, "date.future", _("The date %(day)s is in the future.") % {"day": day.isoformat()})
        return None
    if day is not None and day < EARLIEST_DATE:
        cleaned.error(
            name,
            "date.too_early",
            _("The date %(day)s is before %(earliest)s.")
            % {"day": day.isoformat(), "earliest": EARLIEST_DATE.isoformat()},
        )
        return None
    return day


def _phone(cleaned: Cleaned, name: str, raw) -> str | None:
    """The platform's phone rule (``core.phones``, a mistyped mobile such as "1381234567" refused),
    in the registry's stored and hashed form (``phone_digits``: a foreign number without its "+")."""
    value = text(raw)
    if not value:
        return None
    phone = phone_digits(value)
    if not phone:
        cleaned.error(
            name, "phone.invalid", _("“%(value)s” is not a phone number.") % {"value": masked(name, value)}
        )
        return None
    return phone


def _required(cleaned: Cleaned, kind: str, data: dict) -> None:
    for name in REQUIRED[kind]:
        if not text(data.get(name)):
            cleaned.error(name, "required", _("%(field)s is required.") % {"field": FIELDS[kind][name]})


def _limited(cleaned: Cleaned, name: str, raw, limit: int) -> str | None:
    value = text(raw)
    if has_control(value):  # callers pass data through _check_controls; this is the last guard
        cleaned.error(
            name, "text.control_character", _("The value holds a control character (such as NUL); remove it.")
        )
        return None
    if len(value) > limit:
        cleaned.error(name, "too_long", _("At most %(limit)d characters.") % {"limit": limit})
        return None
    return value


def clean_person(data: dict) -> Cleaned:
    """ID number (GB 11643; gender and birth date derived), name, type, phone, address text, dates."""
    cleaned = Cleaned()
    data = _check_controls(cleaned, data)
    _required(cleaned, RecordKind.PERSON, data)
    raw_id = text(data.get("id_number"))
    if raw_id:
        try:
            number = validate_id_number(raw_id, field="id_number")
        except ServiceError as error:
            cleaned.error("id_number", error.code, error.message)
        else:
            # validate_id_number checked the date and the check digit: derive without validating again.
            cleaned.values.update(
                id_number=number,
                birth_date=date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
                gender=Gender.MALE if int(number[16]) % 2 else Gender.FEMALE,
            )
    for name, limit in (("name", 64), ("ethnicity", 16), ("household_address", 255), ("address", 255)):
        if name in data:
            value = _limited(cleaned, name, data[name], limit)
            if value is not None:
                cleaned.values[name] = value
    if "household_type" in data:
        value = _choice(cleaned, "household_type", data["household_type"], HOUSEHOLD_WORDS, HouseholdType)
        if value:
            cleaned.values["household_type"] = value
    if "phone" in data:
        phone = _phone(cleaned, "phone", data["phone"])
        if phone is not None or not text(data["phone"]):
            cleaned.values["phone"] = phone or ""
    if "since" in data:
        since = _date_field(cleaned, "since", data["since"])
        born = cleaned.values.get("birth_date")
        if since is not None and born is not None and since < born:
            cleaned.error(
                "since",
                "since.before_birth",
                _("The date %(day)s is before the birth date in the ID number.") % {"day": since.isoformat()},
            )
            since = None
        cleaned.values["since"] = since
    # Given birth date and gender must agree with the ID number (a typo in either is a reason to look).
    if text(data.get("birth_date")):
        try:
            given = parse_date(data["birth_date"])
        except ValueError:
            cleaned.error(
                "birth_date",
                "date.invalid",
                _("“%(value)s” is not a real date (use 2024-03-01).") % {"value": text(data["birth_date"])},
            )
        else:
            derived = cleaned.values.get("birth_date")
            if derived is not None and given != derived:
                cleaned.error(
                    "birth_date",
                    "birth_date.mismatch",
                    _("The birth date %(given)s differs from the one in the ID number.")
                    % {"given": given.isoformat()},
                )
    if text(data.get("gender")):
        given = _choice(cleaned, "gender", data["gender"], GENDER_WORDS, Gender)
        derived = cleaned.values.get("gender")
        if given and derived and given != derived:
            cleaned.error("gender", "gender.mismatch", _("The gender differs from the one in the ID number."))
    return cleaned


def clean_entity(data: dict) -> Cleaned:
    """Credit code (GB 32100), name, type, legal representative, industry, phone, founding date,
    address text, operating here since."""
    cleaned = Cleaned()
    data = _check_controls(cleaned, data)
    _required(cleaned, RecordKind.ENTITY, data)
    raw_code = text(data.get("credit_code"))
    if raw_code:
        try:
            cleaned.values["credit_code"] = validate_credit_code(raw_code, field="credit_code")
        except ServiceError as error:
            cleaned.error("credit_code", error.code, error.message)
    for name, limit in (("name", 128), ("legal_representative", 64), ("industry", 64), ("address", 255)):
        if name in data:
            value = _limited(cleaned, name, data[name], limit)
            if value is not None:
                cleaned.values[name] = value
    if "entity_type" in data:
        value = _choice(cleaned, "entity_type", data["entity_type"], ENTITY_TYPE_WORDS, EntityType)
        if value:
            cleaned.values["entity_type"] = value
    if "phone" in data:
        phone = _phone(cleaned, "phone", data["phone"])
        if phone is not None or not text(data["phone"]):
            cleaned.values["phone"] = phone or ""
    if "founded_on" in data:
        # An empty cell says nothing: it never clears a founding date on record.
        founded = _date_field(cleaned, "founded_on", data["founded_on"])
        if founded is not None:
            cleaned.values["founded_on"] = founded
    if "since" in data:
        cleaned.values["since"] = _date_field(cleaned, "since", data["since"])
    return cleaned


def clean_housing(data: dict) -> Cleaned:
    """Address text (matched later), use, owner, rental flag, occupancy, area."""
    cleaned = Cleaned()
    data = _check_controls(cleaned, data)
    _required(cleaned, RecordKind.HOUSING, data)
    for name, limit in (("address", 255), ("owner_name", 128)):
        if name in data:
            value = _limited(cleaned, name, data[name], limit)
            if value is not None:
                cleaned.values[name] = value
    if "use" in data:
        value = _choice(cleaned, "use", data["use"], USE_WORDS, HousingUse)
        if value:
            cleaned.values["use"] = value
    if "occupancy" in data:
        value = _choice(cleaned, "occupancy", data["occupancy"], OCCUPANCY_WORDS, Occupancy)
        if value:
            cleaned.values["occupancy"] = value
    if "owner_phone" in data:
        phone = _phone(cleaned, "owner_phone", data["owner_phone"])
        if phone is not None or not text(data["owner_phone"]):
            cleaned.values["owner_phone"] = phone or ""
    if text(data.get("is_rental")):
        value = text(data["is_rental"]).lower()
        if value in TRUE_WORDS:
            cleaned.values["is_rental"] = True
        elif value in FALSE_WORDS:
            cleaned.values["is_rental"] = False
        else:
            cleaned.error("is_rental", "is_rental.unknown", _("Write 是 or 否."))
    elif isinstance(data.get("is_rental"), bool):
        cleaned.values["is_rental"] = data["is_rental"]
    if text(data.get("area_m2")):
        try:
            # Rounded first, then checked: the stored value (2 places, below 10,000,000) is what counts.
            area = Decimal(text(data["area_m2"])).quantize(Decimal("0.01"))
            if not Decimal(0) < area < Decimal("10000000"):
                raise InvalidOperation
            cleaned.values["area_m2"] = area
        except (InvalidOperation, ValueError):
            cleaned.error(
                "area_m2", "area.invalid", _("The area must be a positive number of square metres.")
            )
    if cleaned.values.get("is_rental") and "occupancy" not in cleaned.values:
        cleaned.values["occupancy"] = Occupancy.RENTED
    return cleaned


CLEANERS = {
    RecordKind.PERSON: clean_person,
    RecordKind.ENTITY: clean_entity,
    RecordKind.HOUSING: clean_housing,
}
