"""What an addon declares about its UI: data plus small view functions.

    # sale/views.py, named by the manifest's [provides].views = ["views:VIEWS"]
    VIEWS = Views(
        menus=[Menu("orders", "Sales orders", "销售订单", "web.record_list",
                    args={"name": "sale.order"}, record="sale.order", order=20)],
        lists=[ListView("sale.order", title="Sales orders",
                        columns=[Column("number", "Number", link=True),
                                 Column("amount_total", "Total", "money")],
                        search=["number"], filters=[Filter("state", "State", choices=...)],
                        sortable=["number", "date_order"], default_sort="-date_order")],
        forms=[FormView("sale.order", form=OrderForm, create=create, update=update, load=load)],
        pages=[RecordPage("sale.order", title="number", fields=[...],
                          children=[Child("Lines", "lines", [...])])],
        actions=[ListAction("sale.order", "approve", "Approve", run=approve_selected,
                            roles=["salesperson", "sales_manager"])],
    )

Labels are English msgids, translated at render time from the enabled addons' catalogs
(``[provides].translations``); menus carry their Chinese label themselves, so a menu reads
right even without a catalog. The kernel renders generic list, form and record pages from these
declarations (``core.web.routes``); a page that needs more names a ``template`` of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("text", "money", "date", "datetime", "state", "decimal", "bool")


@dataclass(frozen=True)
class Menu:
    key: str
    label: str
    label_zh: str
    endpoint: str
    args: dict[str, Any] = field(default_factory=dict)
    #: shown to users holding one of these roles (empty: anyone signed in) ...
    roles: tuple[str, ...] = ()
    #: ... who may also read this record (None: no record needed)
    record: str | None = None
    order: int = 100

    def text(self, locale: str) -> str:
        return self.label_zh if locale.startswith("zh") and self.label_zh else self.label


@dataclass(frozen=True)
class Home:
    """An addon's landing page: ``/`` redirects to ``endpoint`` (with ``args``) for a user
    holding one of ``roles`` (empty: anyone signed in; ``admin`` always) who may read
    ``record``. The most dependent addon's home the user may see wins; a user who may see none
    keeps the menu tiles."""

    endpoint: str
    args: dict[str, Any] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    record: str | None = None


@dataclass(frozen=True)
class Column:
    #: attribute of the record, or a dotted path through relationships (``customer.name``)
    field: str
    label: str
    format: str = "text"  # one of FORMATS
    #: link the cell to the record's page
    link: bool = False
    #: field holding the currency of a money column
    currency_field: str = "currency"

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"column {self.field!r}: unknown format {self.format!r}; known: {FORMATS}")


@dataclass(frozen=True)
class Filter:
    """A list filter: ``?<name>=value`` compared for equality with ``field`` (default: name)."""

    name: str
    label: str
    #: (value, label) pairs for a select; None: a free text input
    choices: Sequence[tuple[str, str]] | None = None
    field: str | None = None
    #: value -> SQLAlchemy criterion, for anything beyond equality: ``make(cls, value)``
    make: Callable[[type, str], Any] | None = None


@dataclass(frozen=True)
class ListView:
    #: URL name (``/r/<name>``); by default the record's name
    name: str
    title: str
    columns: Sequence[Column]
    record: str | None = None
    #: fields matched (case-insensitive substring) by the search box ``?q=``
    search: Sequence[str] = ()
    filters: Sequence[Filter] = ()
    #: the allow-list of sortable fields (``?sort=field`` or ``-field``)
    sortable: Sequence[str] = ()
    default_sort: str = "-id"
    page_size: int = 25
    #: more criteria every row must meet: ``base(env, cls) -> [criterion, ...]``
    base: Callable[[Any, type], list] | None = None

    @property
    def record_name(self) -> str:
        return self.record or self.name


@dataclass(frozen=True)
class FormView:
    """Create/edit of a record through a (Flask-)WTForms form and the addon's services.

    ``create(env, form) -> record``, ``update(env, record, form) -> record``;
    ``load(env, record) -> dict`` fills the form for editing; ``prepare(env, form)`` sets
    choices before validation. Services raise ``ValidationError``: shown on the form.
    """

    record: str
    form: type
    create: Callable[[Any, Any], Any] | None = None
    update: Callable[[Any, Any, Any], Any] | None = None
    load: Callable[[Any, Any], dict] | None = None
    prepare: Callable[[Any, Any], None] | None = None
    #: may this record be edited now? ``editable(record) -> bool`` (e.g. drafts only)
    editable: Callable[[Any], bool] | None = None
    template: str = "web/form.html"


@dataclass(frozen=True)
class Child:
    """A table of related rows on a record page (``attr`` is a relationship or a function
    ``attr(env, record) -> rows``)."""

    label: str
    attr: str | Callable[[Any, Any], list]
    columns: Sequence[Column]


@dataclass(frozen=True)
class RecordPage:
    record: str
    #: field shown as the page's title
    title: str = "id"
    fields: Sequence[Column] = ()
    children: Sequence[Child] = ()
    #: show the workflow panel (state, triggers, reasons, log) when the record has a workflow
    workflow: bool = True
    #: show the audit history in the timeline
    history: bool = True
    #: ``load(env, id) -> record`` (record rules apply); default ``env.get``
    load: Callable[[Any, Any], Any] | None = None
    #: ``fire(env, record, trigger, comment) -> Outcome``; default ``record.fire``
    fire: Callable[[Any, Any, str, str | None], Any] | None = None
    #: ``extra(env, record) -> dict`` more template context
    extra: Callable[[Any, Any], dict] | None = None
    #: a template of the addon's own (extends "web/record.html")
    template: str = "web/record.html"


PANEL_PLACES = ("side", "main")


@dataclass(frozen=True)
class Panel:
    """A panel an addon adds to a record page, its own or another addon's, without replacing
    the page (sale_credit's credit panel on sale's customer page).

    Rendered by the generic record page (``web/record.html``, so also by templates extending
    it) in its ``place`` column, after the workflow panel, in ``order``: a ``<section>`` with
    the translated ``title`` around ``template``, which sees ``data`` (what ``load(env,
    record)`` returned), ``obj`` (the record) and ``panel_decl``. The default template shows
    ``data`` (a dict or (label, value) pairs) as a field list. Shown only to users holding one
    of ``roles`` (empty: anyone who may see the page) who may read every record of
    ``records``; ``load`` returning None (nothing to show) or raising ``AccessDenied`` leaves
    the panel out. A later addon's panel with the same ``record`` and ``key`` replaces it.
    """

    record: str
    key: str
    title: str
    template: str = "web/panel_fields.html"
    #: ``load(env, record) -> data`` (runs as the user: record rules apply); None: ``{}``
    load: Callable[[Any, Any], Any] | None = None
    roles: tuple[str, ...] = ()
    #: records the user must be allowed to read (e.g. ``("sale.credit.exposure",)``)
    records: tuple[str, ...] = ()
    #: "side" (the aside column) or "main" (below the page's main content)
    place: str = "side"
    order: int = 100

    def __post_init__(self):
        if self.place not in PANEL_PLACES:
            raise ValueError(f"panel {self.key!r}: unknown place {self.place!r}; known: {PANEL_PLACES}")


@dataclass(frozen=True)
class ListAction:
    """A mass action on the rows selected in a list (approve the selected orders...).

    ``run(env, records) -> message`` gets the records picked (read with the user's access
    rights and record rules; hidden ones are a 404) and runs in one savepoint: when it raises
    ``TransitionBlocked`` (every reason is shown), ``ValidationError`` or ``ConflictError``,
    nothing it did is kept. ``roles``: shown to users holding one of them (empty: to anyone
    who may write the list's record). Declared apart from the list (like panels), so another
    addon adds an action to a list it does not own; ``(list, key)`` replaces an earlier one."""

    list: str
    key: str
    label: str
    run: Callable[[Any, list], str | None]
    roles: Sequence[str] = ()
    order: int = 100


@dataclass
class Views:
    menus: list[Menu] = field(default_factory=list)
    lists: list[ListView] = field(default_factory=list)
    forms: list[FormView] = field(default_factory=list)
    pages: list[RecordPage] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    actions: list[ListAction] = field(default_factory=list)
    #: the landing page ``/`` leads to (see ``Home``)
    home: Home | None = None


@dataclass
class ViewRegistry:
    """Every enabled addon's views, merged in addon order (a later addon replaces a list, form
    or page of the same name and adds menus)."""

    menus: dict[str, Menu] = field(default_factory=dict)
    lists: dict[str, ListView] = field(default_factory=dict)
    forms: dict[str, FormView] = field(default_factory=dict)
    pages: dict[str, RecordPage] = field(default_factory=dict)
    #: (record, key) -> panel
    panels: dict[tuple[str, str], Panel] = field(default_factory=dict)
    #: (list name, key) -> mass action
    actions: dict[tuple[str, str], ListAction] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # "list:<name>" -> addon
    #: the addons' homes, most dependent addon first
    homes: list[Home] = field(default_factory=list)

    def add(self, addon: str, views: Views, records: set[str]) -> None:
        from core.errors import AddonError

        if not isinstance(views, Views):
            raise AddonError(f"addon {addon!r}: [provides].views must name a core.web.Views object")
        for item in [*views.lists, *views.forms, *views.pages, *views.panels]:
            record = item.record_name if isinstance(item, ListView) else item.record
            if record not in records:
                raise AddonError(f"addon {addon!r}: view of unknown record {record!r}")
        for panel in views.panels:
            unknown = [r for r in panel.records if r not in records]
            if unknown:
                raise AddonError(f"addon {addon!r}: panel {panel.key!r} needs unknown records {unknown}")
        for menu in views.menus:
            self.menus[menu.key] = menu
        if views.home is not None:
            self.homes.insert(0, views.home)
        for lv in views.lists:
            self.lists[lv.name] = lv
            self.origin[f"list:{lv.name}"] = addon
        for fv in views.forms:
            self.forms[fv.record] = fv
        for page in views.pages:
            self.pages[page.record] = page
        for panel in views.panels:
            self.panels[(panel.record, panel.key)] = panel
            self.origin[f"panel:{panel.record}:{panel.key}"] = addon
        for action in views.actions:
            if not isinstance(action, ListAction) or not callable(action.run):
                raise AddonError(f"addon {addon!r}: actions must be ListAction objects with a run")
            self.actions[(action.list, action.key)] = action
            self.origin[f"action:{action.list}:{action.key}"] = addon

    def actions_for(self, list_name: str) -> list[ListAction]:
        """The mass actions declared for a list, by (order, key)."""
        return sorted((a for (n, _k), a in self.actions.items() if n == list_name),
                      key=lambda a: (a.order, a.key))

    def panels_for(self, record: str) -> list[Panel]:
        """The panels declared for ``record``'s page, by (order, key)."""
        return sorted((p for (r, _k), p in self.panels.items() if r == record),
                      key=lambda p: (p.order, p.key))

    def sorted_menus(self) -> list[Menu]:
        return sorted(self.menus.values(), key=lambda m: (m.order, m.key))

    def list_for_record(self, record: str) -> ListView | None:
        """The list whose name is the record's name, else the first list of that record."""
        if record in self.lists:
            return self.lists[record]
        return next((lv for lv in self.lists.values() if lv.record_name == record), None)
