# tcpladder: docker build -t tcpladder . && docker run -p 8000:8000 -v tcpladder-data:/app/data tcpladder
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e ".[postgres]"
ENV TCPLADDER_DATA_DIR=/app/data
RUN mkdir -p /app/data && chown nobody /app/data
EXPOSE 8000
USER nobody
VOLUME ["/app/data"]
CMD ["tcpladder", "serve", "--host", "0.0.0.0", "--port", "8000"]
