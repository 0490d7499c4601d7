"""The registrar's desk (/registry/) and the public certificate check (/verify/).

Views are thin: they check the role, parse the form, call one service or selector and
render. Every refusal of the register reaches the user as a message naming the rule and the
title; nothing here writes to the register but the services.
"""

import datetime
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_http_methods

from registry.application_text import application_rows
from registry.documents import certificate_pdf, title_extract_pdf
from registry.errors import RegisterError
from registry.forms import LODGE_FORMS, CertificateCheckForm, DecisionForm
from registry.models import (
    ActStatus,
    ActType,
    Certificate,
    Parcel,
    SourceDocument,
)
from registry.outline import outline_svg
from registry.selectors import (
    act_queues,
    acts_visible_to,
    audit_events_visible_to,
    certificate_matching,
    certificates_of,
    closed_as_registered,
    end_of_day,
    parcel_lineage,
    payload_shown_to,
    rights_as_of,
    search_titles,
    title_chain,
    titles_visible_to,
)
from registry.services.acts import approve_act, examine_act, lodge_act, record_audit, reject_act
from registry.services.journal import verify_journal

view_titles = permission_required("registry.view_title", raise_exception=True)
# A title's acts and their deeds are the registrars', supervisors' and auditors': a planner
# reads the title, not the applications behind it.
view_acts = permission_required("registry.view_registrationact", raise_exception=True)
AUDIT_EVENTS_PER_PAGE = 100
# What the audit log calls the actions and the kinds of object it records, in the reader's
# language. The codes stay in the page's markup; a code not named here is shown as it is.
AUDIT_ACTIONS = {
    "read": pgettext_lazy("audit action", "read"),
    "export": pgettext_lazy("audit action", "exported"),
    "import": pgettext_lazy("audit action", "imported"),
    "lodge": pgettext_lazy("audit action", "lodged"),
    "examine": pgettext_lazy("audit action", "examined"),
    "approve": pgettext_lazy("audit action", "approved"),
    "reject": pgettext_lazy("audit action", "rejected"),
    "verify": pgettext_lazy("audit action", "verified"),
    "inspect_shelter": pgettext_lazy("audit action", "recorded an inspection"),
    "lodge_plan": pgettext_lazy("audit action", "lodged a plan"),
}
AUDIT_OBJECTS = {
    "act": pgettext_lazy("audit object", "act"),
    "title": pgettext_lazy("audit object", "title"),
    "certificate": pgettext_lazy("audit object", "certificate"),
    "shelter": pgettext_lazy("audit object", "shelter"),
    "source": pgettext_lazy("audit object", "source document"),
    "space_plan": pgettext_lazy("audit object", "space plan"),
}
view_sources = permission_required("registry.view_sourcedocument", raise_exception=True)
PERMISSION_OF_DECISION = {
    "examine": "registry.lodge_act",
    "approve": "registry.decide_act",
    "reject": "registry.decide_act",
}


def _as_of(request) -> datetime.date:
    text = request.GET.get("as_of", "")
    try:
        return datetime.date.fromisoformat(text) if text else datetime.date.today()
    except ValueError:
        messages.error(
            request, _("“%(text)s” is not a date (YYYY-MM-DD); showing today.") % {"text": text}
        )
        return datetime.date.today()


def _registered_by(request) -> tuple[datetime.date | None, datetime.datetime | None]:
    """``registered_by``: the register as it stood at the end of that day (its recording
    time), beside the legal date of ``as_of``; (None, None) for the register as it stands."""
    text = request.GET.get("registered_by", "")
    if not text:
        return None, None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        messages.error(
            request,
            _("“%(text)s” is not a date (YYYY-MM-DD); showing the register as it stands.")
            % {"text": text},
        )
        return None, None
    return day, end_of_day(day)


@login_required
@view_titles
def desk(request):
    query = request.GET.get("q", "")
    return render(
        request,
        "registry/desk.html",
        {
            "query": query,
            "results": search_titles(query=query, user=request.user) if query else [],
            "queues": act_queues(user=request.user),
        },
    )


def _neighbours(parcel: Parcel) -> list:
    nearby = Parcel.objects.filter(
        valid_to__isnull=True, geom__dwithin=(parcel.geom, 0.0015)
    ).exclude(pk=parcel.pk)
    return [other.geom for other in nearby[:40]]


@login_required
@view_titles
def title_detail(request, pk: int):
    title = get_object_or_404(
        titles_visible_to(user=request.user).select_related("parcel__land_use", "parcel__district"),
        pk=pk,
    )
    on = _as_of(request)
    registered_by, known_at = _registered_by(request)
    record_audit(
        user=request.user,
        action="read",
        object_type="title",
        object_id=title.pk,
        detail={"as_of": on.isoformat()}
        | ({"registered_by": registered_by.isoformat()} if registered_by else {}),
    )
    parcel = title.parcel
    return render(
        request,
        "registry/title.html",
        {
            "title": title,
            "parcel": parcel,
            "on": on,
            "registered_by": registered_by,
            "closed": closed_as_registered(title=title, known_at=known_at),
            "rights": rights_as_of(title=title, on=on, known_at=known_at),
            "chain": title_chain(title=title, known_at=known_at),
            "lineage": parcel_lineage(parcel=parcel, known_at=known_at) if parcel else None,
            "certificates": certificates_of(title=title, known_at=known_at),
            "outline": outline_svg(parcel.geom, neighbours=_neighbours(parcel)) if parcel else "",
            "act_types": [
                (key, _("change of use 转变用途") if key == "change_of_use" else act_type.label)
                for key, (act_type, _form) in LODGE_FORMS.items()
            ],
            "can_lodge": request.user.has_perm("registry.lodge_act") and title.is_open,
        },
    )


@login_required
@permission_required("registry.lodge_act", raise_exception=True)
@require_http_methods(["GET", "POST"])
def lodge(request, pk: int, act_type: str):
    title = get_object_or_404(titles_visible_to(user=request.user), pk=pk)
    if act_type not in LODGE_FORMS:
        raise Http404("unknown act type")
    act_type, form_class = LODGE_FORMS[act_type]
    if request.method == "POST":
        form = form_class(request.POST, request.FILES, title=title)
        if form.is_valid():
            titles = [title, *form.cleaned_data.get("others", [])]
            versions = {title.pk: form.cleaned_data["based_on_version"]}
            try:
                act = lodge_act(
                    act_type=act_type,
                    titles=titles,
                    payload=form.payload(),
                    effective_date=form.cleaned_data["effective_date"],
                    lodged_by=request.user,
                    based_on_versions=versions,
                    sources=form.sources_list(),
                )
            except RegisterError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("Act %(number)s lodged.") % {"number": act.number})
                return redirect("registry:act", pk=act.pk)
    else:
        form = form_class(
            title=title,
            initial={"based_on_version": title.version, "effective_date": datetime.date.today()},
        )
    return render(
        request,
        "registry/lodge.html",
        {"title": title, "form": form, "act_type": ActType(act_type)},
    )


@login_required
@view_acts
@require_http_methods(["GET", "POST"])
def act_detail(request, pk: int):
    act = get_object_or_404(
        acts_visible_to(user=request.user).select_related(
            "lodged_by", "examined_by", "decided_by", "office"
        ),
        pk=pk,
    )
    if request.method == "POST":
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose examine, approve or reject."))
            return redirect("registry:act", pk=act.pk)
        action, note = form.cleaned_data["action"], form.cleaned_data["note"]
        if not request.user.has_perm(PERMISSION_OF_DECISION[action]):
            raise PermissionDenied
        try:
            if action == "examine":
                examine_act(act=act, examiner=request.user, note=note)
            elif action == "approve":
                approve_act(act=act, approver=request.user)
            else:
                reject_act(act=act, decider=request.user, reason=note)
        except RegisterError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("Act %(number)s: %(action)s done.") % {"number": act.number, "action": action},
            )
        return redirect("registry:act", pk=act.pk)
    user = request.user
    payload = payload_shown_to(act=act, user=user)
    return render(
        request,
        "registry/act.html",
        {
            "act": act,
            "application": application_rows(payload),
            "payload_json": json.dumps(payload, ensure_ascii=False, indent=1),
            "titles": act.act_titles.select_related("title__parcel"),
            "sources": act.sources.defer("content"),
            "certificates": act.certificates.all(),
            "journal": getattr(act, "journal", None),
            "can_examine": act.status == ActStatus.LODGED and user.has_perm("registry.lodge_act"),
            "can_decide": act.status == ActStatus.EXAMINED
            and user.has_perm("registry.decide_act")
            and act.examined_by_id != user.pk,
        },
    )


@login_required
@view_sources
def source_download(request, pk: int, source_pk: int):
    source = get_object_or_404(
        SourceDocument, pk=source_pk, act__in=acts_visible_to(user=request.user), act_id=pk
    )
    record_audit(user=request.user, action="export", object_type="source", object_id=source.pk)
    response = HttpResponse(
        bytes(source.content), content_type=source.content_type or "application/octet-stream"
    )
    response["Content-Disposition"] = f'attachment; filename="{source.file_name}"'
    return response


def _visible_certificate(request, pk: int) -> Certificate:
    return get_object_or_404(
        Certificate.objects.select_related("right__title__parcel", "act").filter(
            right__title__in=titles_visible_to(user=request.user)
        ),
        pk=pk,
    )


def _certificate_context(certificate: Certificate) -> dict:
    title, right = certificate.right.title, certificate.right
    return {
        "certificate": certificate,
        "title": title,
        # The holders the certificate was issued to: those of the right it certifies.
        "holders": [
            {"party": share.party.name, "share": f"{share.share_parts}/{right.share_denominator}"}
            for share in right.shares.select_related("party")
        ],
        "outline": outline_svg(title.parcel.geom, size_px=260) if title.parcel else "",
    }


@login_required
@view_titles
def certificate_detail(request, pk: int):
    certificate = _visible_certificate(request, pk)
    record_audit(
        user=request.user, action="read", object_type="certificate", object_id=certificate.number
    )
    return render(request, "registry/certificate.html", _certificate_context(certificate))


@login_required
@view_titles
def certificate_download(request, pk: int):
    certificate = _visible_certificate(request, pk)
    record_audit(
        user=request.user, action="export", object_type="certificate", object_id=certificate.number
    )
    context = _certificate_context(certificate)
    pdf = certificate_pdf(
        certificate=certificate, title=context["title"], holders=context["holders"]
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="certificate-{certificate.pk}.pdf"'
    return response


@login_required
@view_titles
def title_extract(request, pk: int):
    title = get_object_or_404(
        titles_visible_to(user=request.user).select_related("parcel__land_use"), pk=pk
    )
    on = _as_of(request)
    record_audit(
        user=request.user,
        action="export",
        object_type="title",
        object_id=title.pk,
        detail={"as_of": on.isoformat(), "format": request.GET.get("format", "html")},
    )
    rights, chain = rights_as_of(title=title, on=on), title_chain(title=title)
    if request.GET.get("format") == "pdf":
        response = HttpResponse(
            title_extract_pdf(title=title, rights=rights, chain=chain, on=on),
            content_type="application/pdf",
        )
        response["Content-Disposition"] = f'inline; filename="title-{title.pk}-{on}.pdf"'
        return response
    return render(
        request,
        "registry/extract.html",
        {
            "title": title,
            "on": on,
            "rights": rights,
            "chain": chain,
            "outline": outline_svg(title.parcel.geom, size_px=220) if title.parcel else "",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def audit_log(request):
    if not request.user.has_perm("registry.view_auditevent"):
        raise PermissionDenied
    check = verify_journal() if request.method == "POST" else None
    events = audit_events_visible_to(user=request.user).select_related("user")
    if request.GET.get("user"):
        events = events.filter(user__username=request.GET["user"])
    if request.GET.get("object"):
        events = events.filter(object_id=request.GET["object"])
    # Newest first, a page at a time; a page number out of range shows the nearest page.
    page = Paginator(events, AUDIT_EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    for event in page:
        event.action_label = AUDIT_ACTIONS.get(event.action, event.action)
        event.object_label = AUDIT_OBJECTS.get(event.object_type, event.object_type)
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(
        request,
        "registry/audit.html",
        {"page": page, "filters": filters.urlencode(), "check": check},
    )


@require_http_methods(["GET", "POST"])
def verify_certificate(request):
    """Public: does a certificate number and hash match the register? Nothing else is shown."""
    form = CertificateCheckForm(request.POST or None)
    outcome = None
    if request.method == "POST" and form.is_valid():
        certificate = certificate_matching(
            number=form.cleaned_data["number"], journal_hash=form.cleaned_data["journal_hash"]
        )
        outcome = {"matches": certificate is not None, "certificate": certificate}
        record_audit(
            user=request.user,
            action="verify",
            object_type="certificate",
            object_id=form.cleaned_data["number"][:64],
            detail={"matches": outcome["matches"]},
        )
    return render(request, "registry/verify.html", {"form": form, "outcome": outcome})
