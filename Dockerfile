# syntax=docker/dockerfile:1
# tradecore: multi-stage. The builder compiles the Cython kernels into a wheel with a compiler;
# the runtime is python:3.11-slim with the wheel installed, no compiler, running as a non-root
# user. No -march=native: the image must run on hosts other than the one that built it.
#
#   docker build -t tradecore .
#   docker run --rm -p 127.0.0.1:8080:8080 -e TRADECORE_API_TOKEN=... tradecore
#     (paper mode over the bundled recordings, API/dashboard on :8080, keeps serving)
#   docker run --rm tradecore demo          (verify the bundled recordings)
#
# Inside a container the API must listen on 0.0.0.0 to be reachable through the published port,
# so the token is required (the API refuses to start without TRADECORE_API_TOKEN there);
# publish the port on 127.0.0.1 of the host unless a proxy in front terminates TLS.

ARG PYTHON=3.11

FROM python:${PYTHON}-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# build requirements first: this layer is reused while only the sources change
RUN pip install --no-cache-dir "cython>=3.3" "setuptools>=68" wheel
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# the wheel of tradecore (kernels compiled here) and wheels of every dependency, so the
# runtime stage installs offline and needs no compiler
RUN pip wheel --no-cache-dir --no-build-isolation -w /wheels . \
    && python -c "import zipfile, glob; \
names = zipfile.ZipFile(glob.glob('/wheels/tradecore-*.whl')[0]).namelist(); \
assert any(n.startswith('tradecore/_fast/book.') and n.endswith('.so') for n in names), \
'the wheel has no compiled kernels'"

FROM python:${PYTHON}-slim AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPENBLAS_NUM_THREADS=1 \
    NUMBA_CACHE_DIR=/var/cache/tradecore/numba \
    MPLCONFIGDIR=/var/cache/tradecore/matplotlib \
    TRADECORE_HOME=/home/tradecore \
    TRADECORE_JOURNAL_TWIN_DIR=""
# The journal's twin (docs/operations.md) must outlive the process: a container's own /dev/shm
# does not (it goes when the container stops), so the image maps the journal file directly, as
# durable, slower on the order path. Bind a host tmpfs directory (writable by uid 10001) and
# name it in TRADECORE_JOURNAL_TWIN_DIR to get the twin: deploy/docker-compose.yml does so for
# the execution node.
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels tradecore \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 tradecore \
    && useradd --system --uid 10001 --gid tradecore --create-home --home-dir /home/tradecore \
       --shell /usr/sbin/nologin tradecore \
    && mkdir -p /var/cache/tradecore/numba /var/cache/tradecore/matplotlib /home/tradecore/reports \
    && chown -R tradecore:tradecore /var/cache/tradecore /home/tradecore
USER tradecore:tradecore
WORKDIR /home/tradecore
# Numba's cache (JIT output, cache=True) and the reports must be writable by the user; mount
# volumes here to keep them across restarts.
VOLUME ["/var/cache/tradecore", "/home/tradecore/reports"]
EXPOSE 8080
# liveness from /health (Python's urllib: no curl in the slim image). The API answers /health
# without a token for loopback callers only when bound to loopback; in the container it is bound
# to 0.0.0.0, so the check sends the token from the environment.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; r = u.Request('http://127.0.0.1:8080/health', headers={'Authorization': 'Bearer ' + os.environ.get('TRADECORE_API_TOKEN', '')}); sys.exit(0 if u.urlopen(r, timeout=2).status == 200 else 1)"]
ENTRYPOINT ["tradecore"]
CMD ["--log-json", "paper", "--serve", "--host", "0.0.0.0", "--port", "8080"]
