"""Full-text search over sections with SQLite FTS5, safe for whatever a writer types.

A user query is never passed to MATCH as FTS5 syntax: each whitespace-separated word becomes a
quoted phrase token (inner quotes doubled), text inside double quotes stays one phrase, and a
trailing `*` asks for a prefix match. Operators (AND, OR, NEAR), column filters and
punctuation therefore match literally or vanish, control characters are dropped, and nothing
raises an SQL error. All tokens must match (implicit AND). Only the latest version of each
document is searched.
Reference: https://sqlite.org/fts5.html (sections 3.1 strings, 5 snippet(), bm25()).
Does not know: how sections were produced, or the session's lifetime.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import text
from sqlalchemy.orm import Session

from workbench.library.types import SearchHit

SNIPPET_OPEN, SNIPPET_CLOSE, SNIPPET_ELLIPSIS = "«", "»", "…"
SNIPPET_TOKENS = 16
MAX_TERMS = 32
_PIECE = re.compile(r'"([^"]*)"?|(\S+)')
_WORDISH = re.compile(r"\w", re.UNICODE)

_SEARCH_SQL = text(f"""
SELECT s.id AS section_id, s.anchor AS anchor, d.id AS document_id, d.title AS title,
       snippet(sections_fts, -1, :open, :close, :ellipsis, {SNIPPET_TOKENS}) AS snippet,
       bm25(sections_fts) AS rank
FROM sections_fts
JOIN sections AS s ON s.id = sections_fts.rowid
JOIN versions AS v ON v.id = s.version_id
JOIN documents AS d ON d.id = v.document_id
WHERE sections_fts MATCH :query
  AND d.project_id = :project_id
  AND v.version = (SELECT max(v2.version) FROM versions AS v2 WHERE v2.document_id = d.id)
ORDER BY rank, s.id
LIMIT :limit
""")


def _phrase(raw: str) -> str:
    return '"' + raw.replace('"', '""') + '"'


def fts_query(user_query: str) -> str | None:
    """FTS5 MATCH text for a free-form query, or None when it holds nothing searchable."""
    # Control characters (NUL ends the string inside SQLite) and lone surrogates become spaces.
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch
                      for ch in user_query)
    terms: list[str] = []
    for match in _PIECE.finditer(cleaned):
        quoted, bare = match.group(1), match.group(2)
        raw = quoted if quoted is not None else bare
        prefix = bare is not None and bare.endswith("*")
        raw = raw.rstrip("*") if prefix else raw
        if not _WORDISH.search(raw):
            continue
        terms.append(_phrase(raw.strip()) + (" *" if prefix else ""))
    return " ".join(terms[:MAX_TERMS]) or None


def search(session: Session, project_id: int, user_query: str, limit: int) -> list[SearchHit]:
    query = fts_query(user_query)
    if query is None or limit <= 0:
        return []
    rows = session.execute(_SEARCH_SQL, {
        "open": SNIPPET_OPEN, "close": SNIPPET_CLOSE, "ellipsis": SNIPPET_ELLIPSIS,
        "query": query, "project_id": project_id, "limit": limit,
    }).mappings()
    return [SearchHit(document_id=r["document_id"], document_title=r["title"],
                      section_id=r["section_id"], anchor=r["anchor"], snippet=r["snippet"],
                      rank=float(r["rank"])) for r in rows]


_RANK_SQL = """
SELECT rowid AS section_id, bm25(sections_fts) AS rank
FROM sections_fts
WHERE sections_fts MATCH :query AND rowid IN ({ids})
ORDER BY rank, rowid
LIMIT :limit
"""


def rank_sections(session: Session, section_ids: list[int], words: list[str],
                  limit: int) -> list[tuple[int, float]]:
    """(section id, BM25 rank; lower is better) of the given sections that hold any of `words`,
    best first. Each word is one quoted token, so nothing in it is FTS5 syntax."""
    terms = [_phrase(w) for w in dict.fromkeys(words) if _WORDISH.search(w)][:MAX_TERMS]
    ids = [int(i) for i in section_ids]
    if not terms or not ids or limit <= 0:
        return []
    sql = text(_RANK_SQL.format(ids=",".join(str(i) for i in ids)))
    rows = session.execute(sql, {"query": " OR ".join(terms), "limit": limit}).mappings()
    return [(int(r["section_id"]), float(r["rank"])) for r in rows]
