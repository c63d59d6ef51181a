#!/usr/bin/python3
"""Every metric the Grafana dashboard and the Prometheus rules use exists.

Reads deploy/grafana/*.json (panel targets, template queries) and
deploy/prometheus/*.yml (rule expressions and the unit tests' input series),
collects each sluice_* metric name they mention, and checks that the
daemons' sources register it (a .Name("...") in agent/, controller/ or
platform/). Recording rules (sluice:...) must be defined in the rules.
With --scrape FILE (a /metrics scrape of both daemons, as
tests/deploy/package_test.py saves it), each name must also be in the scrape.
Also checks the dashboard's shape: unique panel ids, a query on every panel,
the datasource taken from the ${datasource} variable.
"""

import argparse
import glob
import json
import os
import re
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "..", ".."))
METRIC = re.compile(r"\bsluice_[a-z0-9_]+\b")
RECORDED = re.compile(r"\bsluice:[a-z0-9_:]+\b")
# Prometheus' own series the rules may use.
BUILTIN = {"up"}


def registered_metrics():
    names = set()
    for part in ("agent", "controller", "platform"):
        for path in glob.glob(os.path.join(ROOT, part, "**", "*.cc"),
                              recursive=True):
            with open(path) as f:
                text = f.read()
                names.update(re.findall(r'\.Name\("([a-z0-9_:]+)"\)', text))
                # Helpers that build and register a family by name.
                names.update(re.findall(
                    r'New(?:Counter|Gauge|Histogram)\(\s*\w+,\s*"([a-z0-9_:]+)"',
                    text))
    return names


def dashboard_expressions(errors):
    exprs = []
    paths = sorted(glob.glob(os.path.join(ROOT, "deploy", "grafana", "*.json")))
    if not paths:
        errors.append("no dashboard in deploy/grafana/")
    for path in paths:
        with open(path) as f:
            dash = json.load(f)
        ids = set()
        for panel in dash["panels"]:
            if panel["id"] in ids:
                errors.append(f"{path}: panel id {panel['id']} used twice")
            ids.add(panel["id"])
            if panel["type"] == "row":
                continue
            targets = [t for t in panel.get("targets", []) if t.get("expr")]
            if not targets:
                errors.append(f"{path}: panel '{panel['title']}' has no query")
            for target in targets:
                if target.get("datasource", {}).get("uid") != "${datasource}":
                    errors.append(f"{path}: '{panel['title']}' does not use "
                                  "the ${datasource} variable")
                exprs.append((f"{path}: {panel['title']}", target["expr"]))
        for variable in dash.get("templating", {}).get("list", []):
            if variable.get("definition"):
                exprs.append((f"{path}: ${variable['name']}",
                              variable["definition"]))
    return exprs


def rule_expressions(errors):
    exprs, recorded = [], set()
    paths = sorted(glob.glob(os.path.join(ROOT, "deploy", "prometheus", "*.yml")))
    if not paths:
        errors.append("no rules in deploy/prometheus/")
    for path in paths:
        with open(path) as f:
            doc = yaml.safe_load(f)
        for group in doc.get("groups", []):
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                exprs.append((f"{path}: {name}", rule["expr"]))
                if "record" in rule:
                    recorded.add(rule["record"])
        for test in doc.get("tests", []):
            for series in test.get("input_series", []):
                exprs.append((f"{path}: test '{test['name']}'", series["series"]))
            for expr_test in test.get("promql_expr_test", []):
                exprs.append((f"{path}: test '{test['name']}'", expr_test["expr"]))
    return exprs, recorded


def scraped_names(path):
    names = set()
    with open(path) as f:
        for line in f:
            match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
            if match and not line.startswith("#"):
                names.add(match.group(1))
    return names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scrape", help="a /metrics scrape to check against")
    args = parser.parse_args()
    errors = []
    registered = registered_metrics()
    if len(registered) < 10:
        errors.append(f"found only {sorted(registered)} registered in the "
                      "sources: has the registration code moved?")
    exprs = dashboard_expressions(errors)
    rules, recorded = rule_expressions(errors)
    exprs += rules
    used = set()
    for where, expr in exprs:
        for name in METRIC.findall(expr):
            used.add(name)
            if name not in registered:
                errors.append(f"{where}: {name} is not a metric the daemons "
                              "export (agent/*_metrics.cc, controller/...)")
        for name in RECORDED.findall(expr):
            if name not in recorded:
                errors.append(f"{where}: recording rule {name} is not defined")
        if "up{" in expr and not re.search(r'job="sluice-(controller|agent)"', expr):
            errors.append(f"{where}: up{{...}} without a sluice job label")
    if len(used) < 8:
        errors.append(f"only {len(used)} metrics used: {sorted(used)}")
    if args.scrape:
        scraped = scraped_names(args.scrape)
        for name in sorted(used - scraped):
            errors.append(f"{name} is used but not in the scrape {args.scrape}")
    for error in errors:
        print("metric_names_test: " + error, file=sys.stderr)
    print(f"metric_names_test: {len(exprs)} expressions, {len(used)} metrics "
          f"used, {len(registered)} registered"
          + (f", checked against {args.scrape}" if args.scrape else "")
          + (": ok" if not errors else f": {len(errors)} errors"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
