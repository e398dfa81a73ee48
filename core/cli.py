"""The ``salesflow`` command. Every command takes ``--config`` (or ``$SALESFLOW_CONFIG``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from core.config import ClientConfig
from core.errors import SalesflowError


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._sf = None
        self._checked = False

    @property
    def config(self) -> ClientConfig:
        return ClientConfig.load(self.config_path)

    @property
    def salesflow(self):
        """The client's Salesflow, on a database brought to the enabled addons' heads (else a
        ``MigrationError`` saying to run ``db upgrade``)."""
        if not self._checked:
            from core import migrations

            migrations.check_current(self.unchecked_salesflow)
            self._checked = True
        return self.unchecked_salesflow

    @property
    def unchecked_salesflow(self):
        """The client's Salesflow, whatever state its database is in (``db``, ``demo``,
        ``workflow``, ``shell``)."""
        if self._sf is None:
            from core.app import Salesflow

            self._sf = Salesflow(self.config)
        return self._sf


class SalesflowGroup(click.Group):
    """Turns kernel errors into one readable line and exit code 2."""

    #: why the enabled addons' commands could not be added (``_load_addon_commands``)
    addon_commands_error: SalesflowError | None = None

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is None and self.addon_commands_error is not None:
            # an addon's command is missing because its config does not load: say why
            raise click.UsageError(f"no such command {cmd_name!r}: the addons' commands were not "
                                   f"loaded: {self.addon_commands_error}", ctx)
        return command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SalesflowError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OperationalError as exc:  # unreachable server, locked or unreadable file...
            reason = " ".join(str(exc.orig).split())
            click.echo(f"error: the database cannot be used: {reason}", err=True)
            sys.exit(2)


@click.group(cls=SalesflowGroup)
@click.option("--config", "-c", "config_path", envvar="SALESFLOW_CONFIG", default=None,
              help="Client config (TOML). Default: $SALESFLOW_CONFIG or config/default.toml.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """salesflow: sales management as a kernel and addons."""
    ctx.obj = Context(config_path)


# -- init --------------------------------------------------------------------------------------

TEMPLATE = """# salesflow client configuration (see docs/configuration.md)
[client]
name = {name}
addons = {addons}
database_url = {database_url}
locale = "{locale}"
currency = "CNY"

# Orders over 100,000 need a sales manager; over 500,000 a director as well.
[[approvals]]
record = "sale.order"
trigger = "approve"
amount_field = "amount_total"
levels = [{{ over = "100000", role = "sales_manager" }}, {{ over = "500000", role = "director" }}]
"""


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default="My company")
@click.option("--addons", default="sale", help="Comma-separated addon names.")
@click.option("--database-url", default=None, help="Default: an SQLite file in instance/.")
@click.option("--locale", type=click.Choice(["en", "zh_CN"]), default="en")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, name: str, addons: str, database_url: str | None, locale: str, force: bool):
    """Write a client config to PATH and check that it loads."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists (use --force to overwrite)")
    names = [a.strip() for a in addons.split(",") if a.strip()]
    url = database_url or f"sqlite:///../instance/{path.stem}.db"
    # JSON strings are TOML basic strings: quotes and backslashes escaped, 华东 kept as it is
    text = TEMPLATE.format(name=json.dumps(name, ensure_ascii=False), addons=json.dumps(names),
                           database_url=json.dumps(url, ensure_ascii=False), locale=locale)
    if "sale" not in names:
        text = text.split("# Orders over")[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    from core.app import Salesflow

    try:
        Salesflow(ClientConfig.load(path))
    except SalesflowError:
        path.unlink()
        raise
    click.echo(f"wrote {path}")


# -- addons ------------------------------------------------------------------------------------


@main.group()
def addons() -> None:
    """Available and enabled addons."""


@addons.command("list")
@click.pass_obj
def addons_list(obj: Context) -> None:
    """Every available addon: enabled (in load order), version, dependencies, origin."""
    from core.plugins.addons import AddonCatalog

    config = obj.config
    catalog = AddonCatalog.discover(config.addons_path)
    order = [m.name for m in catalog.resolve(config.addons)]
    click.echo(f"client: {config.name} ({config.label})")
    click.echo(f"{'#':>2}  {'addon':<20} {'version':<9} {'depends':<28} origin")
    for name in order + sorted(set(catalog.available) - set(order)):
        m = catalog.available[name]
        pos = str(order.index(name) + 1) if name in order else "-"
        deps = ", ".join(m.depends) or "-"
        if m.optional_depends:
            deps += f" (optional: {', '.join(m.optional_depends)})"
        click.echo(f"{pos:>2}  {name:<20} {m.version:<9} {deps:<28} {m.origin}")
    click.echo("(# = load order of enabled addons; '-' = available, not enabled)")


# -- workflow ----------------------------------------------------------------------------------


@main.group()
def workflow() -> None:
    """Compiled workflows of the client."""


@workflow.command("show")
@click.argument("record")
@click.option("--diagram", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a diagram: .dot (Graphviz) or .mmd (Mermaid). Default: <record>.mmd")
@click.option("--json", "as_json", is_flag=True, help="Print the compiled workflow as JSON.")
@click.pass_obj
def workflow_show(obj: Context, record: str, diagram: Path | None, as_json: bool) -> None:
    """States and transitions of RECORD (e.g. sale.order) as compiled for this client."""
    from core.workflow.diagram import to_dot, to_mermaid, to_text

    wf = obj.unchecked_salesflow.workflows[record]
    markup = wf.markup()
    if as_json:
        click.echo(json.dumps(markup, indent=2, ensure_ascii=False))
    else:
        click.echo(to_text(markup))
    target = diagram or Path(f"{record}.mmd")
    target.write_text(to_dot(markup) if target.suffix == ".dot" else to_mermaid(markup),
                      encoding="utf-8")
    click.echo(f"diagram written to {target}", err=True)


# -- db ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema (Alembic, one branch per addon)."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Bring the database to the heads of the enabled addons' migrations."""
    from core import migrations

    applied = migrations.upgrade(obj.unchecked_salesflow)
    click.echo(f"database at heads: {', '.join(applied) or '(nothing to do)'}")


@db.command("current")
@click.pass_obj
def db_current(obj: Context) -> None:
    """Revisions the database is at."""
    from core import migrations

    for line in migrations.current(obj.unchecked_salesflow):
        click.echo(line)


@db.command("revision")
@click.option("--addon", required=True, help="The addon whose branch gets the revision.")
@click.option("-m", "--message", required=True)
@click.pass_obj
def db_revision(obj: Context, addon: str, message: str) -> None:
    """Autogenerate a revision for ADDON's tables and columns (developers)."""
    from core import migrations

    path = migrations.revision(obj.unchecked_salesflow, addon, message)
    click.echo(f"wrote {path}")


# -- users -------------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Users, roles and API tokens."""


@users.command("create")
@click.argument("login")
@click.option("--name", default=None)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, help="Role code (repeatable).")
@click.pass_obj
def users_create(obj: Context, login: str, name: str | None, password: str, roles: tuple[str, ...]):
    """Create a user with roles."""
    sf = obj.salesflow
    unknown = set(roles) - set(sf.security.roles)
    if unknown:
        raise click.ClickException(f"unknown roles {sorted(unknown)}; declared: {sorted(sf.security.roles)}")
    with sf.transaction() as env:
        user = env["res.user"](login=login, name=name or login)
        user.set_password(password)
        user.role_links = [env["res.user_role"](role=r) for r in roles]
        env.session.add(user)
    click.echo(f"user {login} created with roles {', '.join(roles) or '(none)'}")


@users.command("token")
@click.argument("login")
@click.option("--name", default="cli")
@click.pass_obj
def users_token(obj: Context, login: str, name: str) -> None:
    """Issue an API token for LOGIN (printed once)."""
    from sqlalchemy import select

    from core.security import new_token

    sf = obj.salesflow
    with sf.transaction() as env:
        User = env["res.user"]
        user = env.session.scalars(select(User).where(User.login == login)).one_or_none()
        if user is None:
            raise click.ClickException(f"no user {login!r}")
        token, digest = new_token()
        env.session.add(env["res.api_token"](user_id=user.id, name=name, token_hash=digest))
    click.echo(token)


# -- serve, shell ------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--debug", is_flag=True)
@click.pass_obj
def serve(obj: Context, host: str, port: int, debug: bool) -> None:
    """Run the Flask development server. Production: see README (gunicorn)."""
    from core.app import create_app
    from core.runtime import tune_gc

    app = create_app(salesflow=obj.salesflow)
    tune_gc()
    click.echo(f"salesflow for {obj.config.name} on http://{host}:{port}/")
    app.run(host=host, port=port, debug=debug, use_reloader=False)


@main.command()
@click.pass_obj
def shell(obj: Context) -> None:
    """A Python shell with ``sf`` (the client's Salesflow) and ``tx`` (open a transaction)."""
    import code

    sf = obj.unchecked_salesflow
    banner = ("salesflow shell: `sf` is the client's Salesflow.\n"
              "  with sf.transaction() as env: env.search('sale.order')")
    code.interact(banner=banner, local={"sf": sf, "tx": sf.transaction})


@main.command()
@click.option("--seed", default=42, type=int)
@click.pass_obj
def demo(obj: Context, seed: int) -> None:
    """Fill the (upgraded) database with demonstration data of every enabled addon."""
    import random

    sf = obj.unchecked_salesflow
    from core import migrations

    migrations.upgrade(sf)
    with sf.transaction() as env:
        User = env["res.user"]
        from sqlalchemy import select

        if env.session.scalars(select(User.id).limit(1)).first() is not None:
            click.echo("the database already has data: demo skipped")
            return
        sf.pm.hook.demo_data(env=env, rng=random.Random(seed))
    click.echo("demo data loaded")


def _load_addon_commands() -> None:
    """Addons may add command groups (``[provides].cli``); loaded for the configured client
    (``--config``, else ``$SALESFLOW_CONFIG``, else config/default.toml, as for every command)."""
    from core.plugins.addons import AddonCatalog, load_object

    try:
        config = ClientConfig.load(_config_from_argv())
        catalog = AddonCatalog.discover(config.addons_path)
        manifests = catalog.resolve(config.addons)
    except SalesflowError as exc:
        main.addon_commands_error = exc
        return
    enabled = {m.name for m in manifests}
    for m in manifests:
        for ref in m.provided("cli", enabled):
            command = load_object(m, ref)
            if command.name not in main.commands:
                main.add_command(command)


def _config_from_argv() -> str | None:
    """The config file the command line names (None: ``ClientConfig.load``'s default)."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def run() -> None:
    _load_addon_commands()
    main()


if __name__ == "__main__":
    run()
