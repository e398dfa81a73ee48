"""The REST kernel: token authentication, one transaction per request, typed errors to HTTP,
ETags, idempotency keys, allow-listed sorting/filtering/pagination, and the OpenAPI document.

Addons declare endpoints on an ``ApiBlueprint``:

    bp = ApiBlueprint("sale_api", __name__, url_prefix="/api/v1")

    @bp.endpoint("/customers", methods=["POST"], body=CustomerSchema, response=CustomerSchema,
                 status=201, summary="Create a customer", tag="customers")
    def create_customer(env, data):
        return env.create("sale.customer", **data)

The view receives the request's ``Env`` and the validated body; what it returns is dumped with
``response``. Errors: 401 unauthenticated, 403 forbidden, 404 missing or hidden, 409 refused
transition (every reason) or conflict, 412 stale ``If-Match``, 422 invalid input (per field).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, g, jsonify, request
from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as MarshmallowError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from core.db import INT_MAX, fits_int_column
from core.errors import (
    AccessDenied,
    AuthenticationError,
    ConflictError,
    ImmutableRecord,
    NotFound,
    StaleRecord,
    TransitionBlocked,
    Unavailable,
    ValidationError,
)
from core.security import ApiToken, token_digest

API_PREFIX = "/api/v1"
MAX_PAGE_SIZE = 200
#: most records one batch request may act on (one transaction; bigger imports go in parts)
BATCH_MAX = 500


@dataclass
class EndpointDoc:
    rule: str
    methods: list[str]
    summary: str
    tag: str
    body: type[Schema] | None
    response: type[Schema] | None
    many: bool
    status: int
    query: dict[str, str] = field(default_factory=dict)
    public: bool = False
    #: media type of a non-JSON success body (e.g. ``application/pdf``)
    produces: str | None = None


class ApiBlueprint(Blueprint):
    """A Flask blueprint whose endpoints run in a transaction and are listed in OpenAPI."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.docs: list[EndpointDoc] = []

    def endpoint(self, rule: str, *, methods: list[str] = ("GET",), summary: str = "",
                 tag: str = "", body: type[Schema] | None = None,
                 response: type[Schema] | None = None, many: bool = False, status: int = 200,
                 idempotent: bool = False, public: bool = False, query: dict[str, str] | None = None,
                 partial_body: bool = False, produces: str | None = None):
        methods = list(methods)
        readonly = methods == ["GET"]

        def decorate(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(**kwargs):
                sf = current_app.extensions["salesflow"]
                credential = None if public else authenticate(sf)
                # identification happens as the transaction opens: 401 comes before 422
                with sf.transaction(user=credential, readonly=readonly) as env:
                    g.env = env
                    refuse_unstorable({name: values[0] if len(values) == 1 else values
                                       for name, values in request.args.lists()})
                    refuse_unstorable({k: v for k, v in kwargs.items() if isinstance(v, str)})
                    # a body is checked even where none is expected: garbage is a 422
                    data = _load_body(body, partial_body) if body is not None else json_body()
                    key = request.headers.get("Idempotency-Key") if idempotent else None
                    if key:
                        replay = _idempotency_lookup(env, key)
                        if replay is not None:
                            return replay
                    args = (env, data) if body is not None else (env,)
                    result = view(*args, **kwargs)
                    response_obj = _make_response(result, response, many, status)
                    if key:
                        _idempotency_store(env, key, response_obj)
                return response_obj

            self.add_url_rule(rule, view_func=wrapper, methods=methods)
            self.docs.append(EndpointDoc(rule=(self.url_prefix or "") + rule, methods=methods,
                                         summary=summary or (view.__doc__ or "").strip().split("\n")[0],
                                         tag=tag or self.name, body=body, response=response,
                                         many=many, status=status, query=query or {},
                                         public=public, produces=produces))
            return wrapper

        return decorate


@functools.cache
def _schema(cls: type[Schema], many: bool = False) -> Schema:
    """One instance per schema class (and ``many``): building one deep-copies its declared
    fields, and marshmallow schemas keep no state between ``load``/``dump`` calls."""
    return cls(many=many)


def json_body() -> Any:
    """The request's JSON body, ``None`` when none was sent. A body that is sent but is not
    JSON is a 422, never taken for "no body": the request would then do something else than
    asked (e.g. post an invoice on today's date instead of the one given)."""
    raw = request.get_data(cache=True)
    if not raw:
        return None
    if not request.is_json:
        raise ValidationError({"_body": ["send the body as JSON (Content-Type: application/json)"]})
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValidationError({"_body": [f"not valid JSON: {exc}"]}) from None
    refuse_unstorable(payload)
    return payload


def json_object() -> dict:
    """The request's JSON body as an object, ``{}`` when none was sent (an action's optional
    body); anything but an object is a 422."""
    payload = json_body()
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ValidationError({"_body": ["expected a JSON object"]})
    return payload


def _load_body(body: type[Schema], partial: bool) -> Any:
    payload = json_body()
    if not isinstance(payload, dict):
        raise ValidationError({"_body": ["expected a JSON object"]})
    return load_object(body, payload, partial=partial)


def load_object(schema: type[Schema], payload: dict, *, partial: bool = False) -> Any:
    """``payload`` validated by ``schema``: 422 per field."""
    try:
        data = _schema(schema).load(payload, partial=partial)
    except MarshmallowError as exc:
        raise ValidationError(_as_field_errors(exc.messages)) from exc
    refuse_unstorable(data)  # what fields made of the text: numbers, dates
    return data


def _day(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def refuse_unstorable(value: Any, where: str = "") -> None:
    """422 naming each field of ``value`` (a JSON body, loaded data, a query parameter) that no
    column can store: a NUL character in a text (PostgreSQL refuses it in any statement, even
    a filter: a 500), a whole number beyond the database's integer (an overflow: a 500) or a
    date outside DATE_MIN..DATE_MAX (date arithmetic overflows: a 500)."""
    errors: dict[str, list[str]] = {}
    stack = [(where, value)]
    while stack:  # not recursive: a body may nest deeper than Python's recursion limit
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                errors.setdefault(path or "_body", []).append("must not contain a NUL character")
        elif isinstance(item, dt.date) and not DATE_MIN <= _day(item) <= DATE_MAX:
            errors.setdefault(path or "_body", []).append(
                f"out of range ({DATE_MIN}..{DATE_MAX})")
        elif isinstance(item, int) and not isinstance(item, bool):
            if not fits_int_column(item):
                errors.setdefault(path or "_body", []).append(
                    f"out of range: at most {INT_MAX} in absolute value")
        elif isinstance(item, dict):
            for k, v in item.items():
                key = f"{path}.{k}" if path else str(k)
                stack.extend([(key, k), (key, v)])  # the key is text stored or looked up too
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(item))
    if errors:
        raise ValidationError(errors)


#: the dates the API accepts: far enough from ``date.min``/``date.max`` that date arithmetic
#: (ageing buckets, due dates, periods) cannot overflow (an OverflowError: a 500)
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(9000, 12, 31)


def iso_date(value: str) -> dt.date:
    """A date from a query string (YYYY-MM-DD, DATE_MIN..DATE_MAX): ``ValueError`` says why,
    the caller names the parameter."""
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    if not DATE_MIN <= date <= DATE_MAX:
        raise ValueError(f"{value!r} is out of range ({DATE_MIN}..{DATE_MAX})")
    return date


def whole_number(value: str, *, minimum: int = -INT_MAX - 1, maximum: int = INT_MAX) -> int:
    """A whole number from a query string (an id filter, a page): ``ValueError`` says why, the
    caller names the parameter (``paginate`` does). The default range is the database's
    integer: a bigger number would overflow in the statement (a 500)."""
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if not minimum <= number <= maximum:
        raise ValueError(f"{number} is out of range ({minimum}..{maximum})")
    return number


def _make_response(result: Any, schema: type[Schema] | None, many: bool, status: int):
    from flask import Response

    if isinstance(result, Response):
        return result
    etag = None
    if schema is not None and result is not None:
        if isinstance(result, Page):
            body = {"items": _schema(schema, True).dump(result.items), "total": result.total,
                    "page": result.page, "per_page": result.per_page}
        else:
            body = _schema(schema, many).dump(result)
            if not many and hasattr(result, "version"):
                etag = f'"{result.version}"'
    else:
        body = result if result is not None else {}
    resp = jsonify(body)
    resp.status_code = status
    if etag:
        resp.headers["ETag"] = etag
    return resp


def check_if_match(record) -> None:
    """412 when the client's ``If-Match`` names another version than the stored one."""
    header = request.headers.get("If-Match")
    if header and header.strip() not in ("*", f'"{record.version}"', str(record.version)):
        raise StaleRecord(f"{record.__record__} {record.id} is at version {record.version}, "
                          f"not {header}")


# -- authentication --------------------------------------------------------------------------


def authenticate(sf) -> Any:
    """Who the request is from: an ``ApiToken`` credential for ``Authorization: Bearer <token>``
    (checked by ``Salesflow.transaction`` in the request's own transaction, with the user and
    its roles, in one statement), or the web session's user id."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return ApiToken(token_digest(header[7:].strip()))
    from flask import session

    user_id = session.get("user_id")
    if user_id is not None:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            _check_session_csrf()
        return user_id
    raise AuthenticationError("authentication required: send 'Authorization: Bearer <token>'")


def _check_session_csrf() -> None:
    """A write signed in by the browser's session cookie (not a bearer token) must be one no
    other site can make: a JSON request (cross-site, a browser sends it only after a CORS
    preflight, which is not allowed) or one carrying the session's CSRF token in
    ``X-CSRFToken``. A plain form POST without a body (``/orders/<id>/copy``...) was run."""
    if request.is_json:
        return
    from flask_wtf.csrf import ValidationError as CSRFError
    from flask_wtf.csrf import validate_csrf

    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except CSRFError:
        raise AccessDenied("a request signed in by the web session needs Content-Type: "
                           "application/json or an X-CSRFToken header") from None


def _aware(value):
    import datetime as dt

    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- idempotency -----------------------------------------------------------------------------


def _request_hash() -> str:
    raw = json.dumps(json_body(), sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path} {raw}".encode()).hexdigest()


def _idempotency_lookup(env, key: str):
    Key = env["api.idempotency"]
    # the column's own length: a longer key would only fail when stored (a 500 on PostgreSQL)
    limit = Key.__table__.c.key.type.length
    if len(key) > limit:
        raise ValidationError({"Idempotency-Key": [f"at most {limit} characters, not {len(key)}"]})
    refuse_unstorable(key, "Idempotency-Key")
    _idempotency_wait(env, key)
    with env.sudo():  # a system table no role may read; the row is the user's own
        found = env.session.scalars(
            select(Key).where(Key.user_id == env.user_id, Key.key == key)
        ).one_or_none()
    if found is None:
        return None
    if found.request_hash != _request_hash():
        raise ValidationError({"Idempotency-Key": ["already used with a different request body"]})
    stored = found.body
    if isinstance(stored, dict) and _STORED in stored:
        body, headers = stored["body"], stored["headers"]
    else:  # stored before headers were kept: the body alone
        body, headers = stored, {}
    resp = jsonify(body)
    resp.status_code = found.status
    resp.headers.update(headers)
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _idempotency_wait(env, key: str) -> None:
    """Requests with one key run one after the other, so a retry sent while the first request
    is still running answers with its response once it committed (not a 409 from the key's
    unique constraint, nor a refusal of redoing what the first did: a payment of an invoice
    the first one paid). On PostgreSQL a transaction-scoped advisory lock on (user, key), taken
    before the lookup: the lookup after it (READ COMMITTED) sees the row the first committed.
    A lock shared by two keys (a hash collision) only makes them wait for each other. SQLite
    needs nothing: a write transaction (``BEGIN IMMEDIATE``) already waits for the other."""
    if env.sf.dialect != "postgresql":
        return
    digest = hashlib.blake2b(f"{env.user_id}\x00{key}".encode(), digest_size=8).digest()
    env.session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


#: headers a replay repeats: it is the first response, version (ETag) and place included
_REPLAYED_HEADERS = ("ETag", "Location")
#: the stored response is ``{_STORED: 1, "body": ..., "headers": {...}}`` in the JSON ``body``
#: column (no schema change); a row without it is a bare body from before
_STORED = "salesflow.response"


def _idempotency_store(env, key: str, response) -> None:
    headers = {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers}
    env.session.add(env["api.idempotency"](
        user_id=env.user_id, key=key, request_hash=_request_hash(), status=response.status_code,
        body={_STORED: 1, "body": response.get_json(), "headers": headers},
    ))
    env.session.flush()


# -- lists -----------------------------------------------------------------------------------


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int


def paginate(env, record: str, *, sortable: dict[str, Any], filterable: dict[str, Callable],
             default_sort: str = "-id", base_criteria: tuple = ()) -> Page:
    """A page of ``record`` by ``?page=&per_page=&sort=field,-other&<filter>=value``.

    Only allow-listed fields sort or filter; anything else is a 422 naming the parameter.
    ``filterable`` maps a query parameter to a function ``value -> criterion``.
    """
    cls = env[record]
    args = request.args
    try:
        per_page = min(MAX_PAGE_SIZE, max(1, whole_number(args.get("per_page", "50"))))
    except ValueError as exc:
        raise ValidationError({"per_page": [str(exc)]}) from None
    try:  # the page's offset must fit the database's integer too
        page = max(1, whole_number(args.get("page", "1"), maximum=INT_MAX // per_page))
    except ValueError as exc:
        raise ValidationError({"page": [str(exc)]}) from None
    criteria = list(base_criteria)
    reserved = {"page", "per_page", "sort"}
    for name, value in args.items():
        if name in reserved:
            continue
        make = filterable.get(name)
        if make is None:
            raise ValidationError({name: [f"not a filter; allowed: {sorted(filterable)}"]})
        try:
            criteria.append(make(value))
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError({name: [str(exc) or "invalid value"]}) from exc
    order = []
    for part in (args.get("sort") or default_sort).split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part.lstrip("-+")
        column = sortable.get(name) if name != "id" else cls.id
        if column is None:
            raise ValidationError({"sort": [f"cannot sort by {name!r}; allowed: {sorted(sortable)}"]})
        order.append(column.desc() if desc else column.asc())
    order.append(cls.id.desc())
    total = env.session.scalar(select(func.count()).select_from(cls).where(*criteria))
    items = env.session.scalars(
        select(cls).where(*criteria).order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total or 0, page, per_page)


# -- errors ----------------------------------------------------------------------------------


def _as_field_errors(messages: Any) -> dict[str, list[str]]:
    from core.config import flatten_errors

    out: dict[str, list[str]] = {}
    for line in flatten_errors(messages):
        key, _, msg = line.partition(": ")
        out.setdefault(key if msg else "_schema", []).append(msg or key)
    return out


def _error(status: int, code: str, message: str, **extra):
    body = {"error": {"code": code, "message": message, **extra}}
    resp = jsonify(body)
    resp.status_code = status
    return resp


class TokenInSchema(Schema):
    login = fields.String(required=True)
    password = fields.String(required=True, load_only=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=64),
                         metadata={"description": "what the token is for (default: api)"})


class TokenSchema(Schema):
    token = fields.String(metadata={"description": "send as 'Authorization: Bearer <token>'; "
                                                   "shown only this once"})
    user_id = fields.Integer()


class MeSchema(Schema):
    id = fields.Integer()
    login = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())


def init_app(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return _error(422, "validation_error", "invalid input", fields=exc.errors)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return _error(404, "not_found", str(exc))

    @app.errorhandler(AuthenticationError)
    def _unauthenticated(exc: AuthenticationError):
        resp = _error(401, "unauthenticated", str(exc))
        resp.headers["WWW-Authenticate"] = "Bearer"
        return resp

    @app.errorhandler(AccessDenied)
    def _forbidden(exc: AccessDenied):
        return _error(403, "forbidden", str(exc))

    @app.errorhandler(TransitionBlocked)
    def _blocked(exc: TransitionBlocked):
        extra = {"refused": {str(i): r for i, r in exc.refused_ids.items()}} if exc.refused else {}
        return _error(409, "transition_refused", str(exc), trigger=exc.trigger, reasons=exc.reasons,
                      **extra)

    @app.errorhandler(StaleRecord)
    def _stale(exc: StaleRecord):
        return _error(412, "precondition_failed", str(exc))

    @app.errorhandler(StaleDataError)
    def _stale_data(exc: StaleDataError):
        return _error(409, "conflict", "the record was changed by someone else; reload and retry")

    @app.errorhandler(ConflictError)
    def _conflict(exc: ConflictError):
        return _error(409, "conflict", str(exc))

    @app.errorhandler(Unavailable)
    def _unavailable(exc: Unavailable):
        return _error(503, "unavailable", str(exc))

    @app.errorhandler(ImmutableRecord)
    def _immutable(exc: ImmutableRecord):
        return _error(409, "immutable", str(exc))

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError):
        return _error(409, "conflict", "the change conflicts with existing data (duplicate or "
                      "missing reference)")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # Flask's own refusals (no such URL or method, e.g. /orders/abc) in the API's JSON shape;
        # elsewhere (the web pages) its HTML as before
        if not (request.path + "/").startswith(API_PREFIX + "/") or (exc.code or 500) < 400:
            return exc
        resp = _error(exc.code, (exc.name or "error").lower().replace(" ", "_"),
                      exc.description or exc.name)
        if getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    # the kernel's own endpoints, declared as an addon's are: listed in the OpenAPI document
    kernel = ApiBlueprint("salesflow_kernel_api", __name__, url_prefix=API_PREFIX)

    @kernel.endpoint("/auth/token", methods=["POST"], body=TokenInSchema, response=TokenSchema,
                     status=201, public=True, tag="auth",
                     summary="Exchange login and password for an API token (shown once)")
    def issue_token(env, data):
        from core.security import new_token

        User = env["res.user"]
        user = env.session.scalars(select(User).where(User.login == data["login"])).one_or_none()
        if user is None or not user.check_password(data["password"]):
            raise AuthenticationError("wrong login or password")
        token, digest = new_token()
        env.session.add(env["res.api_token"](user_id=user.id, name=data.get("name") or "api",
                                             token_hash=digest))
        return {"token": token, "user_id": user.id}

    @kernel.endpoint("/me", response=MeSchema, tag="auth", summary="Who the token is for")
    def me(env):
        return {"id": env.user.id, "login": env.user.login, "name": env.user.name,
                "roles": sorted(env.roles)}

    app.register_blueprint(kernel)
    bp = Blueprint("salesflow_api", __name__, url_prefix=API_PREFIX)

    @bp.get("/openapi.json")
    def openapi():
        """The OpenAPI 3 document of every enabled addon's endpoints."""
        return jsonify(build_openapi(current_app))

    @bp.get("/")
    def index():
        """What this server is: the client, its addons and where the API lives (JSON)."""
        sf = current_app.extensions["salesflow"]
        return jsonify({
            "salesflow": sf.config.name,
            "addons": sf.addon_names,
            "api": API_PREFIX,
            "openapi": f"{API_PREFIX}/openapi.json",
            "login": f"POST {API_PREFIX}/auth/token with {{\"login\", \"password\"}}",
        })

    app.register_blueprint(bp)


def build_openapi(app: Flask) -> dict[str, Any]:
    sf = app.extensions["salesflow"]
    spec = APISpec(title=f"salesflow API ({sf.config.name})", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    errors = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
    paths: dict[str, dict[str, Any]] = {}
    for bp in app.blueprints.values():
        for doc in getattr(bp, "docs", []):
            path = doc.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            ops = paths.setdefault(path, {})
            for method in doc.methods:
                op: dict[str, Any] = {"summary": doc.summary, "tags": [doc.tag], "responses": {}}
                if not doc.public:
                    op["security"] = [{"bearer": []}]
                params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                          for n in _path_params(path)]
                params += [{"name": n, "in": "query", "required": False, "description": d,
                            "schema": {"type": "string"}} for n, d in doc.query.items()]
                if params:
                    op["parameters"] = params
                if doc.body is not None:
                    op["requestBody"] = {"required": True, "content": {
                        "application/json": {"schema": doc.body}}}
                ok: dict[str, Any] = {"description": "success"}
                if doc.response is not None:
                    schema: Any = doc.response
                    ok["content"] = {"application/json": {"schema": {"type": "array", "items": schema}
                                                          if doc.many else schema}}
                if doc.produces:
                    ok["content"] = {doc.produces: {"schema": {"type": "string", "format": "binary"}}}
                op["responses"][str(doc.status)] = ok
                for code in ("401", "403", "404", "409", "412", "422"):
                    op["responses"][code] = errors
                ops[method.lower()] = op
    for path, ops in sorted(paths.items()):
        spec.path(path=path, operations=ops)
    return spec.to_dict()


def _path_params(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)


def records_of(env, record: str, ids) -> list:
    """The records ``ids`` in that order, read in one SELECT (access rights and record rules
    apply): a batch request's targets. ``NotFound`` names the first id missing or hidden;
    an id given twice is a 422."""
    from collections import Counter

    twice = [ident for ident, n in Counter(ids).items() if n > 1]
    if twice:
        raise ValidationError({"ids": [f"given twice: {', '.join(map(str, twice))}"]})
    found = env.get_many(record, ids)
    for ident in ids:
        if ident not in found:
            raise NotFound(record, ident)
    return [found[ident] for ident in ids]
