"""The e-mails themselves: multipart text + HTML (every visitor-written character escaped),
in the conversation's language, with the conversation quoted below and no links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape

from messenger.db.models import Message, MessageSender
from messenger.i18n import _, use_locale


@dataclass(frozen=True, slots=True)
class Line:
    """One message of the thread as the visitor sees it."""

    who: str
    at: datetime
    body: str


def thread_lines(messages: Sequence[Message]) -> list[Line]:
    """Messages as lines (the caller passes only what the visitor may see); translated
    names, so call it inside the mail's locale."""
    lines = []
    for message in messages:
        if message.sender == MessageSender.VISITOR:
            who = _("You")
        else:
            who = message.author.name if message.author is not None else _("Support")
        lines.append(Line(who, message.created_at, message.body))
    return lines


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _text(intro: str, reply: str | None, history_title: str, lines: list[Line], footer: str) -> str:
    parts = [intro, ""]
    if reply is not None:
        parts += [reply, ""]
    parts += [footer, "", f"--- {history_title} ---"]
    for line in lines:
        parts.append(f"> {_stamp(line.at)} {line.who}:")
        parts += [f"> {row}" for row in line.body.splitlines() or [""]]
        parts.append(">")
    return "\n".join(parts) + "\n"


def _html_block(text: str) -> str:
    return escape(text).replace("\n", "<br>\n")


def _html(intro: str, reply: str | None, history_title: str, lines: list[Line], footer: str) -> str:
    quoted = "\n".join(
        f'<p style="margin:0 0 8px"><b>{escape(line.who)}</b> '
        f'<span style="color:#666">{escape(_stamp(line.at))}</span><br>\n'
        f"{_html_block(line.body)}</p>"
        for line in lines
    )
    reply_html = f"<p>{_html_block(reply)}</p>\n" if reply is not None else ""
    return (
        "<!doctype html>\n<html><body>\n"
        f"<p>{escape(intro)}</p>\n{reply_html}"
        f'<p style="color:#666">{escape(footer)}</p>\n'
        f"<h3>{escape(history_title)}</h3>\n"
        f'<blockquote style="border-left:3px solid #ccc;margin:0;padding-left:12px">\n'
        f"{quoted}\n</blockquote>\n</body></html>\n"
    )


def _envelope(subject: str, sender: str, to: str, text: str, html: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = Address(addr_spec=to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> "))
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


def reply_mail(
    *, locale: str, sender: str, to: str, reply: Message, history: Sequence[Message]
) -> EmailMessage:
    """An operator's reply the visitor did not see in the widget, the thread below it."""
    with use_locale(locale):
        author = reply.author.name if reply.author is not None else _("Support")
        intro = _("%(name)s replied to your message:") % {"name": author}
        subject = _("New reply to your message")
        title = _("Earlier in this conversation")
        footer = _("You can go on writing in the chat on our site.")
        lines = thread_lines([m for m in history if m.id != reply.id])
        text = _text(intro, reply.body, title, lines, footer)
        html = _html(intro, reply.body, title, lines, footer)
    return _envelope(subject, sender, to, text, html)


def transcript_mail(
    *, locale: str, sender: str, to: str, history: Sequence[Message]
) -> EmailMessage:
    """The whole conversation, for the visitor's records."""
    with use_locale(locale):
        subject = _("Transcript of your conversation")
        intro = _("Here is the transcript of your conversation with us.")
        title = _("Conversation")
        footer = _("Thank you for writing to us.")
        lines = thread_lines(history)
        text = _text(intro, None, title, lines, footer)
        html = _html(intro, None, title, lines, footer)
    return _envelope(subject, sender, to, text, html)
