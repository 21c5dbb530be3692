"""A minimal Lambda runtime loop for handler.py, over the Runtime API with
urllib: the measured Python path (awslambdaric 4.2.2's native client hung
against the benchmark's Runtime API server, see coldstart.py)."""
import json
import os
import time
import urllib.request

import handler

API = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self._deadline = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline - int(time.time() * 1000))


while True:
    with urllib.request.urlopen(API + "/invocation/next") as response:
        context = Context(response.headers)
        event = json.loads(response.read())
    result = handler.handler(event, context)
    body = json.dumps(result).encode()
    request = urllib.request.Request(API + "/invocation/%s/response" % context.aws_request_id, data=body, method="POST")
    urllib.request.urlopen(request).read()
