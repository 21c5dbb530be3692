"""moto's server (as `moto_server` runs it), with DynamoDB requests taken one
at a time.

DynamoDB runs each request in isolation and its transactions serializably:
two `TransactWriteItems` whose conditions read the same item never both
pass on the same value. moto keeps its tables without a lock, so under
concurrent requests two transactions can both see `used <= 9` and both
write. Portage's adapter relies on DynamoDB's isolation (usage caps, keys
counted once, conditional moves), so the tests give moto that isolation:
DynamoDB requests wait for each other; every other service stays
concurrent (SQS long polls must not hold anything up).

    python infra/moto/serve.py HOST PORT
"""
import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    dynamodb = threading.Lock()

    def isolated(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # The whole answer is made under the lock.
                return list(app(environ, start_response))
        return app(environ, start_response)

    run_simple(host, port, isolated, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
