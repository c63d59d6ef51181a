#!/usr/bin/env python3
"""Fails when common/'s own sources use I/O, threads, clocks or exceptions.

common/ is the pure core (docs/LAYOUT.md): no I/O, no clock reads, no
exceptions. The build compiles it with -fno-exceptions and an include root
that holds only common/ (common/CMakeLists.txt); this check covers what the
compiler would accept: standard headers for threads, files, streams and
time, socket headers, clock reads, getenv, printf and friends, and
throw/try/catch written in the source (which -fno-exceptions rejects too,
but only once compiled).

Comments and string literals are ignored, so a comment may say "throw" and a
message may say "time". A finding prints file:line, the rule and the line.

  purity_check.py DIR...     check every .h/.cc under each DIR (exit 1 on a
                             finding, 2 on a usage error)
  purity_check.py --self-test  show that every rule catches its sample and
                             that comments, strings and look-alike names
                             (retry, snprintf, throw_count) pass
"""

import contextlib
import io
import os
import re
import sys
import tempfile

# Headers common/ must not include: (pattern on the header name, why).
BANNED_INCLUDES = [
    (r"thread|mutex|shared_mutex|condition_variable|future|semaphore|latch"
     r"|barrier|stop_token", "threads and locks belong at the edge"),
    (r"fstream|iostream|istream|ostream|sstream|iomanip|streambuf|syncstream"
     r"|spanstream|print", "no iostreams in the core"),
    (r"filesystem|cstdio|stdio\.h|fcntl\.h|unistd\.h|dirent\.h|sys/stat\.h",
     "no file I/O in the core"),
    (r"chrono|ctime|time\.h|sys/time\.h",
     "no clocks in the core: time comes in as nanoseconds (common/clock.h)"),
    (r"sys/socket\.h|sys/un\.h|netinet/.*|arpa/inet\.h|netdb\.h|poll\.h"
     r"|sys/epoll\.h|sys/select\.h", "no sockets in the core"),
    (r"csignal|signal\.h|cstdlib|stdlib\.h",
     "no process environment or signals in the core (getenv, exit)"),
    (r"(zmq|pqxx|cpprest|boost|prometheus|hiredis|gtest)[/.].*|zmq\.hpp",
     "no adapter libraries in the core"),
    (r"(platform|agent|controller|tests)/.*",
     "common/ may include only common/ and the standard library"),
    (r"\.\./.*", "no relative includes that climb out of common/"),
]

# A call of a free function: `f(`, `std::f(` or `::f(`, not a member
# `x.f(` / `x->f(` nor an identifier that merely ends in f.
CALL = r"(?:(?<![\w.>:])|(?<=std::)|(?<=[^:\w]::))"
# The same for POSIX calls, which have no std:: form (std::bind is fine).
POSIX_CALL = r"(?:(?<![\w.>:])|(?<=[^:\w]::))"

# Calls and statements, matched on the code with comments and strings gone.
BANNED_CODE = [
    (r"\b\w+_clock\s*::\s*now\b", "clock read: take `now` as an argument"),
    (CALL + r"(clock_gettime|gettimeofday|timespec_get|time)\s*\(",
     "clock read: take `now` as an argument"),
    (r"\bstd\s*::\s*(this_thread|thread|jthread|mutex|recursive_mutex"
     r"|shared_mutex|timed_mutex|condition_variable|condition_variable_any"
     r"|async|lock_guard|unique_lock|scoped_lock|shared_lock)\b|"
     + POSIX_CALL + r"pthread_\w+\s*\(", "threads and locks belong at the edge"),
    (POSIX_CALL + r"(socket|socketpair|bind|listen|accept|accept4|connect|recv"
     r"|send|sendto|recvfrom|sendmsg|recvmsg|getaddrinfo)\s*\((?!\s*\))"
     r"|\b(AF_INET6?|AF_UNIX|SOCK_STREAM|SOCK_DGRAM)\b",
     "no sockets in the core"),
    (CALL + r"(secure_getenv|getenv|setenv|putenv|unsetenv)\s*\(",
     "no environment reads in the core: pass configuration in"),
    (r"\bthrow\b", "no exceptions in the core: return a Status"),
    (r"\btry\b", "no exceptions in the core: return a Status"),
    (r"\bcatch\b", "no exceptions in the core: return a Status"),
    (r"\bstd\s*::\s*(cout|cerr|clog|cin|wcout|wcerr|ifstream|ofstream"
     r"|fstream|istream|ostream|istringstream|ostringstream|stringstream"
     r"|filesystem)\b", "no iostreams or files in the core"),
    (CALL + r"(printf|fprintf|vprintf|vfprintf|dprintf|puts|fputs|putchar"
     r"|fputc|perror|fopen|fdopen|freopen|fclose|fread|fwrite|fgets|scanf"
     r"|fscanf|system|popen|exit|_Exit|abort|quick_exit)\s*\(",
     "no I/O or process control in the core"),
    (r"\bstd\s*::\s*random_device\b",
     "no entropy reads in the core: take randomness as an argument"),
]

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)


def strip_comments(text):
    """Blanks comments, keeping strings, newlines and column positions."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'" and not is_digit_separator(text, i):
            j = end_of_literal(text, i)
            out.append(text[i:j])
            i = j
        elif text.startswith('R"', i) and (i == 0 or not
                                           (text[i - 1].isalnum() or
                                            text[i - 1] == "_")):
            j = end_of_raw_string(text, i)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def is_digit_separator(text, i):
    """True for the ' in 1'000'000 (C++14), which opens no char literal."""
    return text[i] == "'" and i > 0 and text[i - 1].isalnum()


def end_of_literal(text, i):
    """Index just past the "..." or '...' literal that starts at i."""
    quote = text[i]
    j = i + 1
    while j < len(text) and text[j] != quote and text[j] != "\n":
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, len(text))


def end_of_raw_string(text, i):
    """Index just past the R"delim(...)delim" literal that starts at i."""
    open_paren = text.find("(", i + 2)
    if open_paren < 0:
        return len(text)
    delim = text[i + 2:open_paren]
    close = text.find(")" + delim + '"', open_paren)
    return len(text) if close < 0 else close + len(delim) + 2


def strip_literals(code):
    """Blanks the insides of string and char literals of comment-free code."""
    out = []
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if code.startswith('R"', i) and (i == 0 or not
                                         (code[i - 1].isalnum() or
                                          code[i - 1] == "_")):
            j = end_of_raw_string(code, i)
        elif c in "\"'" and not is_digit_separator(code, i):
            j = end_of_literal(code, i)
        else:
            out.append(c)
            i += 1
            continue
        out.append(c + re.sub(r"[^\n]", " ", code[i + 1:j - 1]) + code[j - 1])
        i = j
    return "".join(out)


def findings(text):
    """(line, rule, line text) for every banned include or call in text."""
    lines = text.split("\n")
    found = []
    code = strip_comments(text)
    for m in INCLUDE_RE.finditer(code):
        name = m.group(2).strip()
        for pattern, why in BANNED_INCLUDES:
            if re.fullmatch(pattern, name):
                line = code.count("\n", 0, m.start()) + 1
                found.append((line, "#include %s%s%s: %s" %
                              (m.group(1), name, ">" if m.group(1) == "<"
                               else '"', why), lines[line - 1].strip()))
                break
    bare = strip_literals(INCLUDE_RE.sub(lambda m: " " * len(m.group(0)),
                                         code))
    for pattern, why in BANNED_CODE:
        for m in re.finditer(pattern, bare):
            line = bare.count("\n", 0, m.start()) + 1
            found.append((line, "%s: %s" % (m.group(0).strip(), why),
                          lines[line - 1].strip()))
    return sorted(found)


def check_dirs(dirs):
    total = 0
    files = 0
    for top in dirs:
        if not os.path.isdir(top):
            print("purity_check: %s is not a directory; give the source "
                  "directory of common/" % top, file=sys.stderr)
            return 2
        for root, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(root, name)
                files += 1
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line, rule, src in findings(f.read()):
                        print("%s:%d: %s\n    %s" % (path, line, rule, src))
                        total += 1
    if files == 0:
        print("purity_check: no .h or .cc files under %s" % " ".join(dirs),
              file=sys.stderr)
        return 2
    if total:
        print("purity_check: %d finding(s) in %d files: common/ is the pure "
              "core (docs/LAYOUT.md); move I/O, threads and clocks to "
              "platform/ or the daemons, return a Status instead of "
              "throwing" % (total, files))
        return 1
    print("purity_check: %d files clean" % files)
    return 0


# Each sample must be caught (and by the rule whose text is given).
CAUGHT = [
    ("#include <thread>", "<thread>"),
    ("#include <mutex>", "<mutex>"),
    ("#  include <shared_mutex>", "<shared_mutex>"),
    ("#include <condition_variable>", "<condition_variable>"),
    ("#include <fstream>", "<fstream>"),
    ("#include <iostream>", "<iostream>"),
    ("#include <sstream>", "<sstream>"),
    ("#include <filesystem>", "<filesystem>"),
    ("#include <cstdio>", "<cstdio>"),
    ("#include <unistd.h>", "<unistd.h>"),
    ("#include <chrono>", "<chrono>"),
    ("#include <ctime>", "<ctime>"),
    ("#include <sys/socket.h>", "<sys/socket.h>"),
    ("#include <netinet/in.h>", "<netinet/in.h>"),
    ("#include <cstdlib>", "<cstdlib>"),
    ("#include <zmq.hpp>", "<zmq.hpp>"),
    ("#include <pqxx/pqxx>", "<pqxx/pqxx>"),
    ('#include "platform/system_clock.h"', '"platform/system_clock.h"'),
    ('#include "agent/server/server.h"', '"agent/server/server.h"'),
    ('#include "controller/controller.h"', '"controller/controller.h"'),
    ('#include "../platform/log.h"', '"../platform/log.h"'),
    ("auto t = std::chrono::steady_clock::now();", "steady_clock::now"),
    ("auto t = std::chrono::system_clock :: now();", "system_clock :: now"),
    ("auto t = high_resolution_clock::now();", "high_resolution_clock::now"),
    ("clock_gettime(CLOCK_MONOTONIC, &ts);", "clock_gettime("),
    ("time_t t = time(nullptr);", "time("),
    ("std::thread worker([] {});", "std::thread"),
    ("std::mutex mu;", "std::mutex"),
    ("std::lock_guard<std::mutex> lock(mu);", "std::lock_guard"),
    ("int fd = socket(AF_INET, SOCK_STREAM, 0);", "socket("),
    ("int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);", "socket("),
    ("pthread_create(&t, nullptr, run, nullptr);", "pthread_create("),
    ("std::this_thread::sleep_for(d);", "std::this_thread"),
    ("auto f = std::async([] {});", "std::async"),
    ("connect(fd, addr, len);", "connect("),
    ("const char* home = getenv(\"HOME\");", "getenv("),
    ("const char* home = std::getenv(\"HOME\");", "getenv("),
    ("throw std::runtime_error(\"no\");", "throw"),
    ("try {", "try"),
    ("} catch (const std::exception& e) {", "catch"),
    ("std::cout << x;", "std::cout"),
    ("std::cerr << x;", "std::cerr"),
    ("std::ofstream out(path);", "std::ofstream"),
    ("std::ostringstream os;", "std::ostringstream"),
    ("std::filesystem::path p;", "std::filesystem"),
    ("printf(\"%d\", x);", "printf("),
    ("std::printf(\"%d\", x);", "printf("),
    ("fprintf(stderr, \"x\");", "fprintf("),
    ("FILE* f = fopen(path, \"r\");", "fopen("),
    ("puts(\"hi\");", "puts("),
    ("std::abort();", "abort("),
    ("std::random_device rd;", "std::random_device"),
]

# None of these may be caught.
CLEAN = [
    "// we never throw, never try, never read std::chrono::steady_clock::now()",
    "/* #include <thread>\n   printf(\"x\"); getenv(\"HOME\") */",
    "return Status::InvalidArgument(\"cannot throw or try; time(nullptr)\");",
    "const char* s = R\"x(std::cout << getenv(\"HOME\"); throw 1;)x\";",
    "char c = '\\'';  int retry = 0;  bool throw_count = false;",
    "int n = snprintf(buf, sizeof buf, \"%d\", x);",
    "uint64_t entry_time = 0;  int64_t now = clock->NowNanos();",
    "int64_t expiry = 1'000'000;  bool connected = true;  // throw",
    "sock.connect(endpoint);  conn->send(a, b);  x.time();  ns::abort();",
    "int64_t now = clock_->now();  auto b = std::bind(f, x);  send();",
    "auto it = index.try_emplace(key);  Read(bytes, &out);",
    "#include <string>\n#include \"common/status.h\"",
    "int time_ms = 0; struct thread_state; using mutex_free = int;",
]


def self_test_dirs():
    """check_dirs fails on a tree with one banned line and passes without."""
    with tempfile.TemporaryDirectory() as top:
        clean = os.path.join(top, "clean.h")
        dirty = os.path.join(top, "sub", "dirty.cc")
        os.makedirs(os.path.dirname(dirty))
        with open(clean, "w") as f:
            f.write("#pragma once\n#include <string>\n")
        with open(dirty, "w") as f:
            f.write("#include <string>\nint F() { throw 1; }\n")
        with contextlib.redirect_stdout(io.StringIO()):
            dirty_rc = check_dirs([top])
            os.remove(dirty)
            clean_rc = check_dirs([top])
    if (dirty_rc, clean_rc) != (1, 0):
        print("self-test: a tree with a banned line gave exit %d (want 1), "
              "without it %d (want 0)" % (dirty_rc, clean_rc))
        return 1
    return 0


def self_test():
    failures = 0
    for sample, expect in CAUGHT:
        got = findings(sample)
        if not any(expect in rule for _, rule, _ in got):
            print("self-test: NOT caught: %r (expected a finding naming %r; "
                  "got %r)" % (sample, expect, got))
            failures += 1
    for sample in CLEAN:
        got = findings(sample)
        if got:
            print("self-test: false finding in %r: %r" % (sample, got))
            failures += 1
    failures += self_test_dirs()
    if failures:
        print("self-test: %d failure(s)" % failures)
        return 1
    print("self-test: %d banned samples caught, %d clean samples pass" %
          (len(CAUGHT), len(CLEAN)))
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if not argv or any(a.startswith("-") for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    return check_dirs(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
