#!/usr/bin/python3
"""Validate Mistral DSL v2 workflow files with python3-mistral's own parser.

The call is the one POST /v2/workflows/validate makes
(mistral.lang.parser.get_workflow_list_spec_from_yaml, validate=True), or
for a workbook (name: and workflows: or actions: at the top) the one of
POST /v2/workbooks/validate (get_workbook_spec_from_yaml).
Prints one JSON line per file: {"file", "valid", "error_type", "error"}.
Run with Debian's /usr/bin/python3.
"""
import json
import sys

import yaml

from mistral import exceptions as exc
from mistral.lang import parser as spec_parser

rc = 0
for f in sys.argv[1:]:
    with open(f) as fh:
        text = fh.read()
    try:
        try:
            doc = yaml.safe_load(text)
        except Exception:
            doc = None
        workbook = (isinstance(doc, dict) and isinstance(doc.get('name'), str)
                    and ('workflows' in doc or 'actions' in doc))
        if workbook:
            spec_parser.get_workbook_spec_from_yaml(text, validate=True)
        else:
            spec_parser.get_workflow_list_spec_from_yaml(text, validate=True)
        print(json.dumps({'file': f, 'valid': True}))
    except exc.DSLParsingException as e:
        rc = 1
        print(json.dumps({'file': f, 'valid': False,
                          'error_type': type(e).__name__,
                          'error': str(e).split('\n')[0]}))
    except Exception as e:  # YAML errors and the like
        rc = 1
        print(json.dumps({'file': f, 'valid': False,
                          'error_type': type(e).__name__,
                          'error': str(e).split('\n')[0]}))
    sys.stdout.flush()
sys.exit(rc)
