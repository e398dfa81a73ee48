"""kt_doc's web views: a menu, a list, a form and a record page with the workflow panel."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, StringField
from wtforms.validators import DataRequired, NumberRange

from core.web import Column, Filter, FormView, ListView, Menu, RecordPage, Views

STATES = [("draft", "draft"), ("confirmed", "confirmed"), ("done", "done"),
          ("cancelled", "cancelled")]


class DocForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired()])
    amount = DecimalField("Amount", places=2, validators=[NumberRange(min=0)])


def create(env, form):
    return env.create("kt.doc", owner_id=env.user_id, name=form.name.data, amount=form.amount.data)


def update(env, doc, form):
    return env.write(doc, name=form.name.data, amount=form.amount.data)


COLUMNS = [Column("name", "Name", link=True), Column("amount", "Amount", "decimal"),
           Column("state", "State", "state")]

VIEWS = Views(
    menus=[Menu("kt_docs", "Documents", "文档", "web.record_list", args={"name": "kt.doc"},
                record="kt.doc", order=10)],
    lists=[ListView("kt.doc", title="Documents", columns=COLUMNS, search=["name"],
                    filters=[Filter("state", "State", choices=STATES)],
                    sortable=["name", "amount"], default_sort="name", page_size=2)],
    forms=[FormView("kt.doc", form=DocForm, create=create, update=update,
                    editable=lambda doc: doc.state == "draft")],
    pages=[RecordPage("kt.doc", title="name", fields=COLUMNS)],
)
