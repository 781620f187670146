"""casebot's extension that makes moto's Support backend behave like AWS's.

moto 5.2.1's Support model is a toy (statuses and severities cycle on every DescribeCases,
ResolveCase stores nothing, the display id is a constant, unknown case ids raise HTML 500s, and
DescribeServices, DescribeSeverityLevels, AddCommunicationToCase, DescribeCommunications and
DescribeCreateCaseOptions are missing). `install()` replaces the backend's case operations and
adds the missing ones, before moto's server starts, so the real aws-sdk-support client talks to
a realistic Support API over the wire:

- CreateCase validates like AWS (subject, body 1-8000 characters, at most 10 CC, severity code,
  service and category codes from the catalogue shared with the Rust sandbox) and returns a case
  id in AWS's format; every case gets a numeric display id and starts `opened`.
- DescribeCases never changes anything; it filters by caseIdList (unknown id: CaseIdNotFound,
  HTTP 400 JSON), displayId, includeResolvedCases, and pages newest first with maxResults and
  nextToken; recentCommunications holds the five newest.
- ResolveCase stores `resolved` and reports the status before.
- AddCommunicationToCase appends; a reply to a resolved case reopens it (`reopened`), a reply to
  `pending-customer-action` makes it `customer-action-completed`.
- DescribeCommunications pages newest first (maxResults 10-100, nextToken).
- DescribeServices (with serviceCodeList), DescribeSeverityLevels and DescribeCreateCaseOptions
  answer with AWS's shapes.
- POST /casebot/support/engineer-reply {"caseId": ..., "body": ...} adds an AWS engineer
  communication and sets `pending-customer-action`, so tests can play AWS's side.
- DescribeSupportedLanguages answers zh, en, ja and ko (the languages botocore documents) for
  any known service and category.
- Every operation honours `dryRun` like AWS: DryRunOperationException when the call would be
  allowed.
- POST /casebot/support/account {"plan": "basic", "deny": ["CreateCase"]} plays an account
  without a Business plan (SubscriptionRequiredException on every operation) or an IAM policy
  that denies some operations (AccessDeniedException); {} restores the default.
- GET /casebot/support/calls answers how many times each Support operation was called, and
  POST /casebot/support/calls resets the counts, so tests can hold the watcher to its budget.
"""

import datetime
import json
import os
import random
import threading

from moto.core.exceptions import JsonRESTError
from moto.support import models as support_models
from moto.support.responses import SupportResponse

CATALOGUE_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "support-commands", "data", "services.json"
)
SEVERITIES = ["low", "normal", "high", "urgent", "critical"]
SEVERITY_NAMES = {
    "en": ["General guidance", "System impaired", "Production system impaired", "Production system down", "Business-critical system down"],
    "zh": ["一般性指导", "系统受损", "生产系统受损", "生产系统停机", "业务关键型系统停机"],
}
LANGUAGES = ["zh", "en", "ja", "ko", "es", "pt", "fr", "tr"]
AWS_ENGINEER = "Amazon Web Services"
CUSTOMER = "CaseBotRole (Role)"
_lock = threading.Lock()


def _catalogue():
    with open(CATALOGUE_PATH, encoding="utf-8") as f:
        return json.load(f)["services"]


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _invalid(message):
    return JsonRESTError("InvalidParameterValueException", message)


def _not_found(case_id):
    return JsonRESTError("CaseIdNotFound", f"Case {case_id} not found")


def _page(items, next_token, max_results, default_size):
    try:
        start = int(next_token.removeprefix("tok-")) if next_token else 0
    except ValueError:
        raise _invalid(f"Invalid nextToken {next_token}")
    size = default_size if max_results is None else int(max_results)
    if not 10 <= size <= 100:
        raise _invalid("maxResults must be between 10 and 100")
    end = start + size
    return items[start:end], (f"tok-{end}" if end < len(items) else None)


class _Case:
    def __init__(self, backend, **kw):
        backend.casebot_counter += 1
        n = backend.casebot_counter
        language = kw["language"] or "en"
        year = datetime.datetime.now(datetime.timezone.utc).year
        self.case_id = f"case-{backend.account_id}-mu{language[:2]}-{year}-{random.getrandbits(64):016x}"
        self.display_id = str(1760000000 + n)
        self.subject = kw["subject"]
        self.service_code = kw["service_code"]
        self.category_code = kw["category_code"]
        self.severity_code = kw["severity_code"] or "low"
        self.language = language
        self.cc = kw["cc"] or []
        self.status = "opened"
        self.time_created = _now()
        self.order = n
        self.communications = [self._comm(kw["body"], CUSTOMER)]

    def _comm(self, body, who):
        return {"caseId": self.case_id, "body": body, "submittedBy": who, "timeCreated": _now(), "attachmentSet": []}

    def newest_first(self):
        return list(reversed(self.communications))

    def shape(self, include_communications):
        out = {
            "caseId": self.case_id,
            "displayId": self.display_id,
            "subject": self.subject,
            "status": self.status,
            "serviceCode": self.service_code,
            "categoryCode": self.category_code,
            "severityCode": self.severity_code,
            "submittedBy": CUSTOMER,
            "timeCreated": self.time_created,
            "ccEmailAddresses": self.cc,
            "language": self.language,
        }
        if include_communications:
            comms = self.newest_first()
            out["recentCommunications"] = {
                "communications": comms[:5],
                **({"nextToken": "tok-5"} if len(comms) > 5 else {}),
            }
        return out


def _check_body(body, cc):
    if body is None or not str(body).strip() or len(body) > 8000:
        raise _invalid("communicationBody must have between 1 and 8000 characters")
    if cc and len(cc) > 10:
        raise _invalid("ccEmailAddresses must have at most 10 entries")


# --- backend ---------------------------------------------------------------------------------

def _cases(self):
    if not hasattr(self, "casebot_cases"):
        self.casebot_cases = {}
        self.casebot_counter = 0
    return self.casebot_cases


def _find(self, case_id):
    case = _cases(self).get(case_id)
    if case is None:
        raise _not_found(case_id)
    return case


def create_case(self, subject, service_code, severity_code, category_code, communication_body,
                cc_email_addresses, language, attachment_set_id, issue_type=None):
    if not subject or not subject.strip():
        raise _invalid("subject is required")
    _check_body(communication_body, cc_email_addresses)
    if severity_code is not None and severity_code not in SEVERITIES:
        raise _invalid(f"Invalid severityCode {severity_code}")
    if language is not None and language not in LANGUAGES:
        raise _invalid(f"Invalid language {language}")
    if issue_type is not None and issue_type not in ("technical", "customer-service"):
        raise _invalid(f"Invalid issueType {issue_type}")
    if service_code is not None:
        service = next((s for s in _catalogue() if s["code"] == service_code), None)
        if service is None:
            raise _invalid(f"Invalid serviceCode {service_code}")
        if category_code is not None and category_code not in [c["code"] for c in service["categories"]]:
            raise _invalid(f"Invalid categoryCode {category_code} for serviceCode {service_code}")
    with _lock:
        _cases(self)
        case = _Case(self, subject=subject, service_code=service_code, category_code=category_code,
                     severity_code=severity_code, language=language, cc=cc_email_addresses, body=communication_body)
        self.casebot_cases[case.case_id] = case
    return {"caseId": case.case_id}


def describe_cases(self, case_id_list, include_resolved_cases, next_token, include_communications,
                   display_id=None, max_results=None):
    cases = _cases(self)
    if case_id_list:
        selected = [_find(self, cid) for cid in case_id_list]
    else:
        selected = sorted(cases.values(), key=lambda c: c.order, reverse=True)
    if display_id:
        selected = [c for c in selected if c.display_id == display_id]
    if not include_resolved_cases:
        selected = [c for c in selected if c.status != "resolved"]
    page, token = _page(selected, next_token, max_results, 100)
    out = {"cases": [c.shape(include_communications) for c in page]}
    if token:
        out["nextToken"] = token
    return out


def resolve_case(self, case_id):
    case = _find(self, case_id)
    initial, case.status = case.status, "resolved"
    return {"initialCaseStatus": initial, "finalCaseStatus": "resolved"}


def add_communication_to_case(self, case_id, body, cc):
    _check_body(body, cc)
    case = _find(self, case_id)
    case.communications.append(case._comm(body, CUSTOMER))
    if case.status == "resolved":
        case.status = "reopened"
    elif case.status == "pending-customer-action":
        case.status = "customer-action-completed"
    return {"result": True}


def engineer_reply(self, case_id, body):
    case = _find(self, case_id)
    case.communications.append(case._comm(body, AWS_ENGINEER))
    if case.status != "resolved":
        case.status = "pending-customer-action"


def describe_communications(self, case_id, next_token, max_results):
    case = _find(self, case_id)
    page, token = _page(case.newest_first(), next_token, max_results, 10)
    out = {"communications": page}
    if token:
        out["nextToken"] = token
    return out


def describe_services(self, service_code_list, language):
    services = _catalogue()
    if service_code_list:
        services = [s for s in services if s["code"] in service_code_list]
    return {"services": [{"code": s["code"], "name": s["name"], "categories": s["categories"]} for s in services]}


def describe_severity_levels(self, language):
    names = SEVERITY_NAMES["zh" if language == "zh" else "en"]
    return {"severityLevels": [{"code": c, "name": n} for c, n in zip(SEVERITIES, names)]}


# --- responses -------------------------------------------------------------------------------

# Support API calls by operation (GET /casebot/support/calls).
CALLS = {}


# The account as POST /casebot/support/account set it: its plan and the operations IAM denies.
ACCOUNT = {"plan": "business", "deny": []}


def _operation(name):
    return "".join(part.capitalize() for part in name.split("_"))


def counted(name, fn):
    def wrapper(self):
        with _lock:
            CALLS[name] = CALLS.get(name, 0) + 1
            plan, deny = ACCOUNT["plan"], list(ACCOUNT["deny"])
        operation = _operation(name)
        if operation in deny:
            raise JsonRESTError("AccessDeniedException",
                                f"User: arn:aws:sts::123456789012:assumed-role/CaseBotRole/test is not authorized "
                                f"to perform: support:{operation}")
        if plan not in ("business", "enterprise"):
            raise JsonRESTError("SubscriptionRequiredException",
                                "AWS Premium Support Subscription is required to use this service.")
        if self._get_param("dryRun"):
            raise JsonRESTError("DryRunOperationException",
                                "Request would have succeeded, but DryRun flag is set.")
        return fn(self)
    return wrapper


# Seconds CreateCase waits before it answers (POST /casebot/support/delay): a slow AWS.
DELAY = {"CreateCase": 0.0}


def r_create_case(self):
    import time
    time.sleep(DELAY["CreateCase"])
    p = self._get_param
    return json.dumps(self.support_backend.create_case(
        subject=p("subject"), service_code=p("serviceCode"), severity_code=p("severityCode"),
        category_code=p("categoryCode"), communication_body=p("communicationBody"),
        cc_email_addresses=p("ccEmailAddresses"), language=p("language"),
        attachment_set_id=p("attachmentSetId"), issue_type=p("issueType")))


def r_describe_cases(self):
    p = self._get_param
    return json.dumps(self.support_backend.describe_cases(
        case_id_list=p("caseIdList"), include_resolved_cases=p("includeResolvedCases", False),
        next_token=p("nextToken"), include_communications=p("includeCommunications", True),
        display_id=p("displayId"), max_results=p("maxResults")))


def r_resolve_case(self):
    return json.dumps(self.support_backend.resolve_case(case_id=self._get_param("caseId")))


def r_add_communication_to_case(self):
    p = self._get_param
    return json.dumps(self.support_backend.add_communication_to_case(
        case_id=p("caseId"), body=p("communicationBody"), cc=p("ccEmailAddresses")))


def r_describe_communications(self):
    p = self._get_param
    return json.dumps(self.support_backend.describe_communications(
        case_id=p("caseId"), next_token=p("nextToken"), max_results=p("maxResults")))


def r_describe_services(self):
    p = self._get_param
    return json.dumps(self.support_backend.describe_services(p("serviceCodeList"), p("language")))


def r_describe_severity_levels(self):
    return json.dumps(self.support_backend.describe_severity_levels(self._get_param("language")))


def r_describe_supported_languages(self):
    p = self._get_param
    service_code, category_code = p("serviceCode"), p("categoryCode")
    service = next((s for s in _catalogue() if s["code"] == service_code), None)
    if service is None or category_code not in [c["code"] for c in service["categories"]]:
        raise _invalid(f"Invalid serviceCode {service_code} or categoryCode {category_code}")
    names = {"zh": "Chinese", "en": "English", "ja": "Japanese", "ko": "Korean"}
    return json.dumps({"supportedLanguages": [
        {"code": code, "language": name, "display": name} for code, name in names.items()]})


def r_describe_create_case_options(self):
    return json.dumps({
        "languageAvailability": "available",
        "communicationTypes": [
            {"type": "web", "supportedHours": [{"startTime": "00:00", "endTime": "23:59"}], "datesWithoutSupport": []},
            {"type": "chat", "supportedHours": [{"startTime": "00:00", "endTime": "23:59"}], "datesWithoutSupport": []},
        ],
    })


def wrap(app):
    """WSGI middleware: POST /casebot/support/engineer-reply {"caseId", "body"} plays AWS's side;
    POST /casebot/support/delay {"operation": "CreateCase", "seconds": 12} makes AWS slow."""
    from werkzeug.wrappers import Request, Response

    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO")
        if path == "/casebot/support/calls":
            if environ.get("REQUEST_METHOD") == "POST":
                with _lock:
                    CALLS.clear()
            with _lock:
                body = json.dumps(CALLS)
            return Response(body, status=200, content_type="application/json")(environ, start_response)
        if path == "/casebot/support/account":
            data = json.loads(Request(environ).get_data() or b"{}")
            with _lock:
                ACCOUNT["plan"] = data.get("plan", "business")
                ACCOUNT["deny"] = list(data.get("deny", []))
            return Response(json.dumps({"status": "ok"}), status=200,
                            content_type="application/json")(environ, start_response)
        if path == "/casebot/support/delay":
            data = json.loads(Request(environ).get_data() or b"{}")
            DELAY[data.get("operation", "CreateCase")] = float(data.get("seconds", 0))
            return Response(json.dumps({"status": "ok"}), status=200,
                            content_type="application/json")(environ, start_response)
        if path != "/casebot/support/engineer-reply":
            return app(environ, start_response)
        request = Request(environ)
        data = json.loads(request.get_data() or b"{}")
        backend = support_models.support_backends[data.get("accountId", "123456789012")]["us-east-1"]
        try:
            engineer_reply(backend, data["caseId"], data.get("body", "Hello from AWS Support (moto)"))
            response = Response(json.dumps({"status": "ok"}), status=200, content_type="application/json")
        except (JsonRESTError, KeyError) as err:
            response = Response(json.dumps({"error": str(err)}), status=400, content_type="application/json")
        return response(environ, start_response)

    return wrapped


def install():
    """Patches moto's Support backend and responses (before the server starts)."""
    backend = support_models.SupportBackend
    for name, fn in [("create_case", create_case), ("describe_cases", describe_cases), ("resolve_case", resolve_case),
                     ("add_communication_to_case", add_communication_to_case),
                     ("describe_communications", describe_communications), ("describe_services", describe_services),
                     ("describe_severity_levels", describe_severity_levels)]:
        setattr(backend, name, fn)
    for name, fn in [("create_case", r_create_case), ("describe_cases", r_describe_cases), ("resolve_case", r_resolve_case),
                     ("add_communication_to_case", r_add_communication_to_case),
                     ("describe_communications", r_describe_communications), ("describe_services", r_describe_services),
                     ("describe_severity_levels", r_describe_severity_levels),
                     ("describe_create_case_options", r_describe_create_case_options),
                     ("describe_supported_languages", r_describe_supported_languages)]:
        setattr(SupportResponse, name, counted(name, fn))
