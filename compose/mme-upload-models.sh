#!/bin/sh
# One-shot set-up of the multi-model endpoint that docker-compose.yml starts (profile "mme"): the
# bucket, and one model archive per name in $MODEL_NAMES uploaded under the ModelDataUrl prefix
# (s3://$BUCKET/$PREFIX<name>.tar.gz), each packed from the model folder mounted at $MODEL_SOURCE.
# Each name is then a TargetModel: the first InvokeEndpoint naming it loads it. Idempotent.
set -eu
aws="aws --endpoint-url ${AWS_ENDPOINT_URL:-http://localstack:4566} --region ${AWS_REGION:-us-east-1}"

# The AWS CLI image (Amazon Linux) may come without tar and gzip.
command -v tar >/dev/null 2>&1 && command -v gzip >/dev/null 2>&1 || yum install -y -q tar gzip

$aws s3api head-bucket --bucket "$BUCKET" 2>/dev/null || $aws s3api create-bucket --bucket "$BUCKET"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -czf "$work/model.tar.gz" -C "$MODEL_SOURCE" .
for name in $MODEL_NAMES; do
  $aws s3 cp --only-show-errors "$work/model.tar.gz" "s3://$BUCKET/$PREFIX$name.tar.gz"
  echo "uploaded s3://$BUCKET/$PREFIX$name.tar.gz: TargetModel=$name.tar.gz"
done
