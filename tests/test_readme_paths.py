"""Every file and folder the README names exists: its prose (`db/members/ledger.py`,
`db/customers/{profile,search}.py`, `web/core/templating.render`) and its tree, whose indented
lines name packages (`  customers/   service.py, ...`) under the folder above them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOPS = ("db", "web", "components", "static", "tests", "scripts")


def _expand(path: str) -> list[str]:
    """`a/{b,c}.py` -> ["a/b.py", "a/c.py"]."""
    match = re.search(r"\{([^{}]*)\}", path)
    if not match:
        return [path]
    return [p for part in match.group(1).split(",")
            for p in _expand(path[:match.start()] + part + path[match.end():])]


def _exists(path: str) -> bool:
    if (ROOT / path).exists():
        return True
    # A module's attribute (`web/core/templating.render`): the module must exist.
    module = path.rsplit(".", 1)[0]
    return "." in Path(path).name and (ROOT / f"{module}.py").exists()


def _prose_paths() -> set[str]:
    found = set()
    for match in re.finditer(rf"(?<![\w/.-])((?:{'|'.join(TOPS)})/[\w./{{}},*-]*)", README):
        path = match.group(1).rstrip(".,")
        if "*" in path or "<" in path:
            continue
        found.update(_expand(path))
    return found


def _tree_paths() -> set[str]:
    block = README[README.index("## Architecture"):]
    block = block[block.index("```") + 3:]
    block = block[:block.index("```")]
    found, root, package = set(), "", ""
    for line in block.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):  # a top-level entry: `db/`, `db/<domain>/`, `db/jobs/`
            root, package = line.split()[0].replace("<domain>/", ""), ""
            segments = [("", line[len(line.split()[0]):])]
        else:
            # `  name/   text` opens a package; `;  other/  text` opens another on the same line;
            # a line indented further continues the last one.
            marks = list(re.finditer(r"(?:^\s{2}|;\s+)(\w+)/\s", line))
            if not marks:
                segments = [(package, line)]
            else:
                segments = [(package, line[:marks[0].start()])] if marks[0].start() else []
                for i, mark in enumerate(marks):
                    end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
                    segments.append((mark.group(1), line[mark.end():end]))
                    found.add(root + mark.group(1))
                package = marks[-1].group(1)
        for pkg, text in segments:
            for name in re.findall(r"(?<![\w/.])(\w+\.py)\b", text):
                found.add(f"{root}{pkg}/{name}" if pkg else f"{root}{name}")
            for folder in re.findall(r"(?<![\w/.])(\w+)/(?=[\s,)])", text):
                if pkg:
                    found.add(f"{root}{pkg}/{folder}")
    return found


def test_the_readme_names_only_paths_that_exist():
    named = _prose_paths() | _tree_paths()
    assert len(named) > 60  # the parser still finds the tree
    missing = sorted(p for p in named if not _exists(p))
    assert not missing, f"the README names paths that do not exist: {missing}"
