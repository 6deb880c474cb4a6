# Descent: build a virtualenv in one stage, run it as a non-root user in a slim one.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY core ./core
COPY service ./service
COPY api ./api
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DESCENT_STORE_URL=sqlite:////data/descent.db \
    WEB_CONCURRENCY=2 \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/descent-metrics \
    OPENBLAS_NUM_THREADS=1
RUN groupadd --gid 10001 descent \
    && useradd --create-home --uid 10001 --gid 10001 descent \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /home/descent
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"]
# uvicorn takes its worker count from WEB_CONCURRENCY; the workers add up their metrics in
# PROMETHEUS_MULTIPROC_DIR, emptied at every start. The app writes a JSON access log line per
# request, so uvicorn's own access log is off.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec uvicorn api.main:app --host 0.0.0.0 --port \"$PORT\" --timeout-graceful-shutdown 30 --no-access-log"]
