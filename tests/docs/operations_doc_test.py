#!/usr/bin/python3
"""docs/operations.md's flag tables against the daemons' own --help.

Run by ctest (tests/docs/CMakeLists.txt) as

    /usr/bin/python3 operations_doc_test.py --agent BIN --controller BIN \
        --doc docs/operations.md

Each daemon's `--help` (run with an empty environment, so that it shows
the built-in defaults) lists its flags, each with its environment variable
and default, and the settings read from the environment only. The table
under "### sluice-agent" / "### sluice-controller" in operations.md must
list the same, both ways:
  - every flag of the usage text is a row, and every row's flag is in the
    usage text;
  - a row's env column is the flag's environment variable;
  - a default the usage text shows is in the row's default column (as
    `code`), and a default column that is one `code` value is the default
    the usage text shows;
  - the environment-only settings (rows whose flag column is "—") are the
    same.
The checks themselves are tested first, on texts that disagree.
"""

import argparse
import re
import subprocess
import sys
import unittest

ARGS = None


def usage_of(binary):
    """The --help text of `binary`, run with an empty environment."""
    result = subprocess.run([binary, "--help"], env={}, capture_output=True,
                            text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{binary} --help exited with "
                             f"{result.returncode}: {result.stderr}")
    return result.stdout


def parse_usage(text):
    """({"--flag": (env or None, default or None)}, {env-only variables})."""
    flags, env_only = {}, set()
    section = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.fullmatch(r"[a-z]+:", line):
            section = line[:-1]
            continue
        if section == "flags":
            m = re.fullmatch(r"  (--[a-z0-9-]+)(?: VALUE| N)?", line)
            if m:
                help_line = lines[i + 1] if i + 1 < len(lines) else ""
                env = re.search(r"\(env ([A-Z0-9_]+)\)", help_line)
                default = re.search(r"\[default (.*)\]$", help_line)
                flags[m.group(1)] = (env.group(1) if env else None,
                                     default.group(1) if default else None)
        elif section == "environment":
            m = re.fullmatch(r"  ([A-Z0-9_]+)", line)
            if m:
                env_only.add(m.group(1))
    return flags, env_only


def parse_doc_table(doc, daemon):
    """The same shape as parse_usage, from the table under ### daemon."""
    m = re.search(r"^### " + re.escape(daemon) + r"\n(.*?)(?=^#|\Z)", doc,
                  re.S | re.M)
    if not m:
        raise AssertionError(f"no '### {daemon}' section in the document")
    rows = [line for line in m.group(1).splitlines() if line.startswith("|")]
    flags, env_only = {}, set()
    for row in rows[2:]:  # after the header and the |---| line
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) < 3:
            raise AssertionError(f"a row of the {daemon} table has fewer "
                                 f"than 3 columns: {row}")
        flag, env, default = (c.strip("`") for c in cells[:3])
        if flag == "—":
            env_only.add(env)
        else:
            flags[flag] = (env if env != "—" else None, cells[2])
    return flags, env_only


def disagreements(daemon, usage, doc):
    """What differs between parse_usage() and parse_doc_table() results."""
    (u_flags, u_env), (d_flags, d_env) = usage, doc
    out = []
    for flag in sorted(u_flags.keys() - d_flags.keys()):
        out.append(f"{daemon} {flag} is in --help but not in the table")
    for flag in sorted(d_flags.keys() - u_flags.keys()):
        out.append(f"{daemon} {flag} is in the table but not in --help")
    for flag in sorted(u_flags.keys() & d_flags.keys()):
        (u_var, u_default), (d_var, d_default) = u_flags[flag], d_flags[flag]
        if u_var != d_var:
            out.append(f"{daemon} {flag}: --help says env {u_var}, the "
                       f"table says {d_var}")
        if u_default is not None and f"`{u_default}`" not in d_default:
            out.append(f"{daemon} {flag}: --help says default {u_default}, "
                       f"the table says {d_default}")
        single = re.fullmatch(r"`([^`]*)`", d_default)
        if single and single.group(1) != u_default:
            out.append(f"{daemon} {flag}: the table says default "
                       f"{d_default}, --help says {u_default or 'none'}")
    for var in sorted(u_env - d_env):
        out.append(f"{daemon} {var} is in --help but not in the table")
    for var in sorted(d_env - u_env):
        out.append(f"{daemon} {var} is in the table but not in --help")
    return out


SAMPLE_USAGE = """usage: d [flags]

flags:
  --db VALUE
      database (env SLUICE_DB) [default host=x]
  --ttl N
      lifetime, from 1 to 9 (env SLUICE_TTL) [default 5]
  --insecure
      no keys (env SLUICE_INSECURE)

environment:
  SLUICE_TOKEN
      a token
"""

SAMPLE_DOC = """# Title

### d

| flag | env | default | meaning |
|---|---|---|---|
| `--db` | `SLUICE_DB` | `host=x` | database |
| `--ttl` | `SLUICE_TTL` | `5` | lifetime |
| `--insecure` | `SLUICE_INSECURE` | off | no keys |
| — | `SLUICE_TOKEN` | — | a token |

### other
"""


class ChecksTest(unittest.TestCase):
    """The comparison finds each kind of disagreement."""

    def compare(self, doc):
        return disagreements("d", parse_usage(SAMPLE_USAGE),
                             parse_doc_table(doc, "d"))

    def test_agreeing_texts(self):
        self.assertEqual(self.compare(SAMPLE_DOC), [])

    def test_a_flag_missing_either_way(self):
        doc = SAMPLE_DOC.replace("| `--ttl` | `SLUICE_TTL` | `5` | lifetime |\n",
                                 "| `--new` | `SLUICE_NEW` | off | new |\n")
        self.assertEqual(self.compare(doc), [
            "d --ttl is in --help but not in the table",
            "d --new is in the table but not in --help"])

    def test_wrong_env_and_default(self):
        doc = SAMPLE_DOC.replace("`SLUICE_TTL` | `5`", "`SLUICE_TL` | `6`")
        self.assertEqual(self.compare(doc), [
            "d --ttl: --help says env SLUICE_TTL, the table says SLUICE_TL",
            "d --ttl: --help says default 5, the table says `6`",
            "d --ttl: the table says default `6`, --help says 5"])

    def test_a_default_only_the_table_has(self):
        doc = SAMPLE_DOC.replace("| off | no keys", "| `on` | no keys")
        self.assertEqual(self.compare(doc), [
            "d --insecure: the table says default `on`, --help says none"])

    def test_environment_only_settings(self):
        doc = SAMPLE_DOC.replace("`SLUICE_TOKEN`", "`SLUICE_OTHER`")
        self.assertEqual(self.compare(doc), [
            "d SLUICE_TOKEN is in --help but not in the table",
            "d SLUICE_OTHER is in the table but not in --help"])


class OperationsDocTest(unittest.TestCase):
    """The real document against the real binaries."""

    @classmethod
    def setUpClass(cls):
        with open(ARGS.doc, encoding="utf-8") as f:
            cls.doc = f.read()

    def check(self, daemon, binary):
        usage = parse_usage(usage_of(binary))
        self.assertGreater(len(usage[0]), 3, f"no flags in {daemon} --help")
        problems = disagreements(daemon, usage,
                                 parse_doc_table(self.doc, daemon))
        self.assertEqual(problems, [], f"{ARGS.doc} and {daemon} --help "
                         "disagree:\n  " + "\n  ".join(problems))

    def test_agent(self):
        self.check("sluice-agent", ARGS.agent)

    def test_controller(self):
        self.check("sluice-controller", ARGS.controller)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", required=True,
                        help="the sluice-agent binary")
    parser.add_argument("--controller", required=True,
                        help="the sluice-controller binary")
    parser.add_argument("--doc", required=True, help="docs/operations.md")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
