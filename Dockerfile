FROM python:3.12-slim

RUN useradd --create-home --uid 10001 gateway
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY gateway ./gateway
RUN pip install --no-cache-dir -c requirements.lock . && mkdir -p /data && chown gateway /data

USER gateway
ENV GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_STORE_PATH=/data/store.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status != 200)"
CMD ["gateway", "serve"]
