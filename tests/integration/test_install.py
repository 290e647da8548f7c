#!/usr/bin/env python3
"""make install and make uninstall into a temporary DESTDIR, and the man page:
mandoc -T lint finds nothing in man/duct.1, and every long flag that
`duct <command> --help` prints is in that command's section of it.

Run: python3 tests/integration/test_install.py
Environment: DUCT_BIN, DUCT_TESTS; see harness.py.
"""

import os
import re
import subprocess
import sys
import tempfile

from harness import REPO, DUCT_BIN, Registry, TestFailure, check, check_eq, main, need_program, run_text, short

tests = Registry()
case = tests.case

MAN = os.path.join(REPO, "man", "duct.1")
COMMANDS = ("serve", "bench", "get", "cat")


def man_text():
    with open(MAN) as f:
        return f.read()


def long_flags(text):
    return set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))


def make(*args):
    # The build of DUCT_BIN is the one to install: make install takes BIN from
    # SAN=1 when the tests run sanitized.
    san = ["SAN=1"] if os.environ.get("DUCT_SANITIZED") == "1" else []
    return subprocess.run(["make", "-s", "-C", REPO] + san + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)


@case()
def man_page_lint():
    """mandoc -T lint -W warning: no warning, no error."""
    need_program("mandoc")
    proc = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", MAN], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30)
    check_eq(proc.stdout.decode().strip(), "", "mandoc -T lint output")
    check_eq(proc.returncode, 0, "mandoc -T lint status")


@case()
def man_page_has_every_flag():
    """Each long flag of `duct CMD --help` has an entry (.It Fl -flag) in the
    section `.Ss duct CMD`; the top-level ones (--help, --version) in the synopsis."""
    text = man_text()
    sections = dict(re.findall(r"^\.Ss duct (\w+)\n(.*?)(?=^\.S[sh] )", text, re.S | re.M))
    missing = []
    for cmd in COMMANDS:
        status, out, err = run_text([DUCT_BIN, cmd, "--help"])
        check_eq(status, 0, "duct %s --help status (%s)" % (cmd, short(err)))
        flags = long_flags(out)
        check(len(flags) >= 5, "duct %s --help lists only %s" % (cmd, sorted(flags)))
        check(cmd in sections, "no section .Ss duct %s in %s" % (cmd, MAN))
        items = "\n".join(l for l in sections.get(cmd, "").splitlines() if l.startswith(".It "))
        documented = set(re.findall(r"\bFl -([a-z][a-z0-9-]*)", items))  # an entry of its own, not a mention
        missing += ["%s --%s" % (cmd, f) for f in sorted(flags - documented)]
    status, out, _ = run_text([DUCT_BIN, "--help"])
    synopsis = text.split(".Sh SYNOPSIS", 1)[1].split(".Sh DESCRIPTION", 1)[0]
    top = set(re.findall(r"\bduct --([a-z][a-z0-9-]*)", out))  # "duct --help | duct --version"
    check(top, "duct --help names no flag of its own: %s" % short(out))
    missing += ["duct --%s" % f for f in sorted(top - set(re.findall(r"\bFl -([a-z-]+)", synopsis)))]
    check(not missing, "flags --help prints but man/duct.1 does not document: %s" % ", ".join(missing))


@case()
def install_and_uninstall():
    """make install into a temporary DESTDIR puts the binary (which runs),
    the man page and the deploy/ examples in place; make uninstall leaves no
    file behind."""
    need_program("make")
    with tempfile.TemporaryDirectory(prefix="duct-install-") as dest:
        proc = make("install", "PREFIX=/opt/duct-test", "DESTDIR=" + dest)
        check_eq(proc.returncode, 0, "make install status (%s)" % short(proc.stdout.decode(), 600))
        root = os.path.join(dest, "opt", "duct-test")
        binary = os.path.join(root, "bin", "duct")
        check(os.access(binary, os.X_OK), "no executable %s" % binary)
        status, out, _ = run_text([binary, "--version"])
        check(status == 0 and out.startswith("duct "), "installed duct --version: %s %s" % (status, short(out)))
        with open(os.path.join(root, "share", "man", "man1", "duct.1")) as f:
            check_eq(f.read(), man_text(), "installed man page")
        doc = os.path.join(root, "share", "doc", "duct")
        for rel in ("deploy/duct.service", "deploy/duct.socket", "README.md", "DEPLOY.md"):
            check(os.path.isfile(os.path.join(doc, rel)), "no %s in %s" % (rel, doc))
        with open(os.path.join(doc, "deploy", "duct.service")) as f:
            check("ExecStart=/opt/duct-test/bin/duct serve" in f.read(), "ExecStart does not name the installed duct")
        proc = make("uninstall", "PREFIX=/opt/duct-test", "DESTDIR=" + dest)
        check_eq(proc.returncode, 0, "make uninstall status (%s)" % short(proc.stdout.decode(), 600))
        left = [os.path.join(d, f) for d, _, files in os.walk(dest) for f in files]
        check_eq(left, [], "files left after make uninstall")
        check(not os.path.exists(doc), "%s left after make uninstall" % doc)


def run_all(suite):
    for test in tests:
        suite.run(test.name, test.fn)


if __name__ == "__main__":
    sys.exit(main("install", run_all))
