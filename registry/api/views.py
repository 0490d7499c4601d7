"""The register's REST API: thin views that parse input, call one service or selector of
:mod:`registry` and render the result.

Refusals come back as ``{"rule", "title", "message"}`` (see :class:`ErrorSerializer`):

=========================================  ======  ==========================================
refusal                                    status  why this status
=========================================  ======  ==========================================
``RuleViolation``, ``InvalidApplication``  400     the application breaks a rule or is
                                                   malformed; resubmitting it unchanged fails
bad query, body or JSON                    400     names the field (``field_errors`` too)
not logged in                              403     session authentication sends no challenge
lacking the role's permission,             403
``NotAllowed``
unknown id, or a shelter above the         404     a classified shelter is never revealed,
user's clearance                                   not even by a 403
``ConflictError`` (stale version)          409     the title changed under the application
``WrongState`` (e.g. approving an          409     the act's state conflicts with the step;
unexamined act)                                    the request itself was well formed
a database guard refused                   400     rule ``database_guard``
a body that is not JSON                    415     rule ``unsupported_media_type``
a body over DATA_UPLOAD_MAX_MEMORY_SIZE    413     rule ``request_too_large``
the database is not answering, has no      503     rule ``database_unavailable``,
free connection or no disk space left              ``database_busy`` or ``disk_full``, with
                                                   ``Retry-After`` (config.resilience)
=========================================  ======  ==========================================
"""

import datetime
from typing import NoReturn

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from registry.api.serializers import (
    ActDetailSerializer,
    ActQueueQuerySerializer,
    ActSerializer,
    AsOfQuerySerializer,
    ErrorSerializer,
    ExamineActSerializer,
    LodgeActSerializer,
    ParcelAtPointSerializer,
    ParcelFeatureSerializer,
    ParcelLineageSerializer,
    PointQuerySerializer,
    RegisteredByQuerySerializer,
    RejectActSerializer,
    TitleChainSerializer,
    TitleOnDateSerializer,
    TitleQuerySerializer,
    TitleSearchQuerySerializer,
    TitleSerializer,
)
from registry.codes import parse_unit_code
from registry.errors import (
    ConflictError,
    InvalidApplication,
    NotAllowed,
    RegisterError,
    RuleViolation,
    WrongState,
)
from registry.models import ActTitle, Parcel, RegistrationAct, SourceDocument, Title
from registry.roles import ROLE_PERMISSIONS
from registry.selectors import (
    acts_visible_to,
    closed_as_registered,
    end_of_day,
    holders_as_of,
    parcel_as_of,
    parcel_at_point,
    parcel_lineage,
    parcels_as_registered,
    rights_as_of,
    search_titles,
    title_chain,
    titles_visible_to,
)
from registry.services.acts import (
    approve_act,
    examine_act,
    lodge_act,
    record_audit,
    reject_act,
)

# --- errors -----------------------------------------------------------------------------

REGISTER_ERROR_STATUS: list[tuple[type[RegisterError], int]] = [
    (ConflictError, status.HTTP_409_CONFLICT),
    (WrongState, status.HTTP_409_CONFLICT),
    (NotAllowed, status.HTTP_403_FORBIDDEN),
    (RuleViolation, status.HTTP_400_BAD_REQUEST),
    (InvalidApplication, status.HTTP_400_BAD_REQUEST),
]
# DRF's codes renamed where the register already has a name for the same refusal.
RULE_OF_API_CODE = {"permission_denied": NotAllowed.rule, "parse_error": "malformed_request"}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as ``{"sources[0].content_base64": [messages]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(key, int):  # an item of a list field
                path = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                path = prefix or "request"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten(value, path))
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "request": [str(message) for message in messages]} if messages else {}


def _error(rule: str, message: str, title: str = "", **extra) -> dict:
    return {"rule": rule, "title": title, "message": message, **extra}


def register_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every refusal as ``{"rule", "title", "message"}`` with the status in the module's
    table; ``None`` (a 500) only for what no input explains."""
    if isinstance(exc, RegisterError):
        status_code = next(
            (code for kind, code in REGISTER_ERROR_STATUS if isinstance(exc, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        set_rollback()
        return Response(exc.as_dict(), status=status_code)
    if isinstance(exc, IntegrityError | DataError):
        # A guard in the database refused a value the checks above let through.
        set_rollback()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Response(_error("database_guard", message), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        # Raised by Django while DRF reads the body; its own answer would be an HTML page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            _error("request_too_large", f"request body: larger than the {limit} bytes accepted"),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # Not the request's fault: config.resilience answers 503 with Retry-After, as it
        # does for every other page.
        return None
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in fields.items())
        response.data = _error("invalid_input", message, field_errors=fields)
        return response
    if isinstance(exc, Http404):
        code, detail = "not_found", str(exc) or "not found"
    else:
        code = getattr(exc, "default_code", "error")
        detail = str(response.data.get("detail", "")) if isinstance(response.data, dict) else ""
    message = f"request body: {detail}" if code == "parse_error" else detail
    response.data = _error(RULE_OF_API_CODE.get(code, code), message)
    return response


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input or a rule of the register."),
    403: OpenApiResponse(ErrorSerializer, description="Not logged in, or the role lacks this."),
    404: OpenApiResponse(ErrorSerializer, description="Unknown, or not visible to the user."),
    409: OpenApiResponse(ErrorSerializer, description="Stale title version, or wrong state."),
    413: OpenApiResponse(ErrorSerializer, description="The request body is too large."),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


# --- permissions ------------------------------------------------------------------------


def _roles_holding(permission: str) -> str:
    roles = [role.value for role, perms in ROLE_PERMISSIONS.items() if permission in perms]
    return ", ".join(roles) or "none"


class HoldsRolePermission(BasePermission):
    """Lets a request through when the logged-in user holds the permission the view names
    for the method in ``required_permissions`` (HEAD and OPTIONS as GET, or as the view's
    only method). Roles grant permissions through their groups; the services check the same
    permissions again, so the API is never the only guard."""

    message = "You may not do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if not isinstance(view, RegisterAPIView):
            return False  # a view that names no permission lets nobody through
        required = view.required_permissions
        permission = required.get(request.method or "")
        if permission is None:
            permission = required.get("GET") or next(iter(required.values()))
        if user.has_perm(permission):
            return True
        self.message = (
            f"{user.get_username()} lacks the permission {permission}, "
            f"held by the role(s): {_roles_holding(permission)}"
        )
        return False


class RegisterAPIView(APIView):
    """Base of the register's API views: role permissions and the register's error bodies."""

    permission_classes = [HoldsRolePermission]
    # Applications nest objects (payload, sources), which form encodings cannot express.
    parser_classes = [JSONParser]
    required_permissions: dict[str, str] = {}

    def get_exception_handler(self):
        return register_exception_handler


# --- private queries (no selector answers these yet) -----------------------------------


def _with_act_relations(acts: QuerySet[RegistrationAct]) -> QuerySet[RegistrationAct]:
    return acts.select_related("office", "lodged_by", "examined_by", "decided_by").prefetch_related(
        Prefetch(
            "act_titles",
            queryset=ActTitle.objects.select_related(
                "title__parcel", "title__building", "title__shelter"
            ),
        )
    )


def _title_for(user, title_id: int) -> Title:
    """The title, if the user may see it; 404 alike for unknown and hidden ones."""
    title = titles_visible_to(user=user).filter(pk=title_id).first()
    if title is None:
        raise exceptions.NotFound(f"no title {title_id}")
    return title


def _act_detail(user, act_id: int) -> dict:
    return ActDetailSerializer(_act_for(user, act_id), context={"user": user}).data


def _act_for(user, act_id: int) -> RegistrationAct:
    """The act with everything its detail shows; 404 alike for unknown and hidden ones."""
    acts = _with_act_relations(acts_visible_to(user=user)).select_related("journal")
    acts = acts.prefetch_related(
        # The documents' bytes are never sent back; only their metadata and digest.
        Prefetch("sources", queryset=SourceDocument.objects.defer("content")),
        "certificates",
    )
    act = acts.filter(pk=act_id).first()
    if act is None:
        raise exceptions.NotFound(f"no registration act {act_id}")
    return act


def _parcel_with_code(unit_code: str) -> Parcel | None:
    """The parcel with this unit code at any time (codes are never reused)."""
    return Parcel.objects.select_related("district", "land_use").filter(unit_code=unit_code).first()


def _refuse_missing_parcel(unit_code: str, on: datetime.date) -> NoReturn:
    """Raise 400 for a code that cannot be a unit code, else 404 saying when it existed."""
    known = _parcel_with_code(unit_code)
    if known is None:
        try:
            parse_unit_code(unit_code)
        except DjangoValidationError as error:
            raise exceptions.ValidationError({"unit_code": error.messages}) from error
        raise exceptions.NotFound(f"no parcel has unit code {unit_code}")
    until = f"until {known.valid_to}" if known.valid_to else "to date"
    raise exceptions.NotFound(
        f"parcel {unit_code} did not exist on {on}: it is on the register from "
        f"{known.valid_from} {until}"
    )


def _query(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _body(serializer_class, request: Request, **context) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"request": ["the body must be a JSON object"]})
    serializer = serializer_class(data=request.data, context={"request": request, **context})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- titles -----------------------------------------------------------------------------

TITLE_ID = OpenApiParameter("title_id", OpenApiTypes.INT, OpenApiParameter.PATH)
ACT_ID = OpenApiParameter("act_id", OpenApiTypes.INT, OpenApiParameter.PATH)
UNIT_CODE = OpenApiParameter(
    "unit_code", OpenApiTypes.STR, OpenApiParameter.PATH, description="28-character unit code."
)


class TitleSearchView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_title"}

    @extend_schema(
        tags=["titles"],
        summary="Search titles",
        parameters=[TitleSearchQuerySerializer],
        responses={200: TitleSerializer(many=True), **_errors(400, 403)},
    )
    def get(self, request: Request) -> Response:
        """Titles by unit code, certificate number, current holder, name or address."""
        query = _query(TitleSearchQuerySerializer, request)
        titles = search_titles(query=query.get("q", ""), user=request.user, limit=query["limit"])
        return Response(TitleSerializer(titles, many=True).data)


def _known_at(query: dict) -> datetime.datetime | None:
    """The end of the ``registered_by`` day; None for the register as it stands."""
    return end_of_day(query["registered_by"]) if query.get("registered_by") else None


def _registered_by_detail(query: dict) -> dict:
    """``registered_by`` for a reading's audit detail, when the query gave one."""
    return (
        {"registered_by": query["registered_by"].isoformat()} if query.get("registered_by") else {}
    )


class TitleDetailView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_title"}

    @extend_schema(
        tags=["titles"],
        summary="A title with its rights and holders on a date",
        parameters=[TITLE_ID, TitleQuerySerializer],
        responses={200: TitleOnDateSerializer, **_errors(400, 403, 404)},
    )
    def get(self, request: Request, title_id: int) -> Response:
        """The rights in force and their holders on ``as_of`` (today when omitted), as the
        register stood at the end of ``registered_by`` (as it stands when omitted). Every
        reading is recorded in the audit log."""
        query = _query(TitleQuerySerializer, request)
        on = query.get("as_of") or timezone.localdate()
        known_at = _known_at(query)
        title = _title_for(request.user, title_id)
        body = {
            "title": title,
            "as_of": on,
            "rights": rights_as_of(title=title, on=on, known_at=known_at),
            "holders": holders_as_of(title=title, on=on, known_at=known_at),
        }
        closed = closed_as_registered(title=title, known_at=known_at)
        data = TitleOnDateSerializer(body, context={"closed": closed}).data
        record_audit(
            user=request.user,
            action="read",
            object_type="title",
            object_id=title.pk,
            detail={"as_of": on.isoformat()} | _registered_by_detail(query),
        )
        return Response(data)


class TitleChainView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_title"}

    @extend_schema(
        tags=["titles"],
        summary="The chain of registered acts on a title",
        parameters=[TITLE_ID, RegisteredByQuerySerializer],
        responses={200: TitleChainSerializer, **_errors(400, 403, 404)},
    )
    def get(self, request: Request, title_id: int) -> Response:
        """Every act on the title registered by the end of ``registered_by`` (all of them
        when omitted), first registration first, with the rights each registered and ended.
        Recorded in the audit log as a reading of the title."""
        query = _query(RegisteredByQuerySerializer, request)
        title = _title_for(request.user, title_id)
        known_at = _known_at(query)
        acts = title_chain(title=title, known_at=known_at)
        closed = closed_as_registered(title=title, known_at=known_at)
        data = TitleChainSerializer({"title": title, "acts": acts}, context={"closed": closed}).data
        record_audit(
            user=request.user,
            action="read",
            object_type="title",
            object_id=title.pk,
            detail={"view": "chain"} | _registered_by_detail(query),
        )
        return Response(data)


# --- parcels ----------------------------------------------------------------------------


class ParcelDetailView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_parcel"}

    @extend_schema(
        tags=["parcels"],
        summary="A parcel as a GeoJSON feature",
        parameters=[UNIT_CODE, AsOfQuerySerializer],
        responses={200: ParcelFeatureSerializer, **_errors(400, 403, 404)},
    )
    def get(self, request: Request, unit_code: str) -> Response:
        """The parcel as it was on ``as_of`` (today when omitted); 404 when it did not exist
        then, saying when it did."""
        on = _query(AsOfQuerySerializer, request).get("as_of") or timezone.localdate()
        parcel = parcel_as_of(unit_code=unit_code, on=on)
        if parcel is None:
            _refuse_missing_parcel(unit_code, on)
        return Response(ParcelFeatureSerializer(parcel).data)


class ParcelAtPointView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_parcel"}

    @extend_schema(
        tags=["parcels"],
        summary="The parcel at a point, with its holders",
        parameters=[PointQuerySerializer],
        responses={200: ParcelAtPointSerializer, **_errors(400, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        """The parcel covering the point (longitude, latitude) on ``as_of`` (today when
        omitted), and who held its title's rights then. Holders are given only to roles that
        may read rights; such a reading is recorded in the audit log, as a title's is."""
        query = _query(PointQuerySerializer, request)
        on = query.get("as_of") or timezone.localdate()
        parcel = parcel_at_point(point=Point(query["lon"], query["lat"], srid=4490), as_of=on)
        if parcel is None:
            raise exceptions.NotFound(f"no parcel covers {query['lon']}, {query['lat']} on {on}")
        body = {"as_of": on, "parcel": parcel}
        title = getattr(parcel, "title", None)
        if title is not None and request.user.has_perm("registry.view_right"):
            body["holders"] = holders_as_of(title=title, on=on)
            record_audit(
                user=request.user,
                action="read",
                object_type="title",
                object_id=title.pk,
                detail={"as_of": on.isoformat(), "at": [query["lon"], query["lat"]]},
            )
        return Response(ParcelAtPointSerializer(body).data)


class ParcelLineageView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_parcellineage"}

    @extend_schema(
        tags=["parcels"],
        summary="The parcels a parcel came from and became",
        parameters=[UNIT_CODE, RegisteredByQuerySerializer],
        responses={200: ParcelLineageSerializer, **_errors(400, 403, 404)},
    )
    def get(self, request: Request, unit_code: str) -> Response:
        """Parents (retired by the split or merge that made this parcel) and children (made
        when this one was retired), as GeoJSON feature collections; retired parcels too. With
        ``registered_by``, as the register stood at the end of that day: splits and merges
        registered later are left out, and the ends they gave too; 404 for a parcel recorded
        later."""
        query = _query(RegisteredByQuerySerializer, request)
        known_at = _known_at(query)
        parcel = parcels_as_registered(
            Parcel.objects.select_related("district", "land_use").filter(unit_code=unit_code),
            known_at=known_at,
        ).first()
        if parcel is None:
            recorded = _parcel_with_code(unit_code)
            if recorded is None:
                _refuse_missing_parcel(unit_code, timezone.localdate())
            raise exceptions.NotFound(
                f"parcel {unit_code} was recorded on {timezone.localdate(recorded.recorded_at)}, "
                f"after {query['registered_by']}"
            )
        lineage = parcel_lineage(parcel=parcel, known_at=known_at)
        return Response(ParcelLineageSerializer({"parcel": parcel, **lineage}).data)


# --- registration acts ------------------------------------------------------------------


class ActPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class ActListView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_registrationact", "POST": "registry.lodge_act"}
    pagination_class = ActPagination

    @extend_schema(
        tags=["acts"],
        summary="The queue of registration acts",
        parameters=[ActQueueQuerySerializer],
        responses={200: ActSerializer(many=True), **_errors(400, 403)},
    )
    def get(self, request: Request) -> Response:
        """Acts oldest first, optionally only those in one state (``lodged`` for the
        examiners' queue, ``examined`` for the supervisors')."""
        wanted = _query(ActQueueQuerySerializer, request).get("status")
        acts = acts_visible_to(user=request.user)
        if wanted:
            acts = acts.filter(status=wanted)
        acts = _with_act_relations(acts).order_by("lodged_at", "id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(acts, request, view=self)
        return paginator.get_paginated_response(ActSerializer(page, many=True).data)

    @extend_schema(
        tags=["acts"],
        summary="Lodge an application for registration",
        request=LodgeActSerializer,
        responses={201: ActDetailSerializer, **_errors(400, 403, 409, 413)},
    )
    def post(self, request: Request) -> Response:
        """Lodge an act on titles at the versions the applicant saw. 409 when a title has
        changed since; 400 naming the field or rule for anything else wrong."""
        data = _body(LodgeActSerializer, request, titles=titles_visible_to(user=request.user))
        act = lodge_act(
            act_type=data["act_type"],
            titles=data["titles"],
            payload=data["payload"],
            effective_date=data["effective_date"],
            lodged_by=request.user,
            based_on_versions=data["based_on_versions"],
            sources=data["sources"],
        )
        act = _act_for(request.user, act.pk)
        location = request.build_absolute_uri(reverse("api:act-detail", kwargs={"act_id": act.pk}))
        return Response(
            ActDetailSerializer(act, context={"user": request.user}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class ActDetailView(RegisterAPIView):
    required_permissions = {"GET": "registry.view_registrationact"}

    @extend_schema(
        tags=["acts"],
        summary="A registration act",
        parameters=[ACT_ID],
        responses={200: ActDetailSerializer, **_errors(403, 404)},
    )
    def get(self, request: Request, act_id: int) -> Response:
        return Response(_act_detail(request.user, act_id))


class ActExamineView(RegisterAPIView):
    required_permissions = {"POST": "registry.lodge_act"}

    @extend_schema(
        tags=["acts"],
        summary="Examine a lodged act",
        parameters=[ACT_ID],
        request=ExamineActSerializer,
        responses={200: ActDetailSerializer, **_errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, act_id: int) -> Response:
        """Mark a lodged act examined; the examiner can then not be its approver."""
        act = _act_for(request.user, act_id)
        data = _body(ExamineActSerializer, request)
        examine_act(act=act, examiner=request.user, note=data["note"])
        return Response(_act_detail(request.user, act_id))


class ActApproveView(RegisterAPIView):
    required_permissions = {"POST": "registry.decide_act"}

    @extend_schema(
        tags=["acts"],
        summary="Approve and register an examined act",
        parameters=[ACT_ID],
        request=None,
        responses={200: ActDetailSerializer, **_errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, act_id: int) -> Response:
        """Check the act against the register as it now is, register it, seal it in the
        journal and issue its certificates. 409 when a title changed since lodging (nothing
        is changed), 403 when the approver examined it, 400 naming the rule it breaks."""
        act = _act_for(request.user, act_id)
        approve_act(act=act, approver=request.user)
        return Response(_act_detail(request.user, act_id))


class ActRejectView(RegisterAPIView):
    required_permissions = {"POST": "registry.decide_act"}

    @extend_schema(
        tags=["acts"],
        summary="Reject an examined act",
        parameters=[ACT_ID],
        request=RejectActSerializer,
        responses={200: ActDetailSerializer, **_errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, act_id: int) -> Response:
        """Refuse registration, giving the reason; no title changes."""
        act = _act_for(request.user, act_id)
        data = _body(RejectActSerializer, request)
        reject_act(act=act, decider=request.user, reason=data["reason"])
        return Response(_act_detail(request.user, act_id))
