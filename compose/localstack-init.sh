#!/bin/sh
# One-shot set-up of the local AWS (LocalStack) that docker-compose.yml starts: the bucket for
# payloads and results, the two notification topics, and a queue subscribed to both so the
# notifications can be read back (aws sqs receive-message). Idempotent: safe to run again.
set -eu
aws="aws --endpoint-url ${AWS_ENDPOINT_URL:-http://localstack:4566} --region ${AWS_REGION:-us-east-1}"

$aws s3api head-bucket --bucket "$BUCKET" 2>/dev/null || $aws s3api create-bucket --bucket "$BUCKET"
success_arn=$($aws sns create-topic --name "$SUCCESS_TOPIC" --query TopicArn --output text)
error_arn=$($aws sns create-topic --name "$ERROR_TOPIC" --query TopicArn --output text)
queue_url=$($aws sqs create-queue --queue-name "$NOTIFICATION_QUEUE" --query QueueUrl --output text)
queue_arn=$($aws sqs get-queue-attributes --queue-url "$queue_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)
for topic in "$success_arn" "$error_arn"; do
  $aws sns subscribe --topic-arn "$topic" --protocol sqs --notification-endpoint "$queue_arn" --attributes RawMessageDelivery=true >/dev/null
done
echo "created s3://$BUCKET, $success_arn, $error_arn and $queue_url"
