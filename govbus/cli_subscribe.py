"""``govbus subscribe request|list|approve|reject|revoke``: subscriptions to catalog resources.

A department requests a resource with its purpose; 无条件 is granted and 不予共享 rejected at
once, 有条件 waits for its provider, who approves or rejects (with a reason) within 10
working days. A grant is READ on the resource's topic for the department's principal
``consumer-<dept>``, whose faust apps use group ids starting with the same name.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

subscribe_app = typer.Typer(no_args_is_help=True,
                        help="Subscriptions to catalog resources: request, decide, revoke.")

Dept = Annotated[str, typer.Option(help="Department id, as `govbus catalog list` shows them")]
Reason = Annotated[str, typer.Option(help="Why (a rejection and a revocation need one)")]
SubscriptionId = Annotated[str, typer.Argument(help="As `govbus subscribe list` shows it")]


def _run(action: str, call: object) -> None:
    from govbus.cli import fail, out
    from topics.subscriptions import Subscription, SubscriptionError

    try:
        made = call() if callable(call) else call
    except (SubscriptionError, KeyError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise fail(escape(str(message)), 2) from None
    assert isinstance(made, Subscription)
    due = f", decision due {_when(made.due_ms)}" if made.due_ms and made.status == "requested" \
        else ""
    reason = f": {made.reason}" if made.reason else ""
    out.print(f"{action} {made.subscription_id}: {made.topic} for {made.consumer} is "
              f"{made.status}{due}{escape(reason)}", highlight=False)


@subscribe_app.command("request")
def subscribe_request(
    resource: Annotated[str, typer.Argument(help="Resource code or topic")],
    consumer: Dept,
    purpose: Annotated[str, typer.Option(help="What the data is for (用途)")],
) -> None:
    """Request a resource for a department."""
    from govbus.cli import operator_settings
    from govbus.sharing import submit

    _run("request", lambda: submit(operator_settings(), resource, consumer, purpose))


@subscribe_app.command("approve")
def subscribe_approve(subscription: SubscriptionId, provider: Dept, reason: Reason = "") -> None:
    """The provider grants a waiting request."""
    from govbus.cli import operator_settings
    from govbus.sharing import decide_request

    _run("approve", lambda: decide_request(operator_settings(), subscription, provider, True,
                                           reason))


@subscribe_app.command("reject")
def subscribe_reject(subscription: SubscriptionId, provider: Dept, reason: Reason = "") -> None:
    """The provider rejects a waiting request, with its reason."""
    from govbus.cli import operator_settings
    from govbus.sharing import decide_request

    _run("reject", lambda: decide_request(operator_settings(), subscription, provider, False,
                                          reason))


@subscribe_app.command("revoke")
def subscribe_revoke(subscription: SubscriptionId, by: Dept, reason: Reason = "") -> None:
    """Withdraw a grant: the department's next fetch of the topic is denied."""
    from govbus.cli import operator_settings
    from govbus.sharing import revoke_grant

    _run("revoke", lambda: revoke_grant(operator_settings(), subscription, by, reason))


@subscribe_app.command("list")
def subscribe_list(
    overdue: Annotated[bool, typer.Option(help="Only requests past their due date")] = False,
) -> None:
    """Every subscription's current state; overdue requests are marked."""
    from govbus.cli import operator_settings, out
    from govbus.sharing import read_subscriptions

    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    items = sorted(read_subscriptions(operator_settings()).values(),
                   key=lambda s: s.requested_ms)
    if overdue:
        items = [s for s in items if s.overdue(now_ms)]
    table = Table("id", "resource", "topic", "consumer", "provider", "sharing", "status",
                  "requested", "due", "decided by", "reason / conditions",
                  title=f"{len(items)} subscriptions")
    for s in items:
        status = f"{s.status} (OVERDUE)" if s.overdue(now_ms) else s.status
        table.add_row(s.subscription_id, s.resource_code, s.topic, s.consumer, s.provider,
                      s.sharing, status, _when(s.requested_ms), _when(s.due_ms),
                      s.decided_by, escape(s.reason[:60]))
    out.print(table)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


acl_app = typer.Typer(no_args_is_help=True, help="The broker's ACLs against the grants.")


@acl_app.command("sync")
def acl_sync() -> None:
    """Repair drift between the grants and the broker: grant what is missing, revoke what no
    declaration or subscription grants (on this namespace's topics); each change audited."""
    from govbus.cli import operator_settings, out
    from govbus.sharing import sync_acls

    changes = sync_acls(operator_settings())
    table = Table("principal", "change", "resource", "operation",
                  title=f"{len(changes)} ACL changes (none: the broker agreed with the grants)")
    for c in changes:
        table.add_row(c.principal, c.kind, c.resource, c.action)
    out.print(table)
