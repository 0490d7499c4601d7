"""Formats, links and responses of the OGC API.

JSON for clients that ask for it (``Accept: application/json`` or ``application/geo+json``,
``*/*``, or ``?f=json``); HTML for browsers (``?f=html``, or an Accept header that prefers
``text/html``). Items are ``application/geo+json`` with a ``Content-Crs`` header. Feature
collections are written as text around the GeoJSON geometries PostGIS made, so geometries
are never parsed in Python. The documents (collections, paging links, the items table, the
schema) are built here, so the views only parse, query and hand over.
"""

import datetime
import json
from urllib.parse import urlencode

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext

from gis_layers.ogc.collections import Collection
from gis_layers.ogc.crs import CRS84, STORAGE, SUPPORTED, Crs
from gis_layers.ogc.params import ItemsQuery, OgcError, parse_format
from gis_layers.ogc.queries import CollectionExtent, Feature, FeaturePage

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
SCHEMA_JSON = "application/schema+json"

_HTML_TYPES = {"text/html", "application/xhtml+xml", "text/*"}
_JSON_TYPES = {"application/json", "application/geo+json", "application/*", "*/*"}


def _best_quality(accept: str, media_types: set[str]) -> float:
    best = 0.0
    for item in accept.split(","):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        if media_type.lower() not in media_types:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best = max(best, quality)
    return best


def wanted_format(request: HttpRequest) -> str:
    """``json`` or ``html``: ``f`` when given (400 if unknown), else the Accept header; JSON
    when both are equally welcome."""
    chosen = parse_format(request.GET)
    if chosen is not None:
        return chosen
    accept = request.headers.get("Accept", "")
    if _best_quality(accept, _HTML_TYPES) > _best_quality(accept, _JSON_TYPES):
        return "html"
    return "json"


def wants_html(request: HttpRequest) -> bool:
    """Like :func:`wanted_format` but never refuses: for choosing how to answer an error."""
    try:
        return wanted_format(request) == "html"
    except OgcError:
        return False


def url(request: HttpRequest, path: str, params: dict | None = None) -> str:
    """An absolute URL (GIS clients follow links from other hosts' points of view)."""
    query = urlencode({key: value for key, value in (params or {}).items() if value is not None})
    return request.build_absolute_uri(f"{path}?{query}" if query else path)


def link(href: str, rel: str, media_type: str, title: str = "") -> dict:
    entry = {"href": href, "rel": rel, "type": media_type}
    if title:
        entry["title"] = title
    return entry


def self_and_alternate(request: HttpRequest, path: str, fmt: str, json_type: str = JSON) -> list:
    """``self`` in the format answered and ``alternate`` in the other one."""
    params = {key: value for key, value in request.GET.items() if key != "f"}
    as_json = url(request, path, {**params, "f": "json"})
    as_html = url(request, path, {**params, "f": "html"})
    if fmt == "html":
        return [
            link(as_html, "self", HTML, gettext("this document")),
            link(as_json, "alternate", json_type, gettext("this document as JSON")),
        ]
    return [
        link(as_json, "self", json_type, gettext("this document")),
        link(as_html, "alternate", HTML, gettext("this document as HTML")),
    ]


def time_stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _private(response: HttpResponse) -> HttpResponse:
    # Answers depend on who asks (permissions, clearance): never kept by shared caches.
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
    return response


def json_response(data, *, status: int = 200, content_type: str = JSON) -> HttpResponse:
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    return _private(HttpResponse(text, status=status, content_type=content_type))


def html_response(request: HttpRequest, template: str, context: dict, *, status: int = 200):
    response = render(request, f"gis_layers/ogc/{template}", context, status=status)
    return _private(response)


def error_response(request: HttpRequest, error: OgcError) -> HttpResponse:
    """The refusal as ``{"code", "description"}``, or as a page for a browser."""
    if wants_html(request):
        response = html_response(request, "error.html", {"error": error}, status=error.status)
    else:
        response = json_response(error.as_dict(), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="LandLedger OGC API", charset="UTF-8"'
    return response


def _dumps(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)


def feature_text(feature: Feature, links: list | None = None) -> str:
    """One GeoJSON Feature, its geometry as PostGIS wrote it."""
    parts = [
        f'{{"type":"Feature","id":{feature.id}',
        f',"geometry":{feature.geometry or "null"}',
        f',"properties":{_dumps(feature.properties)}',
    ]
    if links is not None:
        parts.append(f',"links":{_dumps(links)}')
    return "".join(parts) + "}"


def geojson_response(text: str, crs: Crs) -> HttpResponse:
    response = HttpResponse(text, content_type=GEOJSON)
    response["Content-Crs"] = crs.header
    return _private(response)


def feature_collection_text(features: list[Feature], *, number_matched: int, links: list) -> str:
    head = {
        "type": "FeatureCollection",
        "timeStamp": time_stamp(),
        "numberMatched": number_matched,
        "numberReturned": len(features),
        "links": links,
    }
    return _dumps(head)[:-1] + ',"features":[' + ",".join(map(feature_text, features)) + "]}"


def html_cell(value) -> str:
    """A property as table text: holders as "party share" lines, numbers to two decimals
    (areas in m², ratios), None as nothing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return "; ".join(
            f"{item.get('party')} {item.get('share')}" if isinstance(item, dict) else str(item)
            for item in value
        )
    return str(value)


# --- documents ---------------------------------------------------------------------------


def instant(day: datetime.date | None) -> str | None:
    """The start of a legal day on the register's calendar, as RFC 3339."""
    if day is None:
        return None
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=timezone.get_current_timezone())
    return start.isoformat()


def collection_document(
    request: HttpRequest, collection: Collection, extent: CollectionExtent
) -> dict:
    """A collection as ``/collections`` lists it: CRSs (Part 2), the extent of what the user
    may see (bbox in CRS84; legal interval on the register's calendar, open while features
    are current), links to itself, its items and its schema."""
    path = reverse("ogc:collection", args=[collection.id])
    items = reverse("ogc:items", args=[collection.id])
    schema_path = reverse("ogc:schema", args=[collection.id])
    document: dict = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": [crs.uri for crs in SUPPORTED],
        "storageCrs": STORAGE.uri,
        "extent": {},
        "links": [
            link(url(request, path, {"f": "json"}), "self", JSON, collection.title),
            link(url(request, path, {"f": "html"}), "alternate", HTML, collection.title),
            link(url(request, items, {"f": "json"}), "items", GEOJSON, "the features"),
            link(url(request, items, {"f": "html"}), "items", HTML, "the features"),
            # GDAL reads the properties' types from "describedBy" (link relations are
            # case-insensitive, RFC 8288).
            link(url(request, schema_path), "describedBy", SCHEMA_JSON, "the features' schema"),
        ],
    }
    if extent.bbox is not None:
        document["extent"]["spatial"] = {"bbox": [extent.bbox], "crs": CRS84.uri}
    if collection.temporal and extent.start is not None:
        document["extent"]["temporal"] = {
            "interval": [[instant(extent.start), instant(extent.end)]],
            "trs": GREGORIAN,
        }
    return document


def paging_links(
    request: HttpRequest, found: Collection, query: ItemsQuery, matched: int, fmt: str
) -> list[dict]:
    """self/alternate, next while items remain, prev unless on the first page, collection."""
    path = reverse("ogc:items", args=[found.id])
    params = {key: value for key, value in request.GET.items() if key not in ("f", "offset")}
    params["limit"] = str(query.limit)
    media_type = GEOJSON if fmt == "json" else HTML
    links = self_and_alternate(request, path, fmt, json_type=GEOJSON)
    if query.offset + query.limit < matched:
        next_page = {**params, "offset": query.offset + query.limit, "f": fmt}
        links.append(link(url(request, path, next_page), "next", media_type, "next page"))
    if query.offset > 0:
        previous = {**params, "offset": max(0, query.offset - query.limit), "f": fmt}
        links.append(link(url(request, path, previous), "prev", media_type, "previous page"))
    collection_path = reverse("ogc:collection", args=[found.id])
    links.append(
        link(url(request, collection_path, {"f": "json"}), "collection", JSON, found.title)
    )
    return links


def items_table(
    request: HttpRequest, found: Collection, query: ItemsQuery, page: FeaturePage, links: list
) -> dict:
    """The context of the items page: one row per feature linking to it, paging links."""
    columns = list(page.features[0].properties) if page.features else []
    rows = [
        {
            "id": item.id,
            "href": url(request, reverse("ogc:item", args=[found.id, item.id]), {"f": "html"}),
            "cells": [html_cell(item.properties[name]) for name in columns],
        }
        for item in page.features
    ]
    return {
        "collection": found,
        "links": links,
        "previous": next((entry["href"] for entry in links if entry["rel"] == "prev"), None),
        "next": next((entry["href"] for entry in links if entry["rel"] == "next"), None),
        "columns": columns,
        "rows": rows,
        "number_matched": page.number_matched,
        "first": query.offset + 1 if rows else 0,
        "last": query.offset + len(rows),
        "time_stamp": time_stamp(),
    }


def schema_document(request: HttpRequest, found: Collection) -> dict:
    """JSON Schema of the collection's features with the properties this user is shown."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url(request, reverse("ogc:schema", args=[found.id])),
        "title": found.title,
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"type": "object", "description": f"GeoJSON {found.geometry_type}"},
            "properties": {
                "type": "object",
                "properties": found.property_schemas(user=request.user),
            },
        },
    }
