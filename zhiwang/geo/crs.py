"""Coordinate systems at the edge: WGS84 is stored, GCJ-02 (phone apps, Chinese maps) is converted.

GCJ-02 is WGS84 with a published, non-linear obfuscation; converting to it is a
formula, converting back is solved by fixed-point iteration to < 1e-7 degrees.
Outside mainland China the two coincide.
"""

from __future__ import annotations

import math

from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError

CRS_CHOICES = ("wgs84", "gcj02")

_A = 6378245.0
_EE = 0.00669342162296594323


def check_crs(crs: str) -> str:
    value = (crs or "").strip().lower().replace("-", "")
    if value not in CRS_CHOICES:
        raise ServiceError(
            "geo.unknown_crs",
            _("Unknown coordinate system %(crs)s: use wgs84 or gcj02.") % {"crs": crs},
            field="crs",
        )
    return value


def _outside_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if _outside_china(lon, lat):
        return lon, lat
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - _EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    if _outside_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _i in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        if abs(dlon) < 1e-9 and abs(dlat) < 1e-9:
            break
        wlon, wlat = wlon - dlon, wlat - dlat
    return wlon, wlat


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    return gcj02_to_wgs84(lon, lat) if check_crs(crs) == "gcj02" else (lon, lat)


def check_point(lon, lat, *, lon_field: str = "lon", lat_field: str = "lat") -> tuple[float, float]:
    """Parse and range-check a coordinate pair; errors name the field."""
    values = []
    for value, name, low, high in ((lon, lon_field, -180, 180), (lat, lat_field, -90, 90)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ServiceError(
                "geo.not_a_number",
                _("%(field)s is not a number: %(value)s") % {"field": name, "value": value},
                field=name,
            ) from None
        if not math.isfinite(number) or not low <= number <= high:
            raise ServiceError(
                "geo.out_of_range",
                _("%(field)s is out of range: %(value)s") % {"field": name, "value": value},
                field=name,
            )
        values.append(number)
    return values[0], values[1]
