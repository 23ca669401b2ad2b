"""``messenger visitor erase|export`` and ``messenger retention run``: the visitor's data.

Each visitor is erased in a transaction of its own, retention works in batches of
``MESSENGER_RETENTION_BATCH_SIZE`` conversations (one transaction each); progress goes to
stderr (a bar on a terminal, JSON lines with ``--json``) and the result to stdout.
Everything is audited as ``cli``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import click

from messenger.attachments.storage import storage_from_settings
from messenger.cli.common import CliError, SessionFactory, emit, json_option, run_units
from messenger.cli.progress import Reporter
from messenger.config import Settings
from messenger.privacy.erase import Erasure, erase_visitor
from messenger.privacy.export import attachment_files, export_visitor
from messenger.privacy.retention import count_due, cutoff_for, run_batch


def visitor_uuid(raw: str) -> UUID:
    try:
        return UUID(raw.strip())
    except ValueError:
        raise CliError(f"{raw!r} is not a visitor id (a UUID)") from None


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def export_file_count(document: dict[str, Any]) -> int:
    in_messages = sum(
        len(message["attachments"])
        for conversation in document["conversations"]
        for message in conversation["messages"]
    )
    return in_messages + len(document["unsent_attachments"])


@click.group("visitor")
def visitor_group() -> None:
    """A visitor's data: erase it, export it (152-FZ / GDPR requests)."""


@visitor_group.command("erase")
@click.argument("visitor_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def visitor_erase(visitor_ids: tuple[str, ...], yes: bool, as_json: bool) -> None:
    """Erase visitors: their messages' text, files, contact fields (statistics stay)."""
    ids = [visitor_uuid(raw) for raw in visitor_ids]
    if not yes and not as_json:
        click.confirm(f"Erase {len(ids)} visitor(s) for good?", abort=True)

    async def work(units: SessionFactory, settings: Settings) -> dict[str, Any]:
        storage = storage_from_settings(settings)
        total = Erasure()
        erased: list[dict[str, Any]] = []
        with Reporter("erase", len(ids), as_json=as_json) as progress:
            for visitor_id in ids:
                async with units() as session:
                    done = await erase_visitor(session, storage, visitor_id)
                total.add(done)
                erased.append({"visitor_id": str(visitor_id), **done.as_dict()})
                progress.advance()
        return {"erased": erased, "totals": total.as_dict()}

    result = run_units(work)
    totals = result["totals"]
    emit(
        as_json,
        result,
        f"Erased {len(result['erased'])} visitor(s): {totals['messages']} message(s), "
        f"{totals['attachments']} file(s), {totals['contacts']} contact(s).",
    )


@visitor_group.command("export")
@click.argument("visitor_id")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write visitor.json and attachments/ (the files) into this directory.",
)
@json_option
def visitor_export(visitor_id: str, out_dir: Path | None, as_json: bool) -> None:
    """Everything held about a visitor: JSON (--json), files with --out DIR."""
    uid = visitor_uuid(visitor_id)

    async def work(units: SessionFactory, settings: Settings) -> tuple[dict[str, Any], int]:
        storage = storage_from_settings(settings)
        async with units() as session:
            document = await export_visitor(session, uid)
            written = 0
            if out_dir is not None:
                text = json.dumps(document, ensure_ascii=False, indent=2).encode()
                await asyncio.to_thread(write_file, out_dir / "visitor.json", text)
                total = export_file_count(document)
                with Reporter("export", total, as_json=as_json) as progress:
                    async for relative, chunks in attachment_files(session, storage, uid):
                        data = b"".join([chunk async for chunk in chunks])
                        await asyncio.to_thread(write_file, out_dir / relative, data)
                        written += 1
                        progress.advance()
        return document, written

    document, written = run_units(work)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    where = f" into {out_dir} ({written} file(s))" if out_dir is not None else ""
    click.echo(
        f"Exported visitor {uid}{where}: {len(document['conversations'])} conversation(s). "
        "Use --json to print the document."
    )


@click.group("retention")
def retention_group() -> None:
    """Retention of conversations (MESSENGER_RETENTION_DAYS, MESSENGER_RETENTION_MODE)."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only count what would be anonymised or deleted.")
@click.option("--days", type=click.IntRange(min=1), help="Override MESSENGER_RETENTION_DAYS.")
@click.option(
    "--batch-size", type=click.IntRange(min=1, max=10000), help="Conversations per transaction."
)
@json_option
def retention_run(dry_run: bool, days: int | None, batch_size: int | None, as_json: bool) -> None:
    """Anonymise or delete conversations inactive longer than the retention, in batches."""

    async def work(units: SessionFactory, settings: Settings) -> dict[str, Any]:
        keep = days or settings.retention_days
        if keep is None:
            raise CliError("MESSENGER_RETENTION_DAYS is not set (or pass --days): nothing to do")
        mode = settings.retention_mode
        size = batch_size or settings.retention_batch_size
        cutoff = cutoff_for(keep)
        async with units() as session:
            due = await count_due(session, mode, cutoff)
        report: dict[str, Any] = {
            "dry_run": dry_run,
            "mode": mode,
            "days": keep,
            "cutoff": cutoff.isoformat(),
            "batch_size": size,
            "due_conversations": due.conversations,
            "due_visitors": due.visitors,
        }
        if dry_run:
            return report
        storage = storage_from_settings(settings)
        total = Erasure()
        batches = conversations = 0
        with Reporter("retention", due.conversations, as_json=as_json) as progress:
            while True:
                async with units() as session:
                    result = await run_batch(session, storage, mode, cutoff, size)
                count = result.erasure.conversations + result.deleted_conversations
                if count == 0:
                    break
                batches += 1
                conversations += count
                total.add(result.erasure)
                progress.advance(count)
        report.update(
            batches=batches,
            conversations=conversations,
            messages=total.messages,
            attachments=total.attachments,
            contacts=total.contacts,
            visitors=total.visitors,
        )
        return report

    report = run_units(work)
    if dry_run:
        text = (
            f"Would {report['mode']} {report['due_conversations']} conversation(s) of "
            f"{report['due_visitors']} visitor(s) inactive since {report['cutoff']}."
        )
    else:
        text = (
            f"{report['mode']}: {report['conversations']} conversation(s) in "
            f"{report['batches']} batch(es); {report['messages']} message(s) and "
            f"{report['attachments']} file(s) erased."
        )
    emit(as_json, report, text)
