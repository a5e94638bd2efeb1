#!/usr/bin/python3
"""Create Mistral's tables in SQLite (mistral-db-manage upgrade head cannot:
migration 002 alters constraints, which SQLite does not support).
Usage: mistral_sqlite_init.py CONFIG_FILE. Then: mistral-db-manage stamp head.
"""
import sys

from mistral import config
from mistral.db.v2 import api as db_api

config.parse_args(['--config-file', sys.argv[1]])
db_api.setup_db()
