"""The OpenAPI 3.0 definition of the OGC API (``/ogc/api``, the landing page's
``service-desc``), built from the collections the user may read and the parameter limits in
:mod:`.params`, so it cannot drift from what the views accept."""

from gis_layers.ogc.collections import Collection
from gis_layers.ogc.crs import CRS84, SUPPORTED
from gis_layers.ogc.params import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

_ERRORS = {
    "400": {"$ref": "#/components/responses/Error"},
    "401": {"$ref": "#/components/responses/Error"},
    "403": {"$ref": "#/components/responses/Error"},
    "404": {"$ref": "#/components/responses/Error"},
}


def _parameter(name: str, schema: dict, description: str, *, where: str = "query") -> dict:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
        "style": "simple" if where == "path" else "form",
        "explode": False,
    }


def _json(description: str, media_type: str = "application/json") -> dict:
    return {
        "description": description,
        "content": {
            media_type: {"schema": {"type": "object"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }


def api_definition(*, server_url: str, collections: list[Collection]) -> dict:
    crs_uris = [crs.uri for crs in SUPPORTED]
    parameters = {
        "f": _parameter("f", {"type": "string", "enum": ["json", "html"]}, "Format (default by the Accept header; JSON if both)."),
        "collectionId": _parameter("collectionId", {"type": "string", "enum": [c.id for c in collections]}, "A collection you may read.", where="path"),
        "featureId": _parameter("featureId", {"type": "integer", "minimum": 1}, "The feature's id.", where="path"),
        "bbox": _parameter("bbox", {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}, f"minimum then maximum corner, in bbox-crs's axis order (default {CRS84.uri}: longitude, latitude)."),
        "bbox-crs": _parameter("bbox-crs", {"type": "string", "format": "uri", "enum": crs_uris}, "CRS of bbox."),
        "crs": _parameter("crs", {"type": "string", "format": "uri", "enum": crs_uris}, "CRS of the geometries returned (EPSG CRSs in latitude, longitude order)."),
        "limit": _parameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, f"Items a page; more than {MAX_LIMIT} is refused (400)."),
        "offset": _parameter("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}, "Items skipped (follow the next links)."),
        "datetime": _parameter("datetime", {"type": "string"}, "A date, an RFC 3339 instant or an interval start/end (.. for open): features in force then. Default: today. Ignored by zoning."),
    }  # fmt: skip
    ref = {name: {"$ref": f"#/components/parameters/{name}"} for name in parameters}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "LandLedger OGC API – Features",
            "version": "1.0.0",
            "description": "Parcels, buildings, civil-defence shelters and zoning of the register.",
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "security": [{"basic": []}, {"session": []}],
        "paths": {
            "/": {"get": {"summary": "Landing page", "parameters": [ref["f"]], "responses": {"200": _json("Links to the API's resources."), **_ERRORS}}},
            "/conformance": {"get": {"summary": "Conformance classes", "parameters": [ref["f"]], "responses": {"200": _json("The conformance classes implemented."), **_ERRORS}}},
            "/collections": {"get": {"summary": "Collections you may read", "parameters": [ref["f"]], "responses": {"200": _json("The collections."), **_ERRORS}}},
            "/collections/{collectionId}": {"get": {"summary": "A collection", "parameters": [ref["collectionId"], ref["f"]], "responses": {"200": _json("The collection."), **_ERRORS}}},
            "/collections/{collectionId}/schema": {"get": {"summary": "JSON Schema of the features", "parameters": [ref["collectionId"], ref["f"]], "responses": {"200": {"description": "JSON Schema.", "content": {"application/schema+json": {"schema": {"type": "object"}}}}, **_ERRORS}}},
            "/collections/{collectionId}/items": {"get": {"summary": "A page of features", "parameters": [ref[name] for name in ("collectionId", "f", "bbox", "bbox-crs", "limit", "offset", "datetime", "crs")], "responses": {"200": _json("GeoJSON FeatureCollection.", "application/geo+json"), **_ERRORS}}},
            "/collections/{collectionId}/items/{featureId}": {"get": {"summary": "A feature", "parameters": [ref["collectionId"], ref["featureId"], ref["f"], ref["crs"]], "responses": {"200": _json("GeoJSON Feature.", "application/geo+json"), **_ERRORS}}},
        },
        "components": {
            "parameters": parameters,
            "responses": {
                "Error": {
                    "description": "Refused: code and description.",
                    "content": {"application/json": {"schema": {"type": "object", "required": ["code", "description"], "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}}},
                }
            },
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic", "description": "Your account (HTTPS, or from this machine)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
        },
    }  # fmt: skip
