"""The ASGI entry point the server imports in each worker process."""

from web.app import create_app

app = create_app()
