# The tracegraph service. Build: docker build -t tracegraph .
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY graph ./graph
COPY ingest ./ingest
COPY marking ./marking
COPY scheduler ./scheduler
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["tracegraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
