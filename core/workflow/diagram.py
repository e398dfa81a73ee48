"""Render a compiled workflow (its ``markup()`` dict) as text, Graphviz DOT or Mermaid."""

from __future__ import annotations

from typing import Any


def to_text(markup: dict[str, Any]) -> str:
    lines = [f"workflow {markup['record']} (field {markup['field']!r}, initial {markup['initial']!r})",
             f"  contributed by: {', '.join(markup['contributed_by']) or '-'}",
             f"  states: {', '.join(markup['states'])}", "  transitions:"]
    for t in markup["transitions"]:
        extra = []
        if t["roles"]:
            extra.append("roles " + "/".join(t["roles"]))
        if t["guards"]:
            extra.append("guards " + ", ".join(t["guards"]))
        if t["before"] or t["after"]:
            extra.append("actions " + ", ".join(t["before"] + t["after"]))
        tail = f"  [{'; '.join(extra)}]" if extra else ""
        lines.append(f"    {t['trigger']:<16} {'|'.join(t['source'])} -> {t['dest']}{tail}")
    if markup.get("approvals"):
        ap = markup["approvals"]
        levels = ", ".join(f"over {lv['over']}: {lv['role']}" for lv in ap["levels"])
        lines.append(f"  approvals on {ap['trigger']!r} by {ap['amount_field']}: {levels}")
    return "\n".join(lines)


def to_dot(markup: dict[str, Any]) -> str:
    out = [f'digraph "{markup["record"]}" {{', "  rankdir=LR;", '  node [shape=box, style=rounded];',
           f'  "__start" [shape=point]; "__start" -> "{markup["initial"]}";']
    for t in markup["transitions"]:
        label = t["trigger"] + (f"\\n({'/'.join(t['roles'])})" if t["roles"] else "")
        for s in t["source"]:
            out.append(f'  "{s}" -> "{t["dest"]}" [label="{label}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def to_mermaid(markup: dict[str, Any]) -> str:
    out = ["stateDiagram-v2", f"    [*] --> {markup['initial']}"]
    for t in markup["transitions"]:
        label = t["trigger"] + (f" ({'/'.join(t['roles'])})" if t["roles"] else "")
        for s in t["source"]:
            out.append(f"    {s} --> {t['dest']}: {label}")
    for s in markup.get("final", []):
        out.append(f"    {s} --> [*]")
    return "\n".join(out) + "\n"
