"""OGC API – Features (Part 1: Core, Part 2: CRS by reference) under ``/ogc/``.

Collections ``parcels``, ``buildings``, ``shelters`` and ``zoning``, as GeoJSON for GIS clients
(GDAL's OAPIF driver, QGIS, OWSLib) and as HTML pages for browsers. Every request needs a
logged-in user (a session, or HTTP Basic for GIS clients); each collection needs its model's
view permission, and shelters above the user's clearance do not exist for them.

Modules: :mod:`.crs` (the CRS whitelist), :mod:`.params` (query parameters, checked),
:mod:`.collections` (what each collection publishes), :mod:`.queries` (the database reads),
:mod:`.auth` (login, HTTP Basic), :mod:`.render` (formats, links, responses),
:mod:`.openapi` (the API definition), :mod:`.views`.
"""
