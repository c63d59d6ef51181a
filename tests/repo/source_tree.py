"""The repository's source tree, as the repository checks see it.

Source folders are the product's code: agent/, common/, controller/ (and
everything under it), platform/, and client/ and web-ui/ once they exist.
A source file is a file under them with one of SOURCE_SUFFIXES (build files
such as CMakeLists.txt are not units). Walks the working tree, so a file
added or removed is seen without telling anyone; skips build output,
hidden folders and node_modules.
"""

import os

SOURCE_ROOTS = ("agent", "common", "controller", "platform", "client", "web-ui")
SOURCE_SUFFIXES = (".h", ".cc", ".proto", ".js", ".mjs", ".css", ".html", ".py",
                   ".sh", ".sql")
# Folder names never walked: build trees, dependencies, editor and VCS state.
SKIPPED_DIRS = ("node_modules", "__pycache__")


def repo_root():
    """The repository: two levels above this file (tests/repo/)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def skipped(name):
    return (name.startswith(".") or name.startswith("build")
            or name in SKIPPED_DIRS)


def walk(root, top):
    """Yields (folder, file names) under root/top, paths relative to root."""
    start = os.path.join(root, top)
    if not os.path.isdir(start):
        return
    for path, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if not skipped(d))
        yield os.path.relpath(path, root), sorted(files)


def source_files(root):
    """Every source file, as a path relative to root ('agent/server.cc')."""
    found = []
    for top in SOURCE_ROOTS:
        for folder, files in walk(root, top):
            found.extend(os.path.join(folder, f) for f in files
                         if f.endswith(SOURCE_SUFFIXES))
    return sorted(found)


def folders(root):
    """Every folder of the repository that holds files, relative to root,
    with a trailing slash ('controller/lease/'). Top-level folders are
    included even when they hold only folders."""
    found = set()
    for top in sorted(os.listdir(root)):
        if skipped(top) or not os.path.isdir(os.path.join(root, top)):
            continue
        found.add(top + "/")
        for folder, files in walk(root, top):
            if files:
                found.add(folder + "/")
    return sorted(found)
