# tcpladder: docker build -t tcpladder . && docker run -p 8000:8000 -v tcpladder-data:/data tcpladder
# A regular (non-editable) install: the wheel carries templates/ and static/ as data files.
# The same image runs an analysis worker for the PostgreSQL queue: `tcpladder worker` with
# DATABASE_URL and TCPLADDER_QUEUE=procrastinate (compose.yaml runs web replicas and workers).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
# fonts for the PNG export (resvg draws with the system's fonts): Latin and Chinese
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    fonts-wqy-microhei && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/tcpladder-*.whl)[postgres]" && rm -rf /wheels \
    && useradd --system --home-dir /data tcpladder && mkdir -p /data && chown tcpladder /data
ENV TCPLADDER_DATA_DIR=/data \
    TCPLADDER_WORKERS=2
WORKDIR /data
EXPOSE 8000
USER tcpladder
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["tcpladder", "serve", "--host", "0.0.0.0", "--port", "8000"]
