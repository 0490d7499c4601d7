"""Reads of the register through LandLedger against the bare SQL that answers the same, on a
synthetic city (``bench/synthetic_city.py``) already in the database named:

- the parcel at a point with its current holders (``GET /api/parcels/at/``) against one SQL
  statement returning the same parcel and holders as JSON;
- pages of 1,000 parcels from the OGC API (``/ogc/collections/parcels/items``, with ``bbox``,
  ``limit`` and ``offset``) against one SQL statement returning the same FeatureCollection;
- a title as of a date, on a title whose land-use right has 100 versions (first
  registration, then 99 transfers), against the same title's current state, both through the
  API (``/api/titles/N/?as_of=``) and in SQL;
- export of every current parcel to a GeoPackage (``manage.py export_layer``) against
  ``ogr2ogr -f GPKG`` from the same rows.

Usage (from the repository root; ``bench/harness.py`` runs it at each size)::

    .venv/bin/python bench/read_benchmark.py --database landledger_bench_m --parcels 100000 \\
        --summary var/bench/M/reads.json

Titles are registered through the register's own services (lodge, examine, approve) on a
seeded sample of the city's parcels; a second run reuses them. Requests go to gunicorn (one
sync worker, ``DEBUG`` off) on a new connection each, signed in as a registrar (who sees
holders, so every reading is audited as the API does) or a planner (OGC); the bare side runs
on a psycopg connection of its own. Each answer is checked against the bare one (same parcel,
same holders, same features) before anything is timed.
"""

import argparse
import datetime
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from bench import benchdb, synthetic_city  # noqa: E402  (after the path is set)
from bench.benchdb import BenchDatabase, http_get, running_server, session_cookie  # noqa: E402

REGISTRAR = "bench-reads-registrar"
SUPERVISOR = "bench-reads-supervisor"
PLANNER = "bench-reads-planner"
FIRST_REGISTERED = datetime.date(2024, 1, 1)
HISTORY_FROM = datetime.date(2020, 1, 6)  # the 100-version title's first registration
HISTORY_STEP_DAYS = 14  # between two of its transfers
HISTORY_VERSIONS = 100
PAGE = 1000


def holders_sql(title: str, kinds: tuple[str, ...] = ()) -> str:
    """The holders on %(on)s of the title matching ``title`` (a condition on ``t``), as
    ``registry.selectors.holders_by`` lists them (rights by kind, rank and id; each right's
    holders by name), as a JSON array; only rights of ``kinds`` when given."""
    of_kinds = f"AND r.kind IN ({', '.join(repr(kind) for kind in kinds)})" if kinds else ""
    return f"""
        SELECT coalesce(json_agg(json_build_object(
            'right', r.id, 'kind', r.kind, 'party', pa.name, 'party_id', pa.id,
            'share', h.share_parts || '/' || r.share_denominator)
            ORDER BY r.kind, r.rank, r.id, pa.name, pa.id), '[]')
        FROM registry_title t JOIN registry_right r ON r.title_id = t.id
        JOIN registry_rightholder h ON h.right_id = r.id JOIN registry_party pa ON pa.id = h.party_id
        WHERE {title} {of_kinds} AND r.valid_from <= %(on)s
          AND (r.valid_to IS NULL OR r.valid_to > %(on)s)
    """


POINT_SQL = f"""
    SELECT json_build_object(
        'unit_code', p.unit_code, 'district', d.code, 'district_name', d.name,
        'land_use', p.land_use_id, 'land_use_name', lu.name_en, 'name', p.name,
        'address', p.address, 'area_m2', p.area_m2, 'valid_from', p.valid_from,
        'valid_to', p.valid_to, 'title', (SELECT t.id FROM registry_title t WHERE t.parcel_id = p.id),
        'geometry', ST_AsGeoJSON(p.geom)::json,
        'holders', ({holders_sql("t.parcel_id = p.id")}))
    FROM registry_parcel p JOIN registry_district d ON d.id = p.district_id
    JOIN registry_landuseclass lu ON lu.code = p.land_use_id
    WHERE ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4490))
      AND p.valid_from <= %(on)s AND (p.valid_to IS NULL OR p.valid_to > %(on)s)
    ORDER BY p.id LIMIT 1
"""
# A page of the OGC API's parcels as its GeoJSON (CRS84, 9 decimals, holders of ownership and
# land-use rights), with the number matched.
OGC_PAGE_SQL = f"""
    WITH matched AS (
        SELECT p.* FROM registry_parcel p
        WHERE ST_Intersects(
            p.geom, ST_Transform(ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326), 4490))
          AND p.valid_from <= %(on)s AND (p.valid_to IS NULL OR p.valid_to > %(on)s)
    ), page AS (
        SELECT * FROM matched ORDER BY id LIMIT %(limit)s OFFSET %(offset)s
    )
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'numberMatched', (SELECT count(*) FROM matched),
        'features', coalesce(json_agg(json_build_object(
            'type', 'Feature', 'id', page.id,
            'geometry', ST_AsGeoJSON(ST_Transform(page.geom, 4326), 9)::json,
            'properties', json_build_object(
                'unit_code', page.unit_code, 'name', page.name, 'address', page.address,
                'land_use', page.land_use_id, 'land_use_name_zh', lu.name_zh,
                'land_use_name_en', lu.name_en, 'area_m2', page.area_m2, 'district', d.code,
                'district_name', d.name, 'valid_from', page.valid_from, 'valid_to', page.valid_to,
                'holders', ({holders_sql("t.parcel_id = page.id", ("ownership", "land_use_right"))})))
            ORDER BY page.id), '[]'))
    FROM page JOIN registry_district d ON d.id = page.district_id
    JOIN registry_landuseclass lu ON lu.code = page.land_use_id
"""
# A title's rights in force on a day with their holders: what the API's title answer is made of.
TITLE_SQL = holders_sql("t.id = %(title)s")
EXPORT_SQL = (
    "SELECT p.unit_code, p.land_use_id AS land_use, p.name, p.address, p.valid_from, "
    "p.valid_to, p.area_m2, d.code AS district, p.geom FROM registry_parcel p "
    "JOIN registry_district d ON d.id = p.district_id WHERE p.valid_from <= current_date "
    "AND (p.valid_to IS NULL OR p.valid_to > current_date) ORDER BY p.unit_code"
)

DATABASE: BenchDatabase  # set by main


class Bare:
    """SQL on a psycopg connection of its own, autocommit, as a plain client would send it."""

    def __init__(self):
        import psycopg

        self.connection = psycopg.connect(
            host=benchdb.HOST,
            port=benchdb.PORT,
            dbname=DATABASE.name,
            user=benchdb.ROLE,
            password=benchdb.PASSWORD,
            autocommit=True,
        )

    def one(self, sql: str, params: dict) -> tuple[object, float]:
        """The first column of the first row, and the time from sending to having it, s."""
        started = time.perf_counter()
        row = self.connection.execute(sql, params).fetchone()
        return (row[0] if row else None), time.perf_counter() - started


# --- titles ----------------------------------------------------------------------------------


def users() -> dict[str, object]:
    from django.contrib.auth import get_user_model

    from registry.roles import Role
    from registry.services.users import create_user_with_role

    model = get_user_model().objects
    made = {}
    for username, role in ((REGISTRAR, Role.REGISTRAR), (SUPERVISOR, Role.SUPERVISOR),
                           (PLANNER, Role.PLANNER)):  # fmt: skip
        made[username] = model.filter(username=username).first() or create_user_with_role(
            # Nobody signs in with a password: sessions are made directly.
            username=username,
            password=secrets.token_urlsafe(16),
            role=role,
        )
    return made


def register(act_type: str, title, payload: dict, on: datetime.date, registrar, supervisor):
    from registry.services.acts import approve_act, examine_act, lodge_act

    title.refresh_from_db()
    act = lodge_act(
        act_type=act_type, titles=[title], payload=payload, effective_date=on, lodged_by=registrar
    )
    examine_act(act=act, examiner=registrar)
    approve_act(act=act, approver=supervisor)


def titled_parcels(count: int, *, seed: int, registrar, supervisor) -> tuple[int, list[int]]:
    """``count`` + 1 parcels of the city drawn from ``seed``: the first for the title with
    a history (left without a title here), the others each with a title whose land-use right
    its own party holds since 2024-01-01. Returns the first's id and the others'."""
    from tqdm import tqdm

    from registry.models import Parcel, Party, PartyKind, Right, RightKind
    from registry.services.acts import title_of

    ids = np.array(
        Parcel.objects.filter(district__code=synthetic_city.DIVISION, valid_to__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    drawn = np.random.default_rng([seed, 0x717]).choice(ids, count + 1, replace=False).tolist()
    history, chosen = drawn[0], sorted(drawn[1:])
    registered = set(
        Right.objects.filter(
            title__parcel_id__in=chosen, kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True
        ).values_list("title__parcel_id", flat=True)
    )
    for parcel in tqdm(
        Parcel.objects.filter(pk__in=set(chosen) - registered), desc="titles", unit="title"
    ):
        party, _ = Party.objects.get_or_create(
            identifier=f"BENCHREAD{parcel.pk:09d}",
            defaults={"kind": PartyKind.ENTERPRISE, "name": f"Holder of parcel {parcel.pk}"},
        )
        spec = {"kind": RightKind.LAND_USE_RIGHT, "land_use_right_type": "allocated",
                "holders": [{"party": party.pk, "parts": 1}], "share_denominator": 1}  # fmt: skip
        register(
            "first", title_of(parcel), {"right": spec}, FIRST_REGISTERED, registrar, supervisor
        )
    return history, chosen


def history_title(parcel_id: int, *, registrar, supervisor):
    """The title of ``parcel_id`` with a land-use right in ``HISTORY_VERSIONS`` versions:
    registered on ``HISTORY_FROM``, then transferred every ``HISTORY_STEP_DAYS`` days to the
    next of a ring of ten parties. Returns the title and the days its versions began."""
    from tqdm import tqdm

    from registry.models import Parcel, Party, PartyKind, Right, RightKind
    from registry.services.acts import title_of

    title = title_of(Parcel.objects.get(pk=parcel_id))
    parties = [
        Party.objects.get_or_create(
            identifier=f"BENCHHIST{number:02d}",
            defaults={"kind": PartyKind.PERSON, "name": f"History holder {number}"},
        )[0]
        for number in range(10)
    ]
    days = [HISTORY_FROM + datetime.timedelta(days=HISTORY_STEP_DAYS * k)
            for k in range(HISTORY_VERSIONS)]  # fmt: skip
    done = Right.objects.filter(title=title, kind=RightKind.LAND_USE_RIGHT).count()
    if done == 0:
        spec = {"kind": RightKind.LAND_USE_RIGHT, "land_use_right_type": "allocated",
                "holders": [{"party": parties[0].pk, "parts": 1}], "share_denominator": 1}  # fmt: skip
        register("first", title, {"right": spec}, days[0], registrar, supervisor)
        done = 1
    for version in tqdm(range(done, HISTORY_VERSIONS), desc="history", unit="transfer"):
        current = Right.objects.get(
            title=title, kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True
        )
        holder = current.shares.get().party_id
        payload = {
            "right": current.pk,
            "transferors": [holder],
            "holders": [{"party": parties[version % 10].pk, "parts": 1}],
            "share_denominator": 1,
        }
        register("transfer", title, payload, days[version], registrar, supervisor)
    versions = Right.objects.filter(title=title, kind=RightKind.LAND_USE_RIGHT).count()
    if versions != HISTORY_VERSIONS:
        raise RuntimeError(f"the history title has {versions} versions, not {HISTORY_VERSIONS}")
    return title, days


# --- measuring ---------------------------------------------------------------------------------


def timed_pairs(cases: list, *, api, bare, repeats: int, seed: int) -> dict:
    """Each case through the API and bare, ``repeats`` times in a shuffled order, alternating
    which side goes first; per case the median of its repeats, then the median over cases, ms."""
    rng = np.random.default_rng([seed, 0xA11])
    api_times = {k: [] for k in range(len(cases))}
    bare_times = {k: [] for k in range(len(cases))}
    for repeat in range(repeats):
        for position, k in enumerate(rng.permutation(len(cases))):
            sides = (api, bare) if (position + repeat) % 2 == 0 else (bare, api)
            for side in sides:
                (api_times if side is api else bare_times)[k].append(side(cases[k]))
    api_ms = [1000 * statistics.median(v) for v in api_times.values()]
    bare_ms = [1000 * statistics.median(v) for v in bare_times.values()]
    return {
        "cases": len(cases),
        "repeats": repeats,
        "api_ms": statistics.median(api_ms),
        "api_p90_ms": float(np.percentile(api_ms, 90)),
        "bare_ms": statistics.median(bare_ms),
        "bare_p90_ms": float(np.percentile(bare_ms, 90)),
        "ratio": statistics.median(a / b for a, b in zip(api_ms, bare_ms, strict=True)),
    }


def get_json(port: int, path: str, cookie: str) -> tuple[dict, float]:
    status, body, seconds = http_get(port, path, cookie)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body), seconds


def points_of(parcel_ids: list[int]) -> list[tuple[float, float]]:
    """A point inside each parcel (not on an edge a neighbour shares)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT id, ST_PointOnSurface(geom) AS c "
            "FROM registry_parcel WHERE id = ANY(%s)) s ORDER BY id",
            [parcel_ids],
        )
        return cursor.fetchall()


def measure_points(points, *, port, cookie, bare: Bare, repeats: int, seed: int) -> dict:
    today = datetime.date.today()

    def api(point):
        return get_json(port, f"/api/parcels/at/?lon={point[0]!r}&lat={point[1]!r}", cookie)[1]

    def sql(point):
        return bare.one(POINT_SQL, {"lon": point[0], "lat": point[1], "on": today})[1]

    for point in points:  # the same answer on both sides, checked once, untimed
        answer, _ = get_json(port, f"/api/parcels/at/?lon={point[0]!r}&lat={point[1]!r}", cookie)
        expected, _ = bare.one(POINT_SQL, {"lon": point[0], "lat": point[1], "on": today})
        properties = answer["parcel"]["properties"]
        if (answer["parcel"]["id"], properties["title"], answer.get("holders", [])) != (
            expected["unit_code"], expected["title"], expected["holders"]
        ):  # fmt: skip
            raise RuntimeError(f"at {point}: the API answered {answer}, the SQL {expected}")
    return timed_pairs(points, api=api, bare=sql, repeats=repeats, seed=seed)


def dense_box(bare: Bare, *, features: int) -> tuple[float, float, float, float]:
    """A box (CRS84 degrees) around the city's centre holding at least ``features`` current
    parcels: grown from 500 m until it does."""
    lon, lat = synthetic_city.CENTRE
    half_m = 500.0
    while True:
        box = (lon - half_m / synthetic_city.M_PER_DEG_LON, lat - half_m / synthetic_city.M_PER_DEG_LAT,
               lon + half_m / synthetic_city.M_PER_DEG_LON, lat + half_m / synthetic_city.M_PER_DEG_LAT)  # fmt: skip
        count, _ = bare.one(
            "SELECT count(*) FROM registry_parcel WHERE valid_to IS NULL AND "
            "ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326), 4490))",
            dict(zip("wsen", box, strict=True)),
        )
        if count >= features or half_m > 200_000:
            return box
        half_m *= 1.5


def measure_ogc(box, pages: int, *, port, cookie, bare: Bare, repeats: int, seed: int) -> dict:
    today = datetime.date.today()
    bbox = ",".join(repr(value) for value in box)
    offsets = [page * PAGE for page in range(pages)]

    def path(offset: int) -> str:
        return f"/ogc/collections/parcels/items?bbox={bbox}&limit={PAGE}&offset={offset}"

    def params(offset: int) -> dict:
        west, south, east, north = box
        return {"west": west, "south": south, "east": east, "north": north, "on": today,
                "limit": PAGE, "offset": offset}  # fmt: skip

    for offset in offsets:  # the same features on both sides, checked once, untimed
        answer, _ = get_json(port, path(offset), cookie)
        expected, _ = bare.one(OGC_PAGE_SQL, params(offset))
        if answer["numberMatched"] != expected["numberMatched"]:
            raise RuntimeError(f"offset {offset}: numberMatched {answer['numberMatched']} "
                               f"against {expected['numberMatched']}")  # fmt: skip
        if len(answer["features"]) != len(expected["features"]):
            raise RuntimeError(f"offset {offset}: {len(answer['features'])} features against "
                               f"{len(expected['features'])}")  # fmt: skip
        for got, want in zip(answer["features"], expected["features"], strict=True):
            if (got["id"], got["geometry"], got["properties"]) != (
                want["id"], want["geometry"], want["properties"]
            ):  # fmt: skip
                raise RuntimeError(
                    f"offset {offset}: feature {got['id']} differs from {want['id']}"
                )
    figures = timed_pairs(
        offsets,
        api=lambda offset: get_json(port, path(offset), cookie)[1],
        bare=lambda offset: bare.one(OGC_PAGE_SQL, params(offset))[1],
        repeats=repeats,
        seed=seed,
    )
    return figures | {"box": list(box), "matched": answer["numberMatched"]}


def measure_as_of(title, days, *, port, cookie, bare: Bare, repeats: int, seed: int) -> dict:
    """The title on days spread over its 100 versions against today, through the API and in
    SQL, with the holder checked on each day."""
    rng = np.random.default_rng([seed, 0xA50F])
    chosen = sorted(rng.choice(len(days), size=20, replace=False).tolist())
    cases = [
        days[k] + datetime.timedelta(days=int(rng.integers(HISTORY_STEP_DAYS))) for k in chosen
    ]
    for on in cases:
        answer, _ = get_json(port, f"/api/titles/{title.pk}/?as_of={on}", cookie)
        expected, _ = bare.one(TITLE_SQL, {"title": title.pk, "on": on})
        if answer["holders"] != expected:
            raise RuntimeError(f"{on}: the API's holders {answer['holders']}, the SQL's {expected}")
    today = datetime.date.today()

    def api(on):
        return get_json(port, f"/api/titles/{title.pk}/" + (f"?as_of={on}" if on else ""), cookie)[
            1
        ]

    def sql(on):
        return bare.one(TITLE_SQL, {"title": title.pk, "on": on or today})[1]

    as_of = timed_pairs(cases, api=api, bare=sql, repeats=repeats, seed=seed)
    current = timed_pairs([None] * len(cases), api=api, bare=sql, repeats=repeats, seed=seed + 1)
    return {"as_of": as_of, "current": current, "versions": HISTORY_VERSIONS}


def measure_export(*, repeats: int) -> dict:
    """export_layer parcels → GeoPackage against ogr2ogr from the same rows; wall time of each
    process, medians; the files' feature counts checked equal."""
    import pyogrio

    if shutil.which("ogr2ogr") is None:
        sys.exit("ogr2ogr is not on PATH (Debian: apt-get install gdal-bin)")
    runs = {"export_layer": [], "ogr2ogr": []}
    counts = {}
    with tempfile.TemporaryDirectory() as folder:
        commands = {
            "export_layer": [sys.executable, "manage.py", "export_layer", "parcels",
                             f"{folder}/ours.gpkg"],
            "ogr2ogr": ["ogr2ogr", "-f", "GPKG", f"{folder}/ogr.gpkg", DATABASE.ogr_connection,
                        "-sql", EXPORT_SQL, "-nln", "parcels", "-a_srs", "EPSG:4490"],
        }  # fmt: skip
        for repeat in range(repeats):
            for name in list(commands) if repeat % 2 == 0 else list(commands)[::-1]:
                target = Path(commands[name][-1] if name == "export_layer" else commands[name][3])
                target.unlink(missing_ok=True)
                started = time.perf_counter()
                subprocess.run(commands[name], cwd=REPOSITORY, env=DATABASE.environment,
                               check=True, capture_output=True)  # fmt: skip
                runs[name].append(time.perf_counter() - started)
                counts[name] = pyogrio.read_info(target)["features"]
    if counts["export_layer"] != counts["ogr2ogr"]:
        raise RuntimeError(f"the exports hold different numbers of features: {counts}")
    medians = {name: statistics.median(values) for name, values in runs.items()}
    return {
        "features": counts["ogr2ogr"],
        "export_layer_s": medians["export_layer"],
        "ogr2ogr_s": medians["ogr2ogr"],
        "runs": runs,
        "ratio": medians["ogr2ogr"] / medians["export_layer"],  # our speed as a share of ogr2ogr's
    }


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="the database holding the city")
    parser.add_argument("--parcels", type=synthetic_city.parse_size, required=True,
                        help="parcels of the city: a number, or S, M, L")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="seed of the city")
    parser.add_argument("--titles", type=int, default=300, help="titles registered (default 300)")
    parser.add_argument("--points", type=int, default=200, help="points asked (default 200)")
    parser.add_argument("--pages", type=int, default=10, help="OGC pages of 1,000 (default 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--export-repeats", type=int, default=3)
    parser.add_argument("--summary", type=Path, required=True, help="where the figures go, JSON")
    arguments = parser.parse_args()
    if arguments.points > arguments.titles:
        parser.error("--points may not exceed --titles: each point is on a titled parcel")

    global DATABASE
    DATABASE = BenchDatabase(arguments.database)
    os.chdir(REPOSITORY)
    DATABASE.setup_django()
    from django.db import connection

    if (
        synthetic_city.city_state(parcels=arguments.parcels, seed=arguments.seed)
        != arguments.parcels
    ):
        sys.exit(f"{DATABASE.name} does not hold the city of {arguments.parcels:,} parcels, seed "
                 f"{arguments.seed}: fill it first (bench/synthetic_city.py)")  # fmt: skip
    people = users()
    registrar, supervisor = people[REGISTRAR], people[SUPERVISOR]
    started = time.monotonic()
    history, titled = titled_parcels(arguments.titles, seed=arguments.seed, registrar=registrar,
                            supervisor=supervisor)  # fmt: skip
    title, days = history_title(history, registrar=registrar, supervisor=supervisor)
    prepared_s = time.monotonic() - started
    rng = np.random.default_rng([arguments.seed, 0x9017])
    points = points_of(sorted(rng.choice(titled, arguments.points, replace=False).tolist()))
    cookies = {name: session_cookie(user) for name, user in people.items()}
    bare = Bare()
    box = dense_box(bare, features=arguments.pages * PAGE)
    connection.close()  # this process stays off the database while measuring, but for the bare side

    figures = {"parcels": arguments.parcels, "titles": arguments.titles, "prepared_s": prepared_s}
    with running_server("gunicorn", environment=DATABASE.environment) as port:
        figures["point"] = measure_points(points, port=port, cookie=cookies[REGISTRAR], bare=bare,
                                          repeats=arguments.repeats, seed=arguments.seed)  # fmt: skip
        print("parcel at a point:", figures["point"], flush=True)
        figures["ogc"] = measure_ogc(box, arguments.pages, port=port, cookie=cookies[PLANNER],
                                     bare=bare, repeats=arguments.repeats, seed=arguments.seed)  # fmt: skip
        print("OGC pages:", figures["ogc"], flush=True)
        figures["as_of"] = measure_as_of(title, days, port=port, cookie=cookies[REGISTRAR],
                                         bare=bare, repeats=arguments.repeats, seed=arguments.seed)  # fmt: skip
        print("as of:", figures["as_of"], flush=True)
    figures["export"] = measure_export(repeats=arguments.export_repeats)
    print("export:", figures["export"], flush=True)
    arguments.summary.parent.mkdir(parents=True, exist_ok=True)
    arguments.summary.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
