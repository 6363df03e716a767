# The tracegraph service. Build: docker build -t tracegraph .
# The scheduler's tabu search is C; the full image has the compiler the slim one lacks.
FROM python:3.11 AS native
WORKDIR /src
COPY Makefile ./
COPY scheduler/csrc ./scheduler/csrc
RUN make scheduler/csrc/libtabu.so

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY graph ./graph
COPY ingest ./ingest
COPY marking ./marking
COPY scheduler ./scheduler
COPY --from=native /src/scheduler/csrc/libtabu.so ./scheduler/csrc/
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["tracegraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
