"""Final Draft (.fdx) screenplays.

Why hand-walked: FDX is plain XML whose structure is the `Type` attribute of each top-level
`<Paragraph>` (Scene Heading with its `Number`, Action, Character, Parenthetical, Dialogue,
Transition; `<DualDialogue>` nests a Character/Dialogue run). screenplay-tools' FDX reader
uses the standard-library XML parser (unsafe on hostile files), drops scene numbers and skips
dual dialogue, so the walk is done here on defusedxml, which refuses entity definitions
(billion-laughs bombs), DTDs and external references.

Owns: FDX XML -> elements and title page. Does not know: scenes or stats (scenes.py).
"""
from __future__ import annotations

from xml.etree.ElementTree import Element as XmlElement
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from workbench.errors import UnsupportedDocument
from workbench.importers.base import ParsedDocument
from workbench.importers.decoding import head_text
from workbench.importers.scenes import Element, assemble

SUFFIXES = (".fdx",)

_TYPES = {
    "Scene Heading": "heading",
    "Character": "character",
    "Dialogue": "dialogue",
    "Parenthetical": "parenthetical",
    "Transition": "transition",
    "Lyrics": "dialogue",
}


def sniff(data: bytes, filename: str) -> bool:
    head = head_text(data, 4096).lstrip()
    if not head.startswith("<"):
        return False
    return "<FinalDraft" in head or filename.lower().endswith(SUFFIXES)


def _load(data: bytes, filename: str) -> XmlElement:
    if not data.strip():
        raise UnsupportedDocument("The file is empty.", filename)
    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise UnsupportedDocument(
            "This Final Draft file declares XML entities or a document type, which Final Draft "
            "never writes; it was refused because such files can be used to attack the "
            "program (for example an 'entity bomb').", filename) from None
    except (ParseError, ValueError, LookupError) as exc:  # LookupError: unknown encoding=
        raise UnsupportedDocument(
            f"This Final Draft file is damaged or incomplete (the XML is broken: {exc}). "
            "Try saving it again from Final Draft.", filename) from None


def _text(paragraph: XmlElement) -> str:
    return "".join("".join(t.itertext()) for t in paragraph.findall("Text")).strip()


def _paragraphs(content: XmlElement):
    for p in content.findall("Paragraph"):
        dual = p.find("DualDialogue")
        if dual is not None:
            yield from dual.findall("Paragraph")
        else:
            yield p


def to_elements(root: XmlElement) -> list[Element]:
    out: list[Element] = []
    content = root.find("Content")
    if content is None:
        return out
    for p in _paragraphs(content):
        text = _text(p)
        kind = _TYPES.get(p.get("Type", "Action"), "action")
        if not text and kind != "heading":
            continue
        if kind == "parenthetical" and text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        number = (p.get("Number") or "").strip() or None if kind == "heading" else None
        if kind == "action" and out and out[-1].type == "action":
            out[-1].text += "\n\n" + text
        else:
            out.append(Element(kind, text, number))
    return out


def title_page(root: XmlElement) -> list[str]:
    content = root.find("TitlePage/Content")
    if content is None:
        return []
    return [t for t in (_text(p) for p in content.findall("Paragraph")) if t]


def parse(data: bytes, filename: str) -> ParsedDocument:
    root = _load(data, filename)
    if root.tag != "FinalDraft":
        raise UnsupportedDocument(
            f"This XML file is not a Final Draft screenplay (it starts with <{root.tag}>).",
            filename)
    elements = to_elements(root)
    text, sections, stats = assemble(elements)
    if not sections:
        raise UnsupportedDocument("This Final Draft file has no screenplay text in it.",
                                  filename)
    page = title_page(root)
    title = page[0] if page else filename.rsplit(".", 1)[0]
    return ParsedDocument(title=title, kind="screenplay", format="fdx", text=text,
                          sections=sections, stats=stats,
                          metadata={"title_page": page, "fdx_version": root.get("Version")})
