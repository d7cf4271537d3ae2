"""Full-text search over sections (SQLite FTS5 or PostgreSQL tsvector), safe for whatever a
writer types.

A user query is never passed to MATCH as FTS5 syntax: each whitespace-separated word becomes a
quoted phrase token (inner quotes doubled), text inside double quotes stays one phrase, and a
trailing `*` asks for a prefix match. Operators (AND, OR, NEAR), column filters and
punctuation therefore match literally or vanish, control characters are dropped, and nothing
raises an SQL error. All tokens must match (implicit AND). Only the latest version of each
document is searched: the sections of its content row (a restored version shares an older
row's sections, migration 0010).
Reference: https://sqlite.org/fts5.html (sections 3.1 strings, 5 snippet(), bm25()).
On PostgreSQL the same terms become a tsquery built by the server itself from bound values
(`phraseto_tsquery` per term, `:*` on a prefix term's last word, all joined with `&&`) against
the generated `sections.search` column (migration 0001), ranked by `ts_rank` (negated, so lower
is better as with bm25) and quoted by `ts_headline`. Hits, their order by rank then section id,
and the snippet markers are the same shape on both; rank values and snippet cuts differ.
Reference: https://www.postgresql.org/docs/15/textsearch-controls.html.
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
  AND s.version_id = (SELECT coalesce(v2.content_version_id, v2.id) FROM versions AS v2
                     WHERE v2.document_id = d.id ORDER BY v2.version DESC LIMIT 1)
ORDER BY rank, s.id
LIMIT :limit
""")


_PG_CONFIG = "'longhand'::regconfig"
_PG_LATEST = """JOIN versions AS v ON v.id = s.version_id
JOIN documents AS d ON d.id = v.document_id
WHERE s.search @@ q.query AND d.project_id = :project_id
  AND s.version_id = (SELECT coalesce(v2.content_version_id, v2.id) FROM versions AS v2
                     WHERE v2.document_id = d.id ORDER BY v2.version DESC LIMIT 1)"""
_PG_HEADLINE = (f"CASE WHEN to_tsvector({_PG_CONFIG}, s.text) @@ q.query OR s.heading IS NULL "
                f"THEN ts_headline({_PG_CONFIG}, s.text, q.query, :options) "
                f"ELSE ts_headline({_PG_CONFIG}, s.heading, q.query, :options) END")
_PG_OPTIONS = (f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords={SNIPPET_TOKENS}, "
               "MinWords=8, MaxFragments=1, ShortWord=0")


def _phrase(raw: str) -> str:
    return '"' + raw.replace('"', '""') + '"'


def terms(user_query: str) -> list[tuple[str, bool]]:
    """The query's phrases (as typed, trimmed) and whether each asks for a prefix match."""
    # Control characters (NUL ends the string inside SQLite) and lone surrogates become spaces.
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch
                      for ch in user_query)
    found: list[tuple[str, bool]] = []
    for match in _PIECE.finditer(cleaned):
        quoted, bare = match.group(1), match.group(2)
        raw = quoted if quoted is not None else bare
        prefix = bare is not None and bare.endswith("*")
        raw = raw.rstrip("*") if prefix else raw
        if not _WORDISH.search(raw):
            continue
        found.append((raw.strip(), prefix))
    return found[:MAX_TERMS]


def fts_query(user_query: str) -> str | None:
    """FTS5 MATCH text for a free-form query, or None when it holds nothing searchable."""
    return " ".join(_phrase(raw) + (" *" if prefix else "")
                    for raw, prefix in terms(user_query)) or None


def _pg_search_sql(phrases: list[tuple[str, bool]]) -> tuple[str, dict]:
    parts, params = [], {}
    for i, (raw, prefix) in enumerate(phrases):
        params[f"t{i}"] = raw
        one = f"phraseto_tsquery({_PG_CONFIG}, :t{i})"
        # a prefix term: the server's own phrase, its last word marked `:*` (NULL if no words)
        parts.append(f"(NULLIF({one}::text, '') || ':*')::tsquery" if prefix else one)
    sql = (f"SELECT s.id AS section_id, s.anchor AS anchor, d.id AS document_id, "
           f"d.title AS title, {_PG_HEADLINE} AS snippet, -ts_rank(s.search, q.query) AS rank "
           f"FROM (SELECT {' && '.join(parts)} AS query) AS q CROSS JOIN sections AS s "
           f"{_PG_LATEST} ORDER BY rank, s.id LIMIT :limit")
    return sql, params


def _search_postgres(session: Session, project_id: int, phrases: list[tuple[str, bool]],
                     limit: int) -> list[dict]:
    sql, params = _pg_search_sql(phrases)
    params.update(options=_PG_OPTIONS, project_id=project_id, limit=limit)
    return list(session.execute(text(sql), params).mappings())


def search(session: Session, project_id: int, user_query: str, limit: int) -> list[SearchHit]:
    phrases = terms(user_query)
    if not phrases or limit <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = _search_postgres(session, project_id, phrases, limit)
    else:
        rows = session.execute(_SEARCH_SQL, {
            "open": SNIPPET_OPEN, "close": SNIPPET_CLOSE, "ellipsis": SNIPPET_ELLIPSIS,
            "query": fts_query(user_query), "project_id": project_id, "limit": limit,
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
    best first. Each word is one quoted token, so nothing in it is FTS5 syntax; on PostgreSQL
    each is a bound `plainto_tsquery`, OR-ed, ranked by negated `ts_rank`."""
    terms = [_phrase(w) for w in dict.fromkeys(words) if _WORDISH.search(w)][:MAX_TERMS]
    ids = [int(i) for i in section_ids]
    if not terms or not ids or limit <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        words = [w for w in dict.fromkeys(words) if _WORDISH.search(w)][:MAX_TERMS]
        params = {f"w{i}": w for i, w in enumerate(words)}
        query = " || ".join(f"plainto_tsquery({_PG_CONFIG}, :w{i})" for i in range(len(words)))
        sql = text(f"SELECT s.id AS section_id, -ts_rank(s.search, q.query) AS rank "
                   f"FROM (SELECT {query} AS query) AS q CROSS JOIN sections AS s "
                   f"WHERE s.search @@ q.query AND s.id IN ({','.join(str(i) for i in ids)}) "
                   f"ORDER BY rank, s.id LIMIT :limit")
        rows = session.execute(sql, {**params, "limit": limit}).mappings()
        return [(int(r["section_id"]), float(r["rank"])) for r in rows]
    sql = text(_RANK_SQL.format(ids=",".join(str(i) for i in ids)))
    rows = session.execute(sql, {"query": " OR ".join(terms), "limit": limit}).mappings()
    return [(int(r["section_id"]), float(r["rank"])) for r in rows]
