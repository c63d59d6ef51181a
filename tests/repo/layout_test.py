"""docs/LAYOUT.md against the tree: every folder and every source unit is
listed, and everything listed still exists.

What LAYOUT.md must hold (the checks read nothing else):
  - every folder of the repository that holds files, as `path/` (in
    backticks) anywhere in the text; every `path/` it names must exist;
  - every file it names in backticks (`deploy/test.sh`, `stack.h`) must
    exist: a path from the root, or a bare name somewhere in the tree;
  - for each source folder (tests/repo/source_tree.py), a heading
    "### `folder/`" followed by a table whose rows start with the folder's
    units in backticks: `name.h/.cc` for a pair, `name.h` or `main.cc` for
    a single file. A source file missing from its folder's table, or a
    name in a table that is not in that folder, fails the test.

Run by ctest (repo_layout); also `python3 tests/repo/layout_test.py`.
"""

import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import source_tree  # noqa: E402

HEADING = re.compile(r"^#{2,4}\s+`([^`\s]+/)`")
UNIT = re.compile(r"^([A-Za-z0-9_.-]+?)((?:\.[A-Za-z0-9]+)(?:/\.[A-Za-z0-9]+)*)$")
FOLDER_TOKEN = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/)`")
FILE_TOKEN = re.compile(
    r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.[a-z]+(?:/\.[a-z]+)*)`")


def expand(token):
    """`lease_server.h/.cc` -> [lease_server.h, lease_server.cc]; None when
    the token is not a unit name."""
    match = UNIT.match(token)
    if not match:
        return None
    stem, suffixes = match.groups()
    return [stem + suffix for suffix in suffixes.split("/")]


def listed_units(layout):
    """{folder/: {file names}} from the unit tables of LAYOUT.md."""
    units = {}
    folder = None
    for line in layout.splitlines():
        heading = HEADING.match(line)
        if heading:
            folder = heading.group(1)
            units.setdefault(folder, set())
            continue
        if line.startswith("#"):
            folder = None
            continue
        if folder is None or not line.startswith("|"):
            continue
        first_cell = line.strip("|").split("|")[0]
        for token in re.findall(r"`([^`]+)`", first_cell):
            names = expand(token.strip())
            if names:
                units[folder].update(names)
    return units


def unit_problems(root, layout):
    """What is wrong between the source files and LAYOUT.md's unit tables."""
    problems = []
    units = listed_units(layout)
    actual = {}
    for path in source_tree.source_files(root):
        folder, name = os.path.split(path)
        actual.setdefault(folder + "/", set()).add(name)
    for folder, names in sorted(actual.items()):
        if folder not in units:
            problems.append(
                "%s: no \"### `%s`\" table in docs/LAYOUT.md listing its "
                "units (%s)" % (folder, folder, ", ".join(sorted(names))))
            continue
        for name in sorted(names - units[folder]):
            problems.append(
                "%s%s is not in docs/LAYOUT.md: add a row for it under "
                "\"### `%s`\" (`%s` or, for a pair, `stem.h/.cc`) saying "
                "what it is" % (folder, name, folder, name))
    for folder, names in sorted(units.items()):
        for name in sorted(names - actual.get(folder, set())):
            problems.append(
                "docs/LAYOUT.md lists %s%s, which does not exist: remove or "
                "rename its row" % (folder, name))
    return problems


def folder_problems(root, layout):
    """Folders missing from LAYOUT.md, and folders it names that are gone."""
    named = set(FOLDER_TOKEN.findall(layout))
    problems = []
    for folder in source_tree.folders(root):
        if folder not in named:
            problems.append(
                "folder %s is not in docs/LAYOUT.md: name it as `%s` with "
                "what it holds" % (folder, folder))
    for folder in sorted(named):
        if not os.path.isdir(os.path.join(root, folder)):
            problems.append(
                "docs/LAYOUT.md names `%s`, which is not a folder of the "
                "repository: fix or remove it" % folder)
    return problems


def all_files(root):
    """Every file of the repository (skipping what source_tree skips), as
    paths relative to root."""
    found = set()
    for top in os.listdir(root):
        if source_tree.skipped(top):
            continue
        if os.path.isfile(os.path.join(root, top)):
            found.add(top)
            continue
        for folder, files in source_tree.walk(root, top):
            found.update(os.path.join(folder, f) for f in files)
    return found


def file_problems(root, layout):
    """Files LAYOUT.md names (anywhere, in backticks) that do not exist."""
    files = all_files(root)
    names = {os.path.basename(f) for f in files}
    problems = []
    for token in sorted(set(FILE_TOKEN.findall(layout))):
        # `dir/x.h/.cc`: the folder is what precedes the unit `x.h/.cc`.
        base, more = re.match(r"^(.*?)((?:/\.[a-z]+)*)$", token).groups()
        folder = os.path.dirname(base)
        for name in expand(os.path.basename(base) + more) or []:
            path = os.path.join(folder, name)
            exists = path in files if folder else name in names
            if not exists:
                problems.append(
                    "docs/LAYOUT.md names `%s`, which is not a file of the "
                    "repository: fix or remove it" % path)
    return problems


class LayoutTest(unittest.TestCase):
    def setUp(self):
        self.root = source_tree.repo_root()
        with open(os.path.join(self.root, "docs", "LAYOUT.md")) as f:
            self.layout = f.read()

    def test_every_source_unit_is_listed_and_exists(self):
        problems = unit_problems(self.root, self.layout)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_every_folder_is_listed_and_exists(self):
        problems = folder_problems(self.root, self.layout)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_every_file_named_exists(self):
        problems = file_problems(self.root, self.layout)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))


class CheckerSelfTest(unittest.TestCase):
    """The checks catch what they are meant to, on a made-up tree."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="sluice-layout-test-")
        for path in ("agent/a.h", "agent/a.cc", "agent/b.cc",
                     "agent/sub/c.h", "docs/x.md", "build/junk/d.cc"):
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            open(full, "w").close()

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_reports_unlisted_and_missing_units(self):
        layout = ("### `agent/`\n| unit | what |\n|---|---|\n"
                  "| `a.h/.cc` | a |\n| `gone.h` | was here |\n")
        problems = unit_problems(self.root, layout)
        self.assertEqual(len(problems), 3, problems)
        self.assertIn("agent/b.cc is not in docs/LAYOUT.md", problems[0])
        self.assertIn("agent/sub/", problems[1])
        self.assertIn("lists agent/gone.h", problems[2])

    def test_a_complete_layout_passes(self):
        layout = ("### `agent/`\n|---|\n| `a.h/.cc`, `b.cc` | a, b |\n"
                  "### `agent/sub/`\n| `c.h` | c |\n")
        self.assertEqual(unit_problems(self.root, layout), [])

    def test_reports_unlisted_and_stale_folders(self):
        layout = "`agent/` `agent/sub/` `gone/`"
        problems = folder_problems(self.root, layout)
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("folder docs/ is not in", problems[0])
        self.assertIn("`gone/`", problems[1])

    def test_reports_files_named_that_do_not_exist(self):
        layout = "`agent/a.h` `b.cc` `c.h/.cc` `docs/gone.md` `a.h/.cc`"
        problems = file_problems(self.root, layout)
        self.assertEqual(len(problems), 2, problems)  # agent/sub/c.h exists
        self.assertIn("`c.cc`", problems[0])
        self.assertIn("`docs/gone.md`", problems[1])

    def test_expand(self):
        self.assertEqual(expand("x.h/.cc"), ["x.h", "x.cc"])
        self.assertEqual(expand("main.cc"), ["main.cc"])
        self.assertIsNone(expand("RL.CHECK answers"))


if __name__ == "__main__":
    unittest.main()
