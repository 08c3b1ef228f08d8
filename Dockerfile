# The Airbyte way: the connector on top of Airbyte's Python connector base image (Python 3.11, user `airbyte`).
# Keep the default in step with data.connectorBuildOptions.baseImage in metadata.yaml (unit_tests/test_packaging.py
# checks it). Where Docker Hub is out of reach, build with --build-arg BASE_IMAGE=<a local stand-in>.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73
# The Poetry that reads poetry.lock (`make install` uses the same version).
ARG POETRY_VERSION=2.5.1

# poetry.lock's runtime dependencies as a pip requirements file, with their hashes; Poetry stays out of the image.
FROM ${BASE_IMAGE} AS requirements
ARG POETRY_VERSION
USER root
WORKDIR /lock
RUN pip install --no-cache-dir "poetry==${POETRY_VERSION}" "poetry-plugin-export==1.10.1"
COPY pyproject.toml poetry.lock README.md ./
RUN poetry export --only main --format requirements.txt --output requirements.txt

FROM ${BASE_IMAGE}

WORKDIR /airbyte/integration_code

# Installing into the image's Python needs root; the connector itself runs as `airbyte`.
USER root

# The locked dependencies first (a cached layer while only the connector changes), then the connector itself.
COPY --from=requirements /lock/requirements.txt ./
RUN pip install --no-cache-dir --no-deps -r requirements.txt && rm requirements.txt
COPY pyproject.toml README.md manifest.yaml ./
COPY schemas ./schemas
COPY source_kustomer ./source_kustomer
RUN pip install --no-cache-dir --no-deps .

USER airbyte

# What Airbyte's acceptance tests read (test_image_labels): metadata.yaml's dockerRepository and dockerImageTag
# (unit_tests/test_packaging.py checks they agree; airbyte-ci's own build adds the same labels).
LABEL io.airbyte.name="airbyte/source-kustomer"
LABEL io.airbyte.version="1.1.0"

ENV AIRBYTE_ENTRYPOINT="source-kustomer"
ENTRYPOINT ["source-kustomer"]
