"""Runbook search on both databases: the words a responder types, widened by the team's synonyms,
matched word by word with stemming ("failing" finds "failed") and ranked with the title and alert
names above symptoms, services and owner, above the summary and the steps.

PostgreSQL: the stored, GIN-indexed tsvector (english configuration, weights A, B, C).
SQLite: an FTS5 table (porter stemmer, bm25 with the same three columns weighted), created by
migration 0004 and kept current by runbooks.services through `search_index_write`.

A query becomes groups of alternatives: every group must match (any word left over from a
synonym is required), each alternative in a group may. The words as typed are prefixes, so
results follow the typing; a synonym is an exact word or phrase. Every word is quoted on its way
into FTS5's query language, so `AND`, `NEAR`, `*` and quotes typed by someone are only words."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import Value

WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 12
SEARCH_CONFIG = "english"
FTS_TABLE = "runbooks_runbook_fts"
# bm25's column weights put the title and alert names above symptoms, services and owner, well
# above the summary and steps: wider apart than ts_rank's 1.0, 0.4, 0.2, as bm25 also favours short
# columns. The join leaves out rows of runbooks deleted without the service (the admin, a flush).
_FTS_MATCH = (
    "SELECT fts.rowid FROM runbooks_runbook_fts AS fts JOIN runbooks_runbook AS runbook ON runbook.id = fts.rowid "
    "WHERE runbooks_runbook_fts MATCH %s ORDER BY bm25(runbooks_runbook_fts, 10.0, 4.0, 1.0), runbook.title LIMIT %s"
)
_FTS_DELETE = "DELETE FROM runbooks_runbook_fts WHERE rowid = %s"
_FTS_INSERT = "INSERT INTO runbooks_runbook_fts (rowid, heading, context, body) VALUES (%s, %s, %s, %s)"
SYNONYM_SEPARATOR = "~"
# Words that carry no meaning in a search ("too many connections", "customers cannot pay"): left
# out unless the query has nothing else. PostgreSQL drops its own list as well.
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "cannot", "cant", "could", "did", "do",
    "does", "doesn", "don", "dont", "for", "from", "get", "gets", "got", "had", "has", "have", "how", "i", "in",
    "into", "is", "isn", "it", "its", "just", "many", "me", "more", "much", "my", "no", "not", "of", "on", "or",
    "our", "out", "so", "some", "still", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "to", "too", "very", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with",
    "won", "wont", "you", "your",
})  # fmt: skip
_JOINERS = re.compile(r"[^\w\s]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True)
class Alternative:
    words: tuple[str, ...]
    typed: bool  # as typed: every word a prefix, all required; else a synonym: an exact phrase


Group = tuple[Alternative, ...]


def query_words(query: str) -> list[str]:
    return WORD.findall(query)[:MAX_WORDS]


def _base(word: str) -> str:
    """Singular enough to match a synonym: "connections" is "connection", "pays" is "pay"."""
    word = word.casefold()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def synonym_terms(text: str) -> list[tuple[str, ...]]:
    """ "payments ~ checkout ~ connection pool" as its terms, each a tuple of lower-case words."""
    terms = []
    for part in text.split(SYNONYM_SEPARATOR):
        words = tuple(word.casefold() for word in query_words(part))
        if words and words not in terms:
            terms.append(words)
    return terms


def parse(query: str, synonyms: Iterable[str] = ()) -> list[Group]:
    """The query's groups. At each word the longest synonym term that starts there wins and its
    whole synonym line joins the group; other words are groups of one unless they are stop words."""
    words = query_words(query)
    based = [_base(word) for word in words]
    lines = [synonym_terms(text) for text in synonyms]
    groups: list[Group] = []
    position = 0
    while position < len(words):
        best: tuple[int, list[tuple[str, ...]]] | None = None
        for terms in lines:
            for term in terms:
                size = len(term)
                matches = tuple(based[position : position + size]) == tuple(_base(word) for word in term)
                if matches and (best is None or size > best[0]):
                    best = (size, terms)
        if best is not None:
            size, terms = best
            typed = tuple(words[position : position + size])
            alternatives = [Alternative(typed, typed=True)]
            alternatives += [
                Alternative(term, typed=False)
                for term in terms
                if tuple(_base(word) for word in term) != tuple(based[position : position + size])
            ]
            groups.append(tuple(alternatives))
            position += size
            continue
        if words[position].casefold() not in STOP_WORDS:
            groups.append((Alternative((words[position],), typed=True),))
        position += 1
    if not groups:  # only stop words: search for them after all
        groups = [(Alternative((word,), typed=True),) for word in words]
    return groups


# ---------------------------------------------------------------------------------------------
# Query languages


def tsquery(groups: Sequence[Group], *, every: bool = True) -> str:
    """PostgreSQL's raw tsquery. Only \\w+ words reach it, so no operator can be smuggled in."""

    def alternative(alt: Alternative) -> str:
        if alt.typed:
            return " & ".join(f"{word}:*" for word in alt.words)
        return " <-> ".join(alt.words)

    joined = [" | ".join(f"({alternative(alt)})" for alt in group) for group in groups]
    return (" & " if every else " | ").join(f"({part})" for part in joined)


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def fts_query(groups: Sequence[Group], *, every: bool = True) -> str:
    """FTS5's query: every word a quoted string, so nothing typed is read as syntax."""

    def alternative(alt: Alternative) -> str:
        if alt.typed:
            return " AND ".join(f"{_fts_string(word)}*" for word in alt.words)
        return _fts_string(" ".join(alt.words))

    joined = [" OR ".join(f"({alternative(alt)})" for alt in group) for group in groups]
    return (" AND " if every else " OR ").join(f"({part})" for part in joined)


def fts_matching_ids(groups: Sequence[Group], *, limit: int, every: bool = True) -> list[int]:
    """Runbook ids, best first (bm25 is lower for better matches)."""
    with connection.cursor() as cursor:
        cursor.execute(_FTS_MATCH, [fts_query(groups, every=every), limit])
        return [row[0] for row in cursor.fetchall()]


# ---------------------------------------------------------------------------------------------
# The index


def _alert_words(names: Iterable[str]) -> list[str]:
    """`CheckoutHighErrorRate` also as "Checkout High Error Rate", so "checkout" finds it."""
    return [f"{name} {_CAMEL.sub(' ', name)}" for name in names]


def index_texts(*, runbook, services: Iterable, steps: Iterable) -> tuple[str, str, str]:
    """What is searched, in three weights: title and alert names; symptoms, services, category
    and owner; the summary and the steps, commands included (a responder remembers
    `kubectl rollout undo`)."""
    heading = " ".join([runbook.title, *_alert_words(runbook.alert_names)])
    context = " ".join(
        [runbook.symptoms, *(f"{service.name} {service.slug}" for service in services), runbook.category, runbook.owner]
    )
    body = " ".join([runbook.summary, *(f"{step.title} {step.goal} {step.details} {step.commands}" for step in steps)])
    return heading, context, body


def _with_parts(text: str) -> str:
    """The text, then again with punctuation as spaces: PostgreSQL's parser keeps
    `replicas.exclude=pg-replica-1` or `status.json` whole, and someone typing `replicas.exclude`
    searches for its words."""
    return f"{text} {_JOINERS.sub(' ', text)}"


def search_index_write(*, runbook, services: Iterable, steps: Iterable) -> None:
    """Called by runbooks.services on every write, inside its transaction. Built from values
    already in memory: one UPDATE (PostgreSQL) or a DELETE and an INSERT (SQLite), no join."""
    heading, context, body = index_texts(runbook=runbook, services=services, steps=steps)
    if connection.vendor == "postgresql":
        from runbooks.models import Runbook

        def vector(text: str, weight: str) -> SearchVector:
            return SearchVector(Value(text), weight=weight, config=SEARCH_CONFIG)

        Runbook.objects.filter(pk=runbook.pk).update(
            search_vector=vector(heading, "A") + vector(context, "B") + vector(_with_parts(body), "C")
        )
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(_FTS_DELETE, [runbook.pk])
            cursor.execute(_FTS_INSERT, [runbook.pk, heading, context, body])
