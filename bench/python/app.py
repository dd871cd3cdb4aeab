"""The Python contender's Flask app: what a bring-your-own-container user writes when they follow
AWS's scikit_bring_your_own example (nginx -> gunicorn -> Flask), with numpy doing the forward
pass of a dense model.

The model is the chain of layers that bench/models/dense-weights.ts exported from the same
.onnx file the other contenders serve: $BENCH_MODEL_DIR/manifest.json names each layer's
weight and bias .npy files and its activation.

POST /invocations takes application/json ({"instances": [[...], ...]}) or application/x-npy
(one float32 [rows, features] array) and answers {"predictions": [[...], ...]} as JSON, or the
probabilities as .npy when Accept is application/x-npy. GET /ping answers 200.
"""
import io
import json
import os

import flask
import numpy as np


def load_layers(directory):
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as manifest:
        layers = json.load(manifest)["layers"]
    return [
        (
            np.load(os.path.join(directory, layer["weight"])),
            np.load(os.path.join(directory, layer["bias"])),
            layer["activation"],
        )
        for layer in layers
    ]


LAYERS = load_layers(os.environ["BENCH_MODEL_DIR"])


def forward(rows):
    values = rows
    for weight, bias, activation in LAYERS:
        values = values @ weight + bias
        if activation == "relu":
            np.maximum(values, 0, out=values)
        elif activation == "softmax":
            values = np.exp(values - values.max(axis=1, keepdims=True))
            values /= values.sum(axis=1, keepdims=True)
    return values


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    return flask.Response(response="\n", status=200, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def invocations():
    content_type = flask.request.mimetype
    if content_type == "application/json":
        rows = np.asarray(flask.request.get_json()["instances"], dtype=np.float32)
    elif content_type == "application/x-npy":
        rows = np.load(io.BytesIO(flask.request.get_data()), allow_pickle=False)
    else:
        return flask.Response(response=json.dumps({"error": f"unsupported {content_type}"}), status=415, mimetype="application/json")
    predictions = forward(rows)
    if flask.request.accept_mimetypes.best == "application/x-npy":
        body = io.BytesIO()
        np.save(body, predictions)
        return flask.Response(response=body.getvalue(), status=200, mimetype="application/x-npy")
    return flask.Response(response=json.dumps({"predictions": predictions.tolist()}), status=200, mimetype="application/json")
