"""The same job as Portage's webhook-stripe, written the usual Python way, for
the cold-start comparison in infra/bench/coldstart.py: verify with the official
`stripe` library, deduplicate with Powertools idempotency on DynamoDB, enqueue
to SQS, read the signing secret from Secrets Manager."""
import base64
import json
import os

import boto3
import stripe
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
config = IdempotencyConfig()
sqs = boto3.client("sqs")
secrets = boto3.client("secretsmanager")
_secret = None


def signing_secret():
    global _secret
    if _secret is None:
        value = secrets.get_secret_value(SecretId=os.environ["SECRET_NAME"])["SecretString"]
        _secret = json.loads(value)["webhook_secret"]
    return _secret


@idempotent_function(data_keyword_argument="event_id", persistence_store=persistence, config=config)
def record(event_id):
    message = json.dumps({"provider": "stripe", "event_id": event_id})
    sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=message)
    return {"event_id": event_id}


def handler(event, context):
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    header = (event.get("headers") or {}).get("stripe-signature", "")
    try:
        verified = stripe.Webhook.construct_event(raw, header, signing_secret())
    except (ValueError, stripe.SignatureVerificationError):
        return {"statusCode": 401, "body": json.dumps({"error": "signature_mismatch"})}
    config.register_lambda_context(context)
    record(event_id=verified["id"])
    return {"statusCode": 200, "body": json.dumps({"received": True, "event_id": verified["id"], "duplicate": False})}
