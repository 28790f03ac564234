"""A structural check of an EPUB 3 file, and epubcheck when it is installed."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree as ET

NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
}
EPUBCHECK_JARS = (Path("/usr/share/java/epubcheck.jar"),)


def check_epub(data: bytes) -> dict:
    """Assert the EPUB's structure; returns what a test may check further:
    metadata, chapter titles in spine order, and the contents' titles."""
    assert zipfile.is_zipfile(io.BytesIO(data)), "not a zip file"
    book = zipfile.ZipFile(io.BytesIO(data))
    assert book.testzip() is None, "a zip member is corrupt"
    first = book.infolist()[0]
    assert first.filename == "mimetype", f"the first member is {first.filename!r}, not 'mimetype'"
    assert first.compress_type == zipfile.ZIP_STORED, "mimetype is compressed"
    assert first.extra == b"", "mimetype has an extra field"
    assert book.read("mimetype") == b"application/epub+zip"

    container = ET.fromstring(book.read("META-INF/container.xml"))
    rootfile = container.find("c:rootfiles/c:rootfile", NS)
    assert rootfile is not None and rootfile.get("media-type") == "application/oebps-package+xml"
    opf_path = PurePosixPath(rootfile.get("full-path"))
    package = ET.fromstring(book.read(str(opf_path)))
    assert package.get("version") == "3.0", "not an EPUB 3 package document"

    metadata = package.find("opf:metadata", NS)
    meta = {name: [e.text for e in metadata.findall(f"dc:{name}", NS)] for name in ("title", "creator", "language", "identifier")}
    for name, values in meta.items():
        assert values and values[0], f"the package document has no dc:{name}"

    def resolve(href: str) -> str:
        return str(opf_path.parent / href.split("#")[0]) if str(opf_path.parent) != "." else href.split("#")[0]

    manifest = {item.get("id"): item for item in package.findall("opf:manifest/opf:item", NS)}
    for item in manifest.values():
        assert resolve(item.get("href")) in book.namelist(), f"manifest lists {item.get('href')} but the zip lacks it"
    spine = [ref.get("idref") for ref in package.findall("opf:spine/opf:itemref", NS)]
    assert spine and all(ref in manifest for ref in spine), "the spine names items the manifest lacks"

    navs = [i for i in manifest.values() if "nav" in (i.get("properties") or "").split()]
    assert len(navs) == 1, "no navigation document (properties='nav')"
    documents = [i for i in manifest.values() if i.get("media-type") == "application/xhtml+xml"]
    chapters = [i for i in documents if i is not navs[0]]
    assert chapters, "no chapter documents"
    for item in documents:
        root = ET.fromstring(book.read(resolve(item.get("href"))))  # XHTML must be well-formed XML
        assert root.tag == f"{{{NS['x']}}}html", f"{item.get('href')} is not XHTML"
    for item in chapters:
        assert item.get("id") in spine, f"chapter {item.get('href')} is not in the spine"

    nav = ET.fromstring(book.read(resolve(navs[0].get("href"))))
    toc = next(n for n in nav.iter(f"{{{NS['x']}}}nav") if n.get(f"{{{NS['epub']}}}type") == "toc")
    links = [(a.get("href").split("#")[0], "".join(a.itertext()).strip()) for a in toc.iter(f"{{{NS['x']}}}a")]
    assert sorted(h for h, _ in links) == sorted(i.get("href") for i in chapters), "the contents do not list every chapter"

    order = {ref: n for n, ref in enumerate(spine)}
    in_order = sorted(chapters, key=lambda i: order[i.get("id")])
    titles = []
    for item in in_order:
        page = ET.fromstring(book.read(resolve(item.get("href"))))
        heading = page.find(".//x:h1", NS)
        titles.append("".join(heading.itertext()).strip() if heading is not None else "")
    return {"metadata": meta, "chapters": titles, "toc": [t for _, t in links],
            "texts": ["".join(ET.fromstring(book.read(resolve(i.get("href")))).itertext()) for i in in_order]}


def epubcheck_command() -> list[str] | None:
    """How to run epubcheck here (Debian's package), or None."""
    java = shutil.which("java")
    for jar in EPUBCHECK_JARS:
        if java and jar.is_file():
            return [java, "-jar", str(jar)]
    return None


def run_epubcheck(path: Path) -> subprocess.CompletedProcess:
    command = epubcheck_command()
    assert command is not None
    return subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=300)
