"""The OGC API – Features endpoints. Each view parses its parameters, calls one query of
:mod:`.queries` and renders JSON or HTML; refusals are :class:`~.params.OgcError` answered as
``{"code", "description"}`` (400 bad parameter, 401 not logged in, 403 collection not
readable by the user's role, 404 unknown collection or feature), never a traceback.
"""

import re
from collections.abc import Callable
from functools import wraps

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from config.routers import reads_from_replica
from gis_layers.ogc.auth import login_required
from gis_layers.ogc.collections import COLLECTIONS, Collection, readable_collections
from gis_layers.ogc.openapi import api_definition
from gis_layers.ogc.params import (
    COMMON_PARAMETERS,
    OgcError,
    check_known,
    parse_format,
    parse_item_query,
    parse_items_query,
)
from gis_layers.ogc.queries import collection_extent, feature, feature_page
from gis_layers.ogc.render import (
    GEOJSON,
    HTML,
    JSON,
    OPENAPI_JSON,
    SCHEMA_JSON,
    collection_document,
    error_response,
    feature_collection_text,
    feature_text,
    geojson_response,
    html_cell,
    html_response,
    items_table,
    json_response,
    link,
    paging_links,
    schema_document,
    self_and_alternate,
    url,
    wanted_format,
)
from registry.services.acts import record_audit

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
_FEATURE_ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive bigint


def ogc_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET/HEAD only, logged-in users only (session or HTTP Basic), refusals as JSON or a
    page, a database that is not answering as 503."""

    @require_safe
    @login_required
    @reads_from_replica
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except OgcError as error:
            return error_response(request, error)
        except OperationalError:
            unavailable = OgcError(
                503, "ServiceUnavailable", "the database is not answering; try again shortly"
            )
            return error_response(request, unavailable)

    return wrapper


def _readable(user, collection_id: str) -> Collection:
    """The collection if the user may read it: 404 for an unknown id, 403 for one their
    role may not read."""
    collection = COLLECTIONS.get(collection_id)
    if collection is None:
        names = ", ".join(c.id for c in readable_collections(user)) or "none"
        raise OgcError(
            404,
            "NotFound",
            f"no collection {collection_id!r}; the collections you may read: {names}",
        )
    if not collection.may_read(user):
        raise OgcError(
            403,
            "Forbidden",
            f"your role may not read the collection {collection.id!r} "
            f"(it needs the permission {collection.permission})",
        )
    return collection


@ogc_endpoint
def landing(request: HttpRequest) -> HttpResponse:
    """``/ogc/``: what the API is and links to its definition, conformance and data."""
    check_known(request.GET, COMMON_PARAMETERS)
    fmt = wanted_format(request)
    conformance, collections = reverse("ogc:conformance"), reverse("ogc:collections")
    document = {
        "title": "LandLedger OGC API – Features",
        "description": gettext(
            "Parcels, buildings, civil-defence shelters and zoning of the land register, "
            "as far as your role and clearance allow."
        ),
        "links": [
            *self_and_alternate(request, reverse("ogc:landing"), fmt),
            link(url(request, reverse("ogc:api")), "service-desc", OPENAPI_JSON, gettext("the API definition")),
            link(url(request, conformance, {"f": "json"}), "conformance", JSON, gettext("conformance classes")),
            link(url(request, conformance, {"f": "html"}), "conformance", HTML, gettext("conformance classes")),
            link(url(request, collections, {"f": "json"}), "data", JSON, gettext("the collections")),
            link(url(request, collections, {"f": "html"}), "data", HTML, gettext("the collections")),
        ],
    }  # fmt: skip
    if fmt == "html":
        return html_response(request, "landing.html", {"document": document})
    return json_response(document)


@ogc_endpoint
def api(request: HttpRequest) -> HttpResponse:
    """``/ogc/api``: the OpenAPI 3.0 definition (JSON only)."""
    check_known(request.GET, COMMON_PARAMETERS)
    if parse_format(request.GET) == "html":
        raise OgcError(400, "InvalidParameterValue", "f: the API definition is served as json only")
    definition = api_definition(
        server_url=url(request, reverse("ogc:landing")),
        collections=readable_collections(request.user),
    )
    return json_response(definition, content_type=OPENAPI_JSON)


@ogc_endpoint
def conformance(request: HttpRequest) -> HttpResponse:
    """``/ogc/conformance``: the conformance classes implemented."""
    check_known(request.GET, COMMON_PARAMETERS)
    fmt = wanted_format(request)
    document = {
        "conformsTo": CONFORMANCE,
        "links": self_and_alternate(request, reverse("ogc:conformance"), fmt),
    }
    if fmt == "html":
        return html_response(request, "conformance.html", {"document": document})
    return json_response(document)


@ogc_endpoint
def collections(request: HttpRequest) -> HttpResponse:
    """``/ogc/collections``: the collections the user may read, with their extents (of what
    the user may see) and CRSs."""
    check_known(request.GET, COMMON_PARAMETERS)
    fmt = wanted_format(request)
    entries = [
        collection_document(
            request, collection, collection_extent(collection=collection, user=request.user)
        )
        for collection in readable_collections(request.user)
    ]
    document = {
        "links": self_and_alternate(request, reverse("ogc:collections"), fmt),
        "collections": entries,
    }
    if fmt == "html":
        return html_response(request, "collections.html", {"document": document})
    return json_response(document)


@ogc_endpoint
def collection(request: HttpRequest, collection_id: str) -> HttpResponse:
    """``/ogc/collections/{id}``: one collection's description, CRSs and extent."""
    found = _readable(request.user, collection_id)
    check_known(request.GET, COMMON_PARAMETERS)
    fmt = wanted_format(request)
    document = collection_document(
        request, found, collection_extent(collection=found, user=request.user)
    )
    document["links"][:2] = self_and_alternate(
        request, reverse("ogc:collection", args=[found.id]), fmt
    )
    if fmt == "html":
        return html_response(request, "collection.html", {"document": document})
    return json_response(document)


@ogc_endpoint
def schema(request: HttpRequest, collection_id: str) -> HttpResponse:
    """``/ogc/collections/{id}/schema``: JSON Schema of the collection's features, with the
    properties this user is shown (OGC API – Features Part 5 style, JSON only)."""
    found = _readable(request.user, collection_id)
    check_known(request.GET, COMMON_PARAMETERS)
    if parse_format(request.GET) == "html":
        raise OgcError(400, "InvalidParameterValue", "f: the schema is served as json only")
    document = schema_document(request, found)
    return json_response(document, content_type=SCHEMA_JSON)


@ogc_endpoint
def items(request: HttpRequest, collection_id: str) -> HttpResponse:
    """``/ogc/collections/{id}/items``: a page of features (GeoJSON or a table), filtered by
    ``bbox``, ``datetime``, paged by ``limit`` and ``offset``, in the ``crs`` asked for.
    Each request is one audit event."""
    found = _readable(request.user, collection_id)
    query = parse_items_query(request.GET)
    fmt = wanted_format(request)
    page = feature_page(
        collection=found, user=request.user, query=query, with_geometry=fmt == "json"
    )
    record_audit(
        user=request.user,
        action="read",
        object_type=f"ogc:{found.id}",
        object_id="items",
        detail={
            **query.as_audit_detail(),
            "format": fmt,
            "numberMatched": page.number_matched,
            "numberReturned": len(page.features),
        },
    )
    links = paging_links(request, found, query, page.number_matched, fmt)
    if fmt == "html":
        context = items_table(request, found, query, page, links)
        return html_response(request, "items.html", context)
    text = feature_collection_text(page.features, number_matched=page.number_matched, links=links)
    return geojson_response(text, query.crs)


@ogc_endpoint
def item(request: HttpRequest, collection_id: str, feature_id: str) -> HttpResponse:
    """``/ogc/collections/{id}/items/{fid}``: one feature, whatever its legal interval; 404
    when there is none the user may see (a classified shelter included)."""
    found = _readable(request.user, collection_id)
    crs = parse_item_query(request.GET)
    fmt = wanted_format(request)
    result = None
    if _FEATURE_ID.fullmatch(feature_id):
        result = feature(
            collection=found,
            user=request.user,
            fid=int(feature_id),
            crs=crs,
            with_geometry=fmt == "json",
        )
    if result is None:
        raise OgcError(404, "NotFound", f"no feature {feature_id!r} in the collection {found.id!r}")
    record_audit(
        user=request.user,
        action="read",
        object_type=f"ogc:{found.id}",
        object_id=str(result.id),
        detail={"crs": crs.uri, "format": fmt},
    )
    path = reverse("ogc:item", args=[found.id, result.id])
    collection_path = reverse("ogc:collection", args=[found.id])
    links = [
        *self_and_alternate(request, path, fmt, json_type=GEOJSON),
        link(url(request, collection_path, {"f": "json"}), "collection", JSON, found.title),
    ]
    if fmt == "html":
        context = {
            "collection": found,
            "feature": result,
            "properties": [(name, html_cell(value)) for name, value in result.properties.items()],
            "links": links,
        }
        return html_response(request, "item.html", context)
    return geojson_response(feature_text(result, links), crs)
