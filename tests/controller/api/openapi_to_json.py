#!/usr/bin/python3
"""Prints docs/openapi.yaml (or the file named) as JSON, for openapi_test.cc.

Stricter than yaml.safe_load: a key given twice in one mapping (two `get:`
under one path would otherwise hide the first) is an error. Values YAML
reads as dates are written as strings. Exit status 2 and a message on
stderr when the file cannot be read or is not valid YAML.

Needs /usr/bin/python3 with PyYAML (Debian package python3-yaml).
"""
import json
import sys

import yaml


class StrictLoader(yaml.SafeLoader):
    pass


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "key %r appears twice in one mapping; keep one" % (key,),
                key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: openapi_to_json.py FILE.yaml\n")
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            doc = yaml.load(f, Loader=StrictLoader)
    except (OSError, yaml.YAMLError) as e:
        sys.stderr.write("%s: %s\n" % (argv[1], e))
        return 2
    json.dump(doc, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
