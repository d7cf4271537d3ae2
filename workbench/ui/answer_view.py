"""An answer as HTML with every sentence traceable: the model's verified citations linked to
their passages, unverified ones marked, and after each sentence the passages matched to it
(origin "matched", styled apart: a dotted, green, superscript link). The passages are listed
below the answer, each saying whether the model cited it or it was matched.

One click on a citation opens its passage in place, under the line (NotebookLM-like): HEAD is
a small script, given to the page once (ui/app.py), that listens for clicks on `a.lh-cite` and
`a.lh-matched` and shows the passage's text beside the link (a second click hides it), and
opens its entry in the list. Without the script the links still jump to the list.
Plain functions, tested without a browser. Does not know SQL, prompts or models.
"""
from __future__ import annotations

import html
import re

CSS = """
a.lh-matched { color:#2a7a3a; text-decoration: underline dotted; font-size: 80%;
  vertical-align: super; margin-left: 2px; }
.lh-passage { display:block; margin:4px 0 6px 0; padding:6px 8px; border-left:3px solid #4c78a8;
  background: rgba(76,120,168,0.08); white-space: pre-wrap; font-size: 90%; }
.lh-passage.lh-from-match { border-left-color:#2a7a3a; background: rgba(42,122,58,0.08); }
"""

HEAD = """<style>""" + CSS + """</style>
<script>
document.addEventListener('click', (ev) => {
  const link = ev.target.closest && ev.target.closest('a.lh-cite, a.lh-matched');
  if (!link) return;
  const id = (link.getAttribute('href') || '').slice(1);
  const entry = id && document.getElementById(id);
  if (!entry) return;
  ev.preventDefault();
  const next = link.nextElementSibling;
  if (next && next.classList.contains('lh-passage')) { next.remove(); return; }
  const body = entry.querySelector('pre');
  const box = document.createElement('span');
  box.className = 'lh-passage' + (link.classList.contains('lh-matched') ? ' lh-from-match' : '');
  const head = entry.querySelector('summary').textContent;
  box.textContent = head + '\\n' + (body ? body.textContent : '');
  link.after(box);
  entry.open = true;
});
</script>"""

PASSAGE_CHARS = 600


def slug(doc_id, anchor: str) -> str:
    return f"src-{doc_id}-" + re.sub(r"[^0-9A-Za-z]+", "-", anchor).strip("-")


def _matched_links(group) -> str:
    return "".join(
        f'<a href="#{slug(c.document_id, c.anchor)}" class="lh-matched" '
        f'title="matched passage: {html.escape(c.reason)}">[{html.escape(c.anchor)}]</a>'
        for c in group)


def answer_html(text: str, citations, sections_of) -> str:
    """The answer with verified anchors linked to their passages, matched passages after their
    sentences, and the passages listed below it."""
    model = sorted((c for c in citations if c.origin == "model"), key=lambda c: c.start)
    matched: dict[int, list] = {}
    for c in citations:
        if c.origin == "matched" and c.verified:
            matched.setdefault(c.end, []).append(c)
    # each matched group goes at its sentence's end; model citations mark their own span
    marks = sorted([(c.start, 1, c) for c in model] + [(e, 0, g) for e, g in matched.items()],
                   key=lambda m: (m[0], m[1]))
    out, pos, passages = [], 0, {}
    for at, kind, item in marks:
        if at < pos and kind == 1:
            continue
        at = max(at, pos)
        out.append(html.escape(text[pos:at]))
        pos = at
        if kind == 0:
            out.append(_matched_links(item))
            for c in item:
                key = slug(c.document_id, c.anchor)
                passages.setdefault(key, [c.document_id, c.section_id, c.anchor, set()])
                passages[key][3].add("matched")
            continue
        c = item
        shown = html.escape(text[c.start:c.end])
        if c.verified:
            key = slug(c.document_id, c.anchor)
            out.append(f'<a href="#{key}" class="lh-cite">{shown}</a>')
            passages.setdefault(key, [c.document_id, c.section_id, c.anchor, set()])
            passages[key][3].add("cited by the model")
        else:
            out.append(f'<span class="lh-unverified" title="{html.escape(c.reason)}" '
                       f'style="color:#c00">{shown} ⚠ unverified</span>')
        pos = c.end
    out.append(html.escape(text[pos:]))
    items = []
    for key, (doc_id, section_id, anchor, how) in passages.items():
        sec = next((s for s in sections_of(doc_id) if s.id == section_id), None)
        body = html.escape((sec.text if sec else "")[:PASSAGE_CHARS])
        origin = " and ".join(sorted(how, key=lambda h: h != "cited by the model"))
        items.append(f'<details id="{key}"><summary>{html.escape(anchor)} '
                     f'(document {doc_id}) · {origin}</summary>'
                     f'<pre style="white-space:pre-wrap">{body}</pre></details>')
    return (f'<div id="lh-answer" style="white-space:pre-wrap">{"".join(out)}</div>'
            + ("<h4>Sources</h4>" + "".join(items) if items else ""))
