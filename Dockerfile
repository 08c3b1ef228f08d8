# The Airbyte way: the connector on top of Airbyte's Python connector base image (Python 3.11, user `airbyte`).
# Keep the default in step with data.connectorBuildOptions.baseImage in metadata.yaml (unit_tests/test_packaging.py
# checks it). Where Docker Hub is out of reach, build with --build-arg BASE_IMAGE=<a local stand-in>.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73
FROM ${BASE_IMAGE}

WORKDIR /airbyte/integration_code

# Installing into the image's Python needs root; the connector itself runs as `airbyte`.
USER root

# The locked dependencies first (a cached layer while only the connector changes), then the connector itself.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md manifest.yaml ./
COPY schemas ./schemas
COPY source_kustomer ./source_kustomer
RUN pip install --no-cache-dir --no-deps .

USER airbyte

ENV AIRBYTE_ENTRYPOINT="source-kustomer"
ENTRYPOINT ["source-kustomer"]
