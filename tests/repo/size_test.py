"""Short files and short functions: no source file (tests/repo/source_tree.py)
over MAX_FILE_LINES lines, no C++ function over MAX_FUNCTION_LINES lines,
except the entries of the allowlists below, each with its reason. An entry
that is no longer over its limit (or no longer exists) fails the test too,
so the lists only shrink.

How functions are found (a heuristic that relies on clang-format's Google
style, which every C++ file here follows):
  - a function starts on a line at its scope's column (0 in a namespace, 2
    in a class body, 4 in a class nested in it ...) whose text up to the
    first line ending in `{` or `;` is a signature: it has a `(`, no `=`
    before it, and it is not a class, struct, union, enum or namespace;
  - it ends at the next line that starts with `}` at that same column;
  - its length counts both lines and everything between (comments too);
  - a class, struct or union defined at the scope's column opens a scope
    two columns deeper; a namespace opens none (its members stay at 0);
  - a body on one line, a declaration ending in `;` and an initializer
    (`= {`, a lambda assigned to a constant) are not functions; lambdas and
    blocks inside a function count towards that function.
Applied to .h and .cc files. Run by ctest (repo_sizes); also
`python3 tests/repo/size_test.py`.
"""

import collections
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import source_tree  # noqa: E402

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80

# path -> why it is longer than MAX_FILE_LINES for now.
LONG_FILES = {}

# (path, function) -> why it is longer than MAX_FUNCTION_LINES for now.
LONG_FUNCTIONS = {
    ("common/envoy_import.cc", "VisitDescriptor"):
        "not split yet: one descriptor level of envoyproxy/ratelimit's "
        "configuration, its checks and notes in order; 86 lines",
    ("agent/resp/resp_parser.cc", "RespParser::Next"):
        "the RESP2 request state machine: one switch over the parse phases, "
        "each case a short step that hands the position to the next; split "
        "up, the phases would pass the same state through members and the "
        "loop would be harder to follow (the fuzz target covers it whole)",
}

Function = collections.namedtuple("Function", "name line length")

CONTAINER = re.compile(r"^(template\s*<.*>\s*)?(class|struct|union)\b")
NAMESPACE = re.compile(r"^(inline\s+)?namespace\b|^extern\s+\"C\"")
ENUM = re.compile(r"^(template\s*<.*>\s*)?enum\b")
NAME = re.compile(r"(operator\s*[^\s(]+|[A-Za-z_~][\w:~]*)\s*\(")


def strip_comment(line):
    """The line without a trailing // comment (quotes respected)."""
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif line.startswith("//", i):
            return line[:i].rstrip()
        i += 1
    return line.rstrip()


def indent(line):
    return len(line) - len(line.lstrip(" "))


def header_end(lines, i):
    """Index of the line that ends the declaration starting at lines[i]."""
    j = i
    while j < len(lines):
        text = strip_comment(lines[j])
        if text.endswith(("{", ";", "}")):
            return j
        j += 1
    return len(lines) - 1


def closing(lines, start, col):
    """Index of the first line after `start` starting with `}` at `col`."""
    prefix = " " * col + "}"
    for k in range(start + 1, len(lines)):
        if lines[k].startswith(prefix):
            return k
    return len(lines) - 1


def kind_of(header):
    """'container', 'namespace', 'function' or 'other' for a header that
    ends in `{`."""
    if NAMESPACE.match(header):
        return "namespace"
    if CONTAINER.match(header):
        # `struct X {` opens a scope; `struct X x = {` is a variable.
        return "other" if "=" in header or "(" in header else "container"
    if ENUM.match(header):
        return "other"
    paren = header.find("(")
    if paren < 0:
        return "other"
    # `X kY = {...}` and `auto f = [] {...}` are initializers; `operator==`
    # is a name.
    if "=" in re.sub(r"operator\s*[^\s(]*", "operator", header[:paren]):
        return "other"
    return "function"


def functions(text):
    """The functions of a C++ file (see the module comment)."""
    lines = text.split("\n")
    found = []
    scopes = [0]  # column of the current scope's members
    i = 0
    while i < len(lines):
        stripped = strip_comment(lines[i]).strip()
        col = indent(lines[i])
        if not stripped or stripped.startswith(("#", "/*", "*")):
            i += 1
            continue
        if len(scopes) > 1 and col == scopes[-1] - 2 and stripped[0] == "}":
            scopes.pop()  # the end of a class body
            i += 1
            continue
        if col != scopes[-1] or stripped[0] == "}" or stripped.endswith(":"):
            i += 1
            continue
        end = header_end(lines, i)
        header = " ".join(strip_comment(l).strip() for l in lines[i:end + 1])
        if not header.endswith("{"):
            i = end + 1  # a declaration, or a body on one line
            continue
        kind = kind_of(header)
        if kind == "namespace":
            i = end + 1
            continue
        if kind == "container":
            scopes.append(col + 2)
            i = end + 1
            continue
        last = closing(lines, end, col)
        if kind == "function":
            name = NAME.search(header)
            found.append(Function(name.group(1) if name else header[:40],
                                  i + 1, last - i + 1))
        i = last + 1
    return found


def sources(root):
    for path in source_tree.source_files(root):
        with open(os.path.join(root, path), errors="replace") as f:
            yield path, f.read()


def file_problems(files):
    problems = []
    over = set()
    for path, text in files:
        length = text.count("\n")
        if length > MAX_FILE_LINES:
            over.add(path)
            if path not in LONG_FILES:
                problems.append(
                    "%s has %d lines, over %d: split it by concept (or, if "
                    "it must stay whole, add it to LONG_FILES in "
                    "tests/repo/size_test.py with the reason)"
                    % (path, length, MAX_FILE_LINES))
    for path in sorted(set(LONG_FILES) - over):
        problems.append(
            "%s is in LONG_FILES but is not over %d lines (any more): remove "
            "its entry from tests/repo/size_test.py" % (path, MAX_FILE_LINES))
    return problems


def function_problems(files):
    problems = []
    over = set()
    for path, text in files:
        if not path.endswith((".h", ".cc")):
            continue
        for f in functions(text):
            if f.length <= MAX_FUNCTION_LINES:
                continue
            over.add((path, f.name))
            if (path, f.name) not in LONG_FUNCTIONS:
                problems.append(
                    "%s:%d: %s has %d lines, over %d: split it (or add "
                    "(%r, %r) to LONG_FUNCTIONS in tests/repo/size_test.py "
                    "with the reason)" % (path, f.line, f.name, f.length,
                                          MAX_FUNCTION_LINES, path, f.name))
    for key in sorted(set(LONG_FUNCTIONS) - over):
        problems.append(
            "%s %s is in LONG_FUNCTIONS but is not over %d lines (any more, "
            "or it was renamed): remove its entry from tests/repo/size_test.py"
            % (key[0], key[1], MAX_FUNCTION_LINES))
    return problems


class SizeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = list(sources(source_tree.repo_root()))

    def test_found_the_sources(self):
        self.assertGreater(len(self.files), 50)

    def test_files_are_short(self):
        problems = file_problems(self.files)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_functions_are_short(self):
        problems = function_problems(self.files)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))


SAMPLE = """\
#include "x.h"

namespace sluice {
namespace {

constexpr int kTable[] = {
    1, 2,
};

int Small(int a) { return a; }

struct Point {
  int x = 0;
  int Sum() const {
    return x;
  }
};

}  // namespace

class Server::Connection : public Base {
 public:
  void Read() {
    auto f = [this] {
      Go();
    };
  }

 private:
  int n_ = 0;
};

std::vector<int> Server::Long(int a,
                              int b) {
  if (a) {
    return {};
  }
}

bool operator==(const A& a, const A& b) {
  return true;
}

}  // namespace sluice
"""


class FunctionParserTest(unittest.TestCase):
    def test_finds_functions_at_namespace_and_class_scope(self):
        self.assertEqual(functions(SAMPLE), [
            Function("Sum", 14, 3),
            Function("Read", 23, 5),
            Function("Server::Long", 33, 6),
            Function("operator==", 40, 3),
        ])

    def test_reports_a_long_function_and_a_stale_entry(self):
        body = "void Big() {\n" + "  x();\n" * MAX_FUNCTION_LINES + "}\n"
        problems = function_problems([("agent/big.cc", body)])
        self.assertEqual(len(problems), 1 + len(LONG_FUNCTIONS), problems)
        self.assertIn("agent/big.cc:1: Big has 82 lines", problems[0])

    def test_reports_a_long_file(self):
        problems = file_problems([("agent/big.cc", "\n" * 501)])
        self.assertIn("agent/big.cc has 501 lines", problems[0])


if __name__ == "__main__":
    unittest.main()
