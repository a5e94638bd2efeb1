#!/usr/bin/python3
"""Run mistral-server --server all with the API as a thread, not a fork.

With transport_url = fake:/ the engine, executor and API must share one
process; the stock launcher always forks the API (oslo ProcessLauncher),
which makes every RPC call hang. Run with Debian's /usr/bin/python3.
"""
import sys

from mistral.api import service as api_service
from mistral.cmd import launch


def launch_api_thread():
    launch.launch_thread(api_service.WSGIService('mistral_api'))


launch.LAUNCH_OPTIONS['api'] = launch_api_thread
sys.exit(launch.main())
